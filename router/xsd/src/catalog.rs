//! A subset of OASIS XML Catalogs 1.1: the entries that map schema locations to local files.
//!
//! Supported: `system`, `uri`, `rewriteSystem`, `rewriteURI`, `systemSuffix`, `uriSuffix`,
//! `group`, `nextCatalog` and `xml:base`. Other entries (`public`, `delegate*`) are refused when
//! the catalog is loaded, so a catalog never silently does less than it says. Imports are
//! resolved only through the catalog or relative paths; the network is never used.

use std::path::{Path, PathBuf};

use crate::error::{CompileError, Location};
use crate::names::XML;
use crate::schema_doc::{self, Node};

const CATALOG_NS: &str = "urn:oasis:names:tc:entity:xmlns:xml:catalog";

#[derive(Debug, Clone)]
enum Entry {
    /// Exact identifier → target.
    Exact(String, PathBuf),
    /// Identifier prefix → replacement prefix (a directory or URI prefix).
    Rewrite(String, String),
    /// Identifier suffix → target.
    Suffix(String, PathBuf),
}

/// An OASIS XML catalog (subset), loaded from a file. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<Entry>,
    files: Vec<PathBuf>,
}

impl Catalog {
    /// Loads a catalog file (and the catalogs it chains with `nextCatalog`).
    pub fn load(path: &Path) -> Result<Catalog, CompileError> {
        let mut catalog = Catalog::default();
        catalog.load_into(path, 0)?;
        Ok(catalog)
    }

    /// The catalogs named in `XML_CATALOG_FILES` (space-separated, as libxml2 reads it), so the
    /// CLI can mirror `xmllint`'s behaviour. None when the variable is unset or empty.
    pub fn from_env() -> Result<Option<Catalog>, CompileError> {
        let Some(value) = std::env::var_os("XML_CATALOG_FILES") else {
            return Ok(None);
        };
        let value = value.to_string_lossy().into_owned();
        let mut catalog = Catalog::default();
        let mut any = false;
        for file in value.split_whitespace() {
            let file = file.strip_prefix("file://").unwrap_or(file);
            catalog.load_into(Path::new(file), 0)?;
            any = true;
        }
        Ok(any.then_some(catalog))
    }

