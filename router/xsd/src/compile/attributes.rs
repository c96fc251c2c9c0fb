//! Attribute declarations (global and local), attribute groups and attribute wildcards,
//! including the wildcard union and intersection of XSD 1.0 3.10.6.

use super::Compiler;
use crate::error::CompileError;
use crate::model::{AttributeUse, NsConstraint, SimpleTypeId, ValueConstraint, Wildcard};
use crate::names::{NsId, QName};
use crate::schema_doc::Node;
use crate::types::builtin::Builtin;
use crate::types::simple::validate;
use crate::xmlchar;

/// The attributes a definition contributes: uses, names it prohibits, complete wildcard.
#[derive(Debug, Clone, Default)]
pub(crate) struct AttrSet {
    pub(crate) uses: Vec<AttributeUse>,
    pub(crate) prohibited: Vec<QName>,
    pub(crate) wildcard: Option<Wildcard>,
}

impl<'d> Compiler<'d> {
    /// The attribute declarations, attribute group references and attribute wildcard among the
    /// children of `node`.
    pub(super) fn attr_set(&mut self, doc: usize, node: &'d Node) -> Result<AttrSet, CompileError> {
        let mut set = AttrSet::default();
        let mut local_wildcard = None;
        let mut group_wildcards: Vec<Wildcard> = Vec::new();
        for child in node.xs_children() {
            match &*child.local {
                "attribute" => match self.local_attribute(doc, child)? {
                    Ok(u) => {
                        if set.uses.iter().any(|x| x.name == u.name) {
                            return Err(self.invalid(
                                doc,
                                child,
                                format!("attribute {} declared twice", self.clark(&u.name)),
                            ));
                        }
                        set.uses.push(u);
                    }
                    Err(prohibited) => set.prohibited.push(prohibited),
                },
                "attributeGroup" => {
                    let r = child.attr("ref").ok_or_else(|| {
                        self.invalid(doc, child, "attributeGroup reference without ref")
                    })?;
                    let q = self.resolve_qname(doc, child, r)?;
                    let Some(&(gdoc, gnode)) = self.index.attribute_groups.get(&q) else {
                        return Err(CompileError::Unresolved {
                            at: self.at(doc, child),
                            kind: "attributeGroup",
                            name: self.clark(&q),
                        });
                    };
                    let group = self.attribute_group(gdoc, gnode, &q)?;
                    for u in group.uses {
                        if set.uses.iter().any(|x| x.name == u.name) {
                            return Err(self.invalid(
                                doc,
                                child,
                                format!("attribute {} declared twice", self.clark(&u.name)),
                            ));
                        }
                        set.uses.push(u);
                    }
                    set.prohibited.extend(group.prohibited);
                    group_wildcards.extend(group.wildcard);
                }
                "anyAttribute" => local_wildcard = Some(self.wildcard(doc, child)?),
                _ => {}
            }
        }
        let mut complete = local_wildcard.clone();
        for g in group_wildcards {
            complete = Some(match complete {
                None => g,
                Some(w) => Wildcard {
                    ns: ns_intersect(&w.ns, &g.ns).ok_or_else(|| {
                        self.invalid(
                            doc,
                            node,
                            "attribute wildcard intersection is not expressible",
                        )
                    })?,
                    process: w.process,
                },
            });
        }
        set.wildcard = complete;
        Ok(set)
    }

    /// A named attribute group, compiled once.
    pub(super) fn attribute_group(
        &mut self,
        doc: usize,
        node: &'d Node,
        name: &QName,
    ) -> Result<AttrSet, CompileError> {
        if let Some(s) = self.attribute_group_memo.get(name) {
            return Ok(s.clone());
        }
        if !self.attribute_group_progress.insert(name.clone()) {
            return Err(self.invalid(
                doc,
                node,
                format!("circular attribute group {}", self.clark(name)),
            ));
        }
        let set = self.attr_set(doc, node)?;
        self.attribute_group_progress.remove(name);
        self.attribute_group_memo.insert(name.clone(), set.clone());
        Ok(set)
    }

    /// A top-level attribute declaration, compiled once.
    pub(super) fn global_attribute(
        &mut self,
        doc: usize,
        node: &'d Node,
        name: &QName,
    ) -> Result<AttributeUse, CompileError> {
        if let Some(a) = self.attribute_memo.get(name) {
            return Ok(a.clone());
        }
        if node.attr("use").is_some() {
            return Err(self.invalid(doc, node, "use on a global attribute declaration"));
        }
        let ty = self.attribute_type(doc, node)?;
        let constraint = self.attribute_constraint(doc, node, ty, false)?;
        let decl = AttributeUse {
            name: name.clone(),
            ty,
            required: false,
            constraint,
        };
        self.attribute_memo.insert(name.clone(), decl.clone());
        Ok(decl)
    }

    fn attribute_type(&mut self, doc: usize, node: &'d Node) -> Result<SimpleTypeId, CompileError> {
        let inline = node.xs_children().find(|c| c.is_xs("simpleType"));
        match (node.attr("type"), inline) {
            (Some(_), Some(_)) => Err(self.invalid(
                doc,
                node,
                "attribute has both a type attribute and an anonymous type",
            )),
            (Some(t), None) => {
                let q = self.resolve_qname(doc, node, t)?;
                self.resolve_simple(doc, node, &q)
            }
            (None, Some(st)) => self.simple_type(doc, st, None),
            (None, None) => Ok(SimpleTypeId::builtin(Builtin::AnySimpleType)),
        }
    }

