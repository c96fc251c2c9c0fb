//! Element declarations, particles (sequence, choice, all, group references, wildcards) and
//! named model groups. Particles are kept as trees of element ids here; `finish` turns them into
//! automata once substitution groups are known.

use super::{Compiler, is_true, loader::parse_derivations, occurs};
use crate::error::CompileError;
use crate::model::{
    ANY_TYPE, Derivations, ElemId, ElementDecl, NsConstraint, ProcessContents, TypeRef, Wildcard,
};
use crate::names::{NsId, QName};
use crate::schema_doc::Node;
use crate::xmlchar;

#[derive(Debug, Clone)]
pub(crate) struct RawParticle {
    pub(crate) min: u32,
    pub(crate) max: Option<u32>,
    pub(crate) term: RawTerm,
}

#[derive(Debug, Clone)]
pub(crate) enum RawTerm {
    Element(ElemId),
    Wildcard(Wildcard),
    Sequence(Vec<RawParticle>),
    Choice(Vec<RawParticle>),
    All(Vec<RawParticle>),
}

/// The content of `xs:anyType`: any number of any elements, validated laxly.
pub(crate) fn any_type_particle() -> RawParticle {
    RawParticle {
        min: 0,
        max: None,
        term: RawTerm::Wildcard(Wildcard {
            ns: NsConstraint::Any,
            process: ProcessContents::Lax,
        }),
    }
}

/// Whether a particle is "empty" in the sense of XSD 1.0 3.4.2 (no content at all).
pub(crate) fn is_empty(p: &RawParticle) -> bool {
    p.max == Some(0)
        || match &p.term {
            RawTerm::Sequence(v) | RawTerm::All(v) => v.is_empty(),
            RawTerm::Choice(v) => v.is_empty() && p.min == 0,
            _ => false,
        }
}

const IDENTITY_CONSTRAINTS: [&str; 3] = ["unique", "key", "keyref"];

impl<'d> Compiler<'d> {
    /// Compiles a top-level element declaration (once).
    pub(super) fn global_element(
        &mut self,
        doc: usize,
        node: &'d Node,
        name: &QName,
    ) -> Result<ElemId, CompileError> {
        if let Some(id) = self.element_memo.get(name) {
            return Ok(*id);
        }
        if !self.element_progress.insert(name.clone()) {
            return Err(self.invalid(
                doc,
                node,
                format!("circular substitution group at {}", self.clark(name)),
            ));
        }
        let id = self.element_decl(doc, node, name.clone(), true)?;
        self.element_progress.remove(name);
        self.element_memo.insert(name.clone(), id);
        Ok(id)
    }

    /// Resolves a `ref` or `substitutionGroup` to a global element.
    fn element_ref(
        &mut self,
        doc: usize,
        node: &'d Node,
        value: &str,
    ) -> Result<ElemId, CompileError> {
        let q = self.resolve_qname(doc, node, value)?;
        let Some(&(edoc, enode)) = self.index.elements.get(&q) else {
            return Err(CompileError::Unresolved {
                at: self.at(doc, node),
                kind: "element",
                name: self.clark(&q),
            });
        };
        self.global_element(edoc, enode, &q)
    }