    /// The files this catalog was read from.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Maps a system identifier or URI to a local file, if the catalog has an entry for it.
    pub fn resolve(&self, id: &str) -> Option<PathBuf> {
        for e in &self.entries {
            if let Entry::Exact(from, to) = e
                && from == id
            {
                return Some(to.clone());
            }
        }
        // Longest matching rewrite prefix wins, as the OASIS specification says.
        let rewrite = self
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Rewrite(prefix, to) if id.starts_with(prefix.as_str()) => {
                    Some((prefix.len(), to))
                }
                _ => None,
            })
            .max_by_key(|(len, _)| *len);
        if let Some((len, to)) = rewrite {
            let rest = id.get(len..).unwrap_or("");
            return Some(uri_to_path(&format!("{to}{rest}")));
        }
        self.entries
            .iter()
            .filter_map(|e| match e {
                Entry::Suffix(suffix, to) if id.ends_with(suffix.as_str()) => {
                    Some((suffix.len(), to))
                }
                _ => None,
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, to)| to.clone())
    }

    fn load_into(&mut self, path: &Path, depth: usize) -> Result<(), CompileError> {
        if depth > 16 {
            return Err(CompileError::Invalid {
                at: Location::new(path, 0, 0),
                message: "nextCatalog chain deeper than 16 (a loop?)".into(),
            });
        }
        let bytes = std::fs::read(path).map_err(|source| CompileError::Io {
            path: path.to_owned(),
            source,
        })?;
        let root = schema_doc::parse(path, &bytes, true)?;
        if &*root.ns != CATALOG_NS || &*root.local != "catalog" {
            return Err(CompileError::Invalid {
                at: root.location(path),
                message: "document element is not an OASIS catalog".into(),
            });
        }
        self.files.push(path.to_owned());
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.entries_of(path, &root, &base, depth)
    }

    fn entries_of(
        &mut self,
        file: &Path,
        node: &Node,
        base: &Path,
        depth: usize,
    ) -> Result<(), CompileError> {
        let base = match xml_base(node) {
            Some(b) => base.join(b),
            None => base.to_path_buf(),
        };
        for child in node.children.iter().filter(|c| &*c.ns == CATALOG_NS) {
            let at = || child.location(file);
            let need = |name: &str| {
                child.attr(name).ok_or_else(|| CompileError::Invalid {
                    at: at(),
                    message: format!("catalog entry {} lacks attribute {name}", child.local),
                })
            };
            let child_base = match xml_base(child) {
                Some(b) => base.join(b),
                None => base.clone(),
            };
            let target = |v: &str| resolve_target(&child_base, v);
            match &*child.local {
                "system" => {
                    let to = target(need("uri")?);
                    self.entries
                        .push(Entry::Exact(need("systemId")?.to_owned(), to));
                }
                "uri" => {
                    let to = target(need("uri")?);
                    self.entries
                        .push(Entry::Exact(need("name")?.to_owned(), to));
                }
                "rewriteSystem" => {
                    let to = rewrite_prefix(&child_base, need("rewritePrefix")?);
                    self.entries
                        .push(Entry::Rewrite(need("systemIdStartString")?.to_owned(), to));
                }
                "rewriteURI" => {
                    let to = rewrite_prefix(&child_base, need("rewritePrefix")?);
                    self.entries
                        .push(Entry::Rewrite(need("uriStartString")?.to_owned(), to));
                }
                "systemSuffix" => {
                    let to = target(need("uri")?);
                    self.entries
                        .push(Entry::Suffix(need("systemIdSuffix")?.to_owned(), to));
                }
                "uriSuffix" => {
                    let to = target(need("uri")?);
                    self.entries
                        .push(Entry::Suffix(need("uriSuffix")?.to_owned(), to));
                }
                "group" => self.entries_of(file, child, &child_base, depth)?,
                "nextCatalog" => {
                    let next = target(need("catalog")?);
                    self.load_into(&next, depth + 1)?;
                }
                other => {
                    return Err(CompileError::Unsupported {
                        at: at(),
                        construct: format!("catalog entry {other}"),
                    });
                }
            }
        }
        Ok(())
    }
}

fn xml_base(node: &Node) -> Option<&str> {
    node.attrs
        .iter()
        .find(|a| &*a.ns == XML && &*a.local == "base")
        .map(|a| a.value.as_str())
}

fn uri_to_path(uri: &str) -> PathBuf {
    PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri))
}

fn resolve_target(base: &Path, uri: &str) -> PathBuf {
    let p = uri_to_path(uri);
    if p.is_absolute() { p } else { base.join(p) }
}

fn rewrite_prefix(base: &Path, prefix: &str) -> String {
    let p = uri_to_path(prefix);
    let joined = if p.is_absolute() { p } else { base.join(p) };
    let mut s = joined.to_string_lossy().into_owned();
    if prefix.ends_with('/') && !s.ends_with('/') {
        s.push('/');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_system_uri_and_rewrite_entries_relative_to_the_catalog() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("catalog.xml");
        std::fs::write(
            &path,
            r#"<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <system systemId="http://x/a.xsd" uri="local/a.xsd"/>
  <uri name="urn:b" uri="b.xsd"/>
  <rewriteSystem systemIdStartString="https://y/" rewritePrefix="mirror/"/>
</catalog>"#,
        )
        .expect("write");
        let c = Catalog::load(&path).expect("loads");
        assert_eq!(
            c.resolve("http://x/a.xsd"),
            Some(dir.path().join("local/a.xsd"))
        );
        assert_eq!(c.resolve("urn:b"), Some(dir.path().join("b.xsd")));
        assert_eq!(
            c.resolve("https://y/z/c.xsd"),
            Some(PathBuf::from(format!(
                "{}/mirror/z/c.xsd",
                dir.path().display()
            )))
        );
        assert_eq!(c.resolve("http://elsewhere/"), None);
    }

    #[test]
    fn refuses_catalog_entries_it_does_not_implement() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("catalog.xml");
        std::fs::write(
            &path,
            r#"<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <public publicId="-//X//EN" uri="x.dtd"/>
</catalog>"#,
        )
        .expect("write");
        let err = Catalog::load(&path).expect_err("refused");
        assert!(
            matches!(err, CompileError::Unsupported { ref construct, .. } if construct == "catalog entry public")
        );
    }
}
