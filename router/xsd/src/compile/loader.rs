//! Loads a root schema document and everything it includes and imports.
//!
//! Locations are resolved through the catalog first, then as `file:` URIs or paths relative to
//! the including document. Any other absolute URI is an error: the validator never touches the
//! network. Each (file, target namespace) pair is loaded once, so diamonds and cycles of
//! includes are harmless. A no-namespace document included into a namespace (a "chameleon"
//! include) takes on the includer's namespace.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};

use crate::catalog::Catalog;
use crate::error::{CompileError, Location};
use crate::model::Derivations;
use crate::schema_doc::{self, Node};

/// One loaded schema document.
#[derive(Debug)]
pub(crate) struct Doc {
    pub(crate) path: PathBuf,
    pub(crate) root: Node,
    /// The effective target namespace ("" for none).
    pub(crate) tns: String,
    /// Included without a target namespace into `tns`: unqualified references mean `tns`.
    pub(crate) chameleon: bool,
    pub(crate) element_qualified: bool,
    pub(crate) attribute_qualified: bool,
    pub(crate) block_default: Derivations,
    pub(crate) final_default: Derivations,
}

impl Doc {
    pub(crate) fn at(&self, node: &Node) -> Location {
        node.location(&self.path)
    }
}

enum Expect {
    Root,
    Include(String),
    Import(String),
}

pub(crate) fn load(root: &Path, catalog: Option<&Catalog>) -> Result<Vec<Doc>, CompileError> {
    let mut docs = Vec::new();
    let mut seen: HashSet<(PathBuf, String)> = HashSet::new();
    let mut queue: VecDeque<(PathBuf, Expect, Option<Location>)> = VecDeque::new();
    queue.push_back((root.to_path_buf(), Expect::Root, None));
    while let Some((path, expect, from)) = queue.pop_front() {
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if let Expect::Include(ns) | Expect::Import(ns) = &expect
            && seen.contains(&(canonical.clone(), ns.clone()))
        {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|source| match &from {
            Some(at) => CompileError::Location {
                at: at.clone(),
                location: path.display().to_string(),
                reason: format!("cannot read {}: {source}", path.display()),
            },
            None => CompileError::Io {
                path: path.clone(),
                source,
            },
        })?;
        let node = schema_doc::parse(&path, &bytes, true)?;
        if !node.is_xs("schema") {
            return Err(CompileError::Invalid {
                at: node.location(&path),
                message: "document element is not xs:schema".into(),
            });
        }
        let declared = node.attr("targetNamespace").unwrap_or("").to_owned();
        let (tns, chameleon) = match &expect {
            Expect::Root => (declared, false),
            Expect::Include(ns) if declared.is_empty() && !ns.is_empty() => (ns.clone(), true),
            Expect::Include(ns) | Expect::Import(ns) if *ns != declared => {
                let what = if matches!(expect, Expect::Include(_)) {
                    "included"
                } else {
                    "imported"
                };
                return Err(CompileError::Invalid {
                    at: from.unwrap_or_else(|| node.location(&path)),
                    message: format!(
                        "{what} document {} has targetNamespace {declared:?}, expected {ns:?}",
                        path.display()
                    ),
                });
            }
            _ => (declared, false),
        };
        if !seen.insert((canonical, tns.clone())) {
            continue;
        }
        for child in node.xs_children() {
            let at = || child.location(&path);
            match &*child.local {
                "include" => {
                    let loc =
                        child
                            .attr("schemaLocation")
                            .ok_or_else(|| CompileError::Invalid {
                                at: at(),
                                message: "xs:include without schemaLocation".into(),
                            })?;
                    let target = resolve_location(&path, loc, catalog).map_err(|reason| {
                        CompileError::Location {
                            at: at(),
                            location: loc.into(),
                            reason,
                        }
                    })?;
                    queue.push_back((target, Expect::Include(tns.clone()), Some(at())));
                }
                "import" => {
                    let ns = child.attr("namespace").unwrap_or("").to_owned();
                    if ns == tns {
                        return Err(CompileError::Invalid {
                            at: at(),
                            message: "xs:import of the document's own target namespace".into(),
                        });
                    }
                    if let Some(loc) = child.attr("schemaLocation") {
                        let target = resolve_location(&path, loc, catalog).map_err(|reason| {
                            CompileError::Location {
                                at: at(),
                                location: loc.into(),
                                reason,
                            }
                        })?;
                        queue.push_back((target, Expect::Import(ns), Some(at())));
                    }
                }
                "redefine" => {
                    return Err(CompileError::Unsupported {
                        at: at(),
                        construct: "xs:redefine".into(),
                    });
                }
                "override" => {
                    return Err(CompileError::Unsupported {
                        at: at(),
                        construct: "xs:override (XSD 1.1)".into(),
                    });
                }
                _ => {}
            }
        }
        let derivs = |name: &str| parse_derivations(node.attr(name).unwrap_or(""));
        let doc = Doc {
            element_qualified: node.attr("elementFormDefault") == Some("qualified"),
            attribute_qualified: node.attr("attributeFormDefault") == Some("qualified"),
            block_default: derivs("blockDefault"),
            final_default: derivs("finalDefault"),
            path: path.clone(),
            root: node,
            tns,
            chameleon,
        };
        docs.push(doc);
    }
    Ok(docs)
}

/// `#all` or a list of `extension restriction substitution list union`.
pub(crate) fn parse_derivations(value: &str) -> Derivations {
    let mut d = 0u8;
    for token in value.split_whitespace() {
        d |= match token {
            "#all" => {
                Derivations::EXTENSION
                    | Derivations::RESTRICTION
                    | Derivations::SUBSTITUTION
                    | Derivations::LIST
                    | Derivations::UNION
            }
            "extension" => Derivations::EXTENSION,
            "restriction" => Derivations::RESTRICTION,
            "substitution" => Derivations::SUBSTITUTION,
            "list" => Derivations::LIST,
            "union" => Derivations::UNION,
            _ => 0,
        };
    }
    Derivations(d)
}

fn has_scheme(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Maps a `schemaLocation` to a local file, or says why it cannot.
fn resolve_location(
    from: &Path,
    location: &str,
    catalog: Option<&Catalog>,
) -> Result<PathBuf, String> {
    if let Some(path) = catalog.and_then(|c| c.resolve(location)) {
        return existing(path);
    }
    if let Some(rest) = location.strip_prefix("file://") {
        return existing(PathBuf::from(rest));
    }
    if has_scheme(location) {
        return Err(match catalog {
            Some(_) => "not in the catalog, and network access is disabled".into(),
            None => "absolute URI without a catalog, and network access is disabled".into(),
        });
    }
    let base = from.parent().unwrap_or_else(|| Path::new(""));
    existing(base.join(location))
}

fn existing(path: PathBuf) -> Result<PathBuf, String> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} does not exist", path.display()))
    }
}