    fn element_decl(
        &mut self,
        doc: usize,
        node: &'d Node,
        name: QName,
        global: bool,
    ) -> Result<ElemId, CompileError> {
        let mut anonymous = None;
        for child in node.xs_children() {
            match &*child.local {
                "simpleType" | "complexType" if anonymous.is_none() => anonymous = Some(child),
                c if IDENTITY_CONSTRAINTS.contains(&c) => {
                    return Err(self.unsupported(
                        doc,
                        child,
                        format!("identity constraint xs:{c}"),
                    ));
                }
                c => {
                    return Err(self.invalid(
                        doc,
                        child,
                        format!("unexpected xs:{c} in xs:element"),
                    ));
                }
            }
        }
        let subst_head = match node.attr("substitutionGroup") {
            Some(v) if global => Some(self.element_ref(doc, node, v)?),
            Some(_) => return Err(self.invalid(doc, node, "substitutionGroup on a local element")),
            None => None,
        };
        let ty = match (node.attr("type"), anonymous) {
            (Some(_), Some(_)) => {
                return Err(self.invalid(
                    doc,
                    node,
                    "element has both a type attribute and an anonymous type",
                ));
            }
            (Some(t), None) => {
                let q = self.resolve_qname(doc, node, t)?;
                self.resolve_type(doc, node, &q)?
            }
            (None, Some(child)) if child.is_xs("complexType") => {
                TypeRef::Complex(self.complex_header(doc, child, None)?)
            }
            (None, Some(child)) => TypeRef::Simple(self.simple_type(doc, child, None)?),
            (None, None) => match subst_head {
                Some(head) => self.set.element(head).ty,
                None => TypeRef::Complex(ANY_TYPE),
            },
        };
        if !global && node.attr("abstract").is_some() {
            return Err(self.invalid(doc, node, "abstract on a local element"));
        }
        let block = match node.attr("block") {
            Some(v) => parse_derivations(v),
            None => self.doc(doc).block_default,
        };
        let block = Derivations(
            block.0
                & (Derivations::EXTENSION | Derivations::RESTRICTION | Derivations::SUBSTITUTION),
        );
        let final_ = match node.attr("final") {
            Some(v) => parse_derivations(v),
            None => self.doc(doc).final_default,
        };
        let final_ = Derivations(final_.0 & (Derivations::EXTENSION | Derivations::RESTRICTION));
        let decl = ElementDecl {
            name,
            ty,
            nillable: is_true(node.attr("nillable")),
            is_abstract: is_true(node.attr("abstract")),
            constraint: None,
            block,
            final_,
            subst_head,
        };
        let id = self.push_element(decl);
        if node.attr("default").is_some() || node.attr("fixed").is_some() {
            self.element_constraints.push((id, doc, node));
        }
        Ok(id)
    }

    /// An `xs:element` inside a model group: a reference or a local declaration.
    fn local_element(&mut self, doc: usize, node: &'d Node) -> Result<RawParticle, CompileError> {
        let (min, max) = occurs(self, doc, node)?;
        let id = if let Some(r) = node.attr("ref") {
            if node.attr("name").is_some() || node.attr("type").is_some() {
                return Err(self.invalid(doc, node, "element reference with name or type"));
            }
            self.element_ref(doc, node, r)?
        } else {
            let local = node
                .attr("name")
                .ok_or_else(|| self.invalid(doc, node, "local element without name or ref"))?;
            if !xmlchar::is_ncname(local) {
                return Err(self.invalid(doc, node, format!("name {local:?} is not an NCName")));
            }
            let qualified = match node.attr("form") {
                Some("qualified") => true,
                Some("unqualified") => false,
                Some(other) => return Err(self.invalid(doc, node, format!("form={other:?}"))),
                None => self.doc(doc).element_qualified,
            };
            let ns = if qualified { self.tns(doc) } else { NsId::NONE };
            self.element_decl(doc, node, QName::new(ns, local), false)?
        };
        Ok(RawParticle {
            min,
            max,
            term: RawTerm::Element(id),
        })
    }