    fn attribute_constraint(
        &self,
        doc: usize,
        node: &Node,
        ty: SimpleTypeId,
        required: bool,
    ) -> Result<Option<ValueConstraint>, CompileError> {
        let (fixed, lexical) = match (node.attr("default"), node.attr("fixed")) {
            (Some(_), Some(_)) => {
                return Err(self.invalid(doc, node, "attribute has both default and fixed"));
            }
            (Some(_), None) if required => {
                return Err(self.invalid(doc, node, "a required attribute cannot have a default"));
            }
            (Some(v), None) => (false, v),
            (None, Some(v)) => (true, v),
            (None, None) => return Ok(None),
        };
        let value = validate(&self.set, ty, lexical, &*node.scope).map_err(|e| {
            self.invalid(
                doc,
                node,
                format!(
                    "{} value: {}",
                    if fixed { "fixed" } else { "default" },
                    e.message
                ),
            )
        })?;
        Ok(Some(ValueConstraint {
            fixed,
            lexical: lexical.into(),
            value: Some(value),
        }))
    }

    /// A local attribute (declaration or reference); `Err(name)` when it is prohibited.
    fn local_attribute(
        &mut self,
        doc: usize,
        node: &'d Node,
    ) -> Result<Result<AttributeUse, QName>, CompileError> {
        let use_ = node.attr("use").map(str::trim).unwrap_or("optional");
        let required = match use_ {
            "optional" | "prohibited" => false,
            "required" => true,
            other => return Err(self.invalid(doc, node, format!("use={other:?}"))),
        };
        let (name, ty, inherited) = if let Some(r) = node.attr("ref") {
            let q = self.resolve_qname(doc, node, r)?;
            let global = match self.index.attributes.get(&q) {
                Some(&(adoc, anode)) => self.global_attribute(adoc, anode, &q)?,
                None if self.set.ns.uri(q.ns) == crate::names::XML => {
                    return Err(CompileError::Unresolved {
                        at: self.at(doc, node),
                        kind: "attribute",
                        name: format!(
                            "{} (import the XML namespace schema through the catalog)",
                            self.clark(&q)
                        ),
                    });
                }
                None => {
                    return Err(CompileError::Unresolved {
                        at: self.at(doc, node),
                        kind: "attribute",
                        name: self.clark(&q),
                    });
                }
            };
            (q, global.ty, global.constraint)
        } else {
            let local = node
                .attr("name")
                .ok_or_else(|| self.invalid(doc, node, "local attribute without name or ref"))?;
            if !xmlchar::is_ncname(local) || local == "xmlns" {
                return Err(self.invalid(
                    doc,
                    node,
                    format!("attribute name {local:?} is not allowed"),
                ));
            }
            let qualified = match node.attr("form") {
                Some("qualified") => true,
                Some("unqualified") => false,
                Some(other) => return Err(self.invalid(doc, node, format!("form={other:?}"))),
                None => self.doc(doc).attribute_qualified,
            };
            let ns = if qualified { self.tns(doc) } else { NsId::NONE };
            let ty = self.attribute_type(doc, node)?;
            (QName::new(ns, local), ty, None)
        };
        if use_ == "prohibited" {
            return Ok(Err(name));
        }
        let constraint = match self.attribute_constraint(doc, node, ty, required)? {
            Some(c) => Some(c),
            None => inherited,
        };
        Ok(Ok(AttributeUse {
            name,
            ty,
            required,
            constraint,
        }))
    }
}

/// Wildcard union (XSD 1.0 3.10.6, Attribute Wildcard Union); None when not expressible.
pub(super) fn ns_union(a: &NsConstraint, b: &NsConstraint) -> Option<NsConstraint> {
    use NsConstraint::*;
    Some(match (a, b) {
        (Any, _) | (_, Any) => Any,
        (Set(x), Set(y)) => {
            let mut s = x.clone();
            s.extend(y.iter().filter(|n| !x.contains(n)));
            Set(s)
        }
        (Not(x), Not(y)) if x == y => Not(*x),
        (Not(_), Not(_)) => Not(NsId::NONE),
        (Not(x), Set(s)) | (Set(s), Not(x)) => {
            let has_x = s.contains(x);
            let has_absent = s.contains(&NsId::NONE);
            match (has_x, has_absent) {
                (true, true) => Any,
                (true, false) => Not(NsId::NONE),
                (false, true) if *x != NsId::NONE => return None,
                _ => Not(*x),
            }
        }
    })
}

/// Wildcard intersection (XSD 1.0 3.10.6); None when not expressible.
fn ns_intersect(a: &NsConstraint, b: &NsConstraint) -> Option<NsConstraint> {
    use NsConstraint::*;
    Some(match (a, b) {
        (Any, o) | (o, Any) => o.clone(),
        (Set(x), Set(y)) => Set(x.iter().filter(|n| y.contains(n)).copied().collect()),
        (Not(x), Set(s)) | (Set(s), Not(x)) => Set(s
            .iter()
            .filter(|n| *n != x && **n != NsId::NONE)
            .copied()
            .collect()),
        (Not(x), Not(y)) if x == y => Not(*x),
        (Not(x), Not(y)) if *x == NsId::NONE => Not(*y),
        (Not(x), Not(y)) if *y == NsId::NONE => Not(*x),
        (Not(_), Not(_)) => return None,
    })
}