    /// Compiles a particle: element, sequence, choice, all, group reference or any.
    pub(super) fn particle(
        &mut self,
        doc: usize,
        node: &'d Node,
    ) -> Result<RawParticle, CompileError> {
        match &*node.local {
            "element" => self.local_element(doc, node),
            "sequence" | "choice" | "all" => {
                let (min, max) = occurs(self, doc, node)?;
                let mut items = Vec::new();
                for child in node.xs_children() {
                    if &*node.local == "all" && !child.is_xs("element") {
                        return Err(self.invalid(doc, child, "xs:all may contain only elements"));
                    }
                    items.push(self.particle(doc, child)?);
                }
                let term = match &*node.local {
                    "sequence" => RawTerm::Sequence(items),
                    "choice" => RawTerm::Choice(items),
                    _ => {
                        if min > 1 || max != Some(1) {
                            return Err(self.invalid(
                                doc,
                                node,
                                "xs:all must have minOccurs 0 or 1 and maxOccurs 1",
                            ));
                        }
                        RawTerm::All(items)
                    }
                };
                Ok(RawParticle { min, max, term })
            }
            "group" => {
                let (min, max) = occurs(self, doc, node)?;
                let r = node
                    .attr("ref")
                    .ok_or_else(|| self.invalid(doc, node, "xs:group reference without ref"))?;
                let q = self.resolve_qname(doc, node, r)?;
                let Some(&(gdoc, gnode)) = self.index.groups.get(&q) else {
                    return Err(CompileError::Unresolved {
                        at: self.at(doc, node),
                        kind: "group",
                        name: self.clark(&q),
                    });
                };
                let def = self.model_group(gdoc, gnode, &q)?;
                Ok(RawParticle {
                    min,
                    max,
                    term: def.term,
                })
            }
            "any" => {
                let (min, max) = occurs(self, doc, node)?;
                Ok(RawParticle {
                    min,
                    max,
                    term: RawTerm::Wildcard(self.wildcard(doc, node)?),
                })
            }
            other => Err(self.unsupported(doc, node, format!("xs:{other} as a particle"))),
        }
    }

    /// A named model group (`xs:group name=...`), compiled once.
    pub(super) fn model_group(
        &mut self,
        doc: usize,
        node: &'d Node,
        name: &QName,
    ) -> Result<RawParticle, CompileError> {
        if let Some(p) = self.group_memo.get(name) {
            return Ok(p.clone());
        }
        if !self.group_progress.insert(name.clone()) {
            return Err(self.invalid(
                doc,
                node,
                format!("circular model group {}", self.clark(name)),
            ));
        }
        let mut children = node.xs_children();
        let def = match (children.next(), children.next()) {
            (Some(d), None) if matches!(&*d.local, "sequence" | "choice" | "all") => d,
            _ => {
                return Err(self.invalid(
                    doc,
                    node,
                    "xs:group must contain one sequence, choice or all",
                ));
            }
        };
        if def.attr("minOccurs").is_some() || def.attr("maxOccurs").is_some() {
            return Err(self.invalid(
                doc,
                def,
                "occurrence bounds inside a model group definition",
            ));
        }
        let p = self.particle(doc, def)?;
        self.group_progress.remove(name);
        self.group_memo.insert(name.clone(), p.clone());
        Ok(p)
    }

    /// `xs:any` or `xs:anyAttribute`.
    pub(super) fn wildcard(&mut self, doc: usize, node: &Node) -> Result<Wildcard, CompileError> {
        let process = match node.attr("processContents").map(str::trim) {
            None | Some("strict") => ProcessContents::Strict,
            Some("lax") => ProcessContents::Lax,
            Some("skip") => ProcessContents::Skip,
            Some(other) => {
                return Err(self.invalid(doc, node, format!("processContents={other:?}")));
            }
        };
        let tns = self.tns(doc);
        let spec = node.attr("namespace").unwrap_or("##any").trim().to_owned();
        let ns = match spec.as_str() {
            "##any" => NsConstraint::Any,
            "##other" => NsConstraint::Not(tns),
            list => {
                let mut set = Vec::new();
                for token in list.split_whitespace() {
                    let id = match token {
                        "##targetNamespace" => tns,
                        "##local" => NsId::NONE,
                        t if t.starts_with("##") => {
                            return Err(self.invalid(doc, node, format!("namespace token {t:?}")));
                        }
                        uri => self.set.ns.intern(uri),
                    };
                    if !set.contains(&id) {
                        set.push(id);
                    }
                }
                NsConstraint::Set(set)
            }
        };
        Ok(Wildcard { ns, process })
    }
}
