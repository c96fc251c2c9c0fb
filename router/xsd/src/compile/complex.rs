//! Complex type definitions: headers (base, derivation, flags) and bodies (content type,
//! particle tree, inherited and new attributes).

use super::attributes::{AttrSet, ns_union};
use super::particle::{RawParticle, RawTerm, is_empty};
use super::{Body, Compiler, Progress, is_true, loader::parse_derivations};
use crate::error::CompileError;
use crate::model::{
    ANY_TYPE, ComplexType, ComplexTypeId, ContentModel, ContentType, Derivation, Derivations,
    TypeRef, Wildcard,
};
use crate::names::QName;
use crate::schema_doc::Node;

const PARTICLES: [&str; 4] = ["group", "all", "choice", "sequence"];

impl<'d> Compiler<'d> {
    /// Registers a complex type and compiles its header (base, derivation, flags); the body
    /// follows later from the worklist.
    pub(super) fn complex_header(
        &mut self,
        doc: usize,
        node: &'d Node,
        name: Option<QName>,
    ) -> Result<ComplexTypeId, CompileError> {
        let id = ComplexTypeId(u32::try_from(self.set.complex_types.len()).unwrap_or(u32::MAX));
        if let Some(n) = &name {
            self.complex_memo
                .insert(n.clone(), (Progress::InProgress, id));
        }
        self.set.complex_types.push(ComplexType {
            name: name.clone(),
            base: TypeRef::Complex(ANY_TYPE),
            derivation: Derivation::Restriction,
            is_abstract: false,
            block: Derivations::default(),
            final_: Derivations::default(),
            attributes: Vec::new(),
            attribute_wildcard: None,
            content: ContentType::Empty,
        });
        self.bodies.push(Body {
            source: Some((doc, node)),
            progress: None,
            particle: None,
        });
        self.complex_at.push(Some(self.at(doc, node)));

        let content = node
            .xs_children()
            .find(|c| c.is_xs("simpleContent") || c.is_xs("complexContent"));
        let (base, derivation) = match content {
            Some(c) => {
                let deriv = c.xs_children().next().ok_or_else(|| {
                    self.invalid(
                        doc,
                        c,
                        format!("xs:{} needs extension or restriction", c.local),
                    )
                })?;
                let derivation = match &*deriv.local {
                    "extension" => Derivation::Extension,
                    "restriction" => Derivation::Restriction,
                    other => {
                        return Err(self.invalid(doc, deriv, format!("unexpected xs:{other}")));
                    }
                };
                let b = deriv
                    .attr("base")
                    .ok_or_else(|| self.invalid(doc, deriv, "derivation without base"))?;
                let q = self.resolve_qname(doc, deriv, b)?;
                (self.resolve_type(doc, deriv, &q)?, derivation)
            }
            None => (TypeRef::Complex(ANY_TYPE), Derivation::Restriction),
        };
        if let TypeRef::Complex(b) = base {
            let method = match derivation {
                Derivation::Extension => Derivations::EXTENSION,
                Derivation::Restriction => Derivations::RESTRICTION,
            };
            if self.set.complex(b).final_.has(method) {
                return Err(self.invalid(doc, node, "the base type is final for this derivation"));
            }
        }
        let mask = Derivations::EXTENSION | Derivations::RESTRICTION;
        let block = match node.attr("block") {
            Some(v) => parse_derivations(v),
            None => self.doc(doc).block_default,
        };
        let final_ = match node.attr("final") {
            Some(v) => parse_derivations(v),
            None => self.doc(doc).final_default,
        };
        let ct = &mut self.set.complex_types[id.0 as usize];
        ct.base = base;
        ct.derivation = derivation;
        ct.is_abstract = is_true(node.attr("abstract"));
        ct.block = Derivations(block.0 & mask);
        ct.final_ = Derivations(final_.0 & mask);
        if let Some(n) = name {
            self.complex_memo.insert(n, (Progress::Done, id));
        }
        Ok(id)
    }

    /// Compiles the body of a complex type (after its base type's body).
    pub(super) fn complex_body(&mut self, id: ComplexTypeId) -> Result<(), CompileError> {
        let i = id.0 as usize;
        let Some(body) = self.bodies.get(i) else {
            return Ok(());
        };
        let Some((doc, node)) = body.source else {
            return Ok(());
        };
        match body.progress {
            Some(Progress::Done) => return Ok(()),
            Some(Progress::InProgress) => {
                return Err(self.invalid(doc, node, "circular complex type derivation"));
            }
            None => {}
        }
        self.bodies[i].progress = Some(Progress::InProgress);
        let header = self.set.complex(id).clone();
        if let TypeRef::Complex(b) = header.base {
            self.complex_body(b)?;
        }
        let mixed_attr = is_true(node.attr("mixed"));
        let content = node
            .xs_children()
            .find(|c| c.is_xs("simpleContent") || c.is_xs("complexContent"));
        let (content_type, particle, attrs) = match content {
            Some(sc) if sc.is_xs("simpleContent") => {
                let deriv = sc.xs_children().next().unwrap_or(sc);
                let own = self.attr_set(doc, deriv)?;
                match header.base {
                    TypeRef::Simple(st) => {
                        if header.derivation == Derivation::Restriction {
                            return Err(self.invalid(
                                doc,
                                deriv,
                                "simpleContent restriction needs a complex base type",
                            ));
                        }
                        (
                            ContentType::Simple(st),
                            None,
                            self.extend_attrs(doc, deriv, header.base, own)?,
                        )
                    }
                    TypeRef::Complex(b) => {
                        let base_simple = match &self.set.complex(b).content {
                            ContentType::Simple(st) => *st,
                            _ => {
                                return Err(self.invalid(
                                    doc,
                                    deriv,
                                    "simpleContent derivation from a type without simple content",
                                ));
                            }
                        };
                        if header.derivation == Derivation::Extension {
                            (
                                ContentType::Simple(base_simple),
                                None,
                                self.extend_attrs(doc, deriv, header.base, own)?,
                            )
                        } else {
                            let facet_base =
                                match deriv.xs_children().find(|c| c.is_xs("simpleType")) {
                                    Some(inline) => self.simple_type(doc, inline, None)?,
                                    None => base_simple,
                                };
                            let st = self.restrict(
                                doc,
                                deriv,
                                facet_base,
                                None,
                                Derivations::default(),
                            )?;
                            let st = self.push_derived_simple(st);
                            (
                                ContentType::Simple(st),
                                None,
                                self.restrict_attrs(header.base, own),
                            )
                        }
                    }
                }
            }
            Some(cc) => {
                let deriv = cc.xs_children().next().unwrap_or(cc);
                let mixed = match cc.attr("mixed") {
                    Some(v) => is_true(Some(v)),
                    None => mixed_attr,
                };
                let own_particle = self.own_particle(doc, deriv)?;
                let own_attrs = self.attr_set(doc, deriv)?;
                let TypeRef::Complex(b) = header.base else {
                    return Err(self.invalid(
                        doc,
                        deriv,
                        "complexContent needs a complex base type",
                    ));
                };
                if header.derivation == Derivation::Extension {
                    let base_particle = self
                        .bodies
                        .get(b.0 as usize)
                        .and_then(|x| x.particle.clone());
                    let base_content = self.set.complex(b).content.clone();
                    if matches!(base_content, ContentType::Simple(_)) && own_particle.is_some() {
                        return Err(self.invalid(
                            doc,
                            deriv,
                            "complexContent extension of a simple-content type",
                        ));
                    }
                    let attrs = self.extend_attrs(doc, deriv, header.base, own_attrs)?;
                    match (base_particle, own_particle) {
                        (None, None) => match base_content {
                            ContentType::Simple(st) => (ContentType::Simple(st), None, attrs),
                            _ => (empty_content(mixed), None, attrs),
                        },
                        (Some(bp), None) => {
                            let base_mixed =
                                matches!(base_content, ContentType::Elements { mixed: true, .. });
                            (elements(base_mixed || mixed), Some(bp), attrs)
                        }
                        (None, Some(op)) => (elements(mixed), Some(op), attrs),
                        (Some(bp), Some(op)) => (
                            elements(mixed),
                            Some(RawParticle {
                                min: 1,
                                max: Some(1),
                                term: RawTerm::Sequence(vec![bp, op]),
                            }),
                            attrs,
                        ),
                    }
                } else {
                    let attrs = self.restrict_attrs(header.base, own_attrs);
                    match own_particle {
                        Some(p) => (elements(mixed), Some(p), attrs),
                        None => (empty_content(mixed), None, attrs),
                    }
                }
            }
            None => {
                let own_particle = self.own_particle(doc, node)?;
                let own_attrs = self.attr_set(doc, node)?;
                let attrs = self.restrict_attrs(TypeRef::Complex(ANY_TYPE), own_attrs);
                match own_particle {
                    Some(p) => (elements(mixed_attr), Some(p), attrs),
                    None => (empty_content(mixed_attr), None, attrs),
                }
            }
        };
        let ct = &mut self.set.complex_types[i];
        ct.content = content_type;
        ct.attributes = attrs.uses;
        ct.attribute_wildcard = attrs.wildcard;
        self.bodies[i].particle = particle;
        self.bodies[i].progress = Some(Progress::Done);
        Ok(())
    }

    /// The particle among the children of `node`, or None when absent or empty.
    fn own_particle(
        &mut self,
        doc: usize,
        node: &'d Node,
    ) -> Result<Option<RawParticle>, CompileError> {
        let mut found = None;
        for child in node.xs_children() {
            if PARTICLES.contains(&&*child.local) {
                if found.is_some() {
                    return Err(self.invalid(doc, child, "more than one model group"));
                }
                found = Some(child);
            }
        }
        match found {
            Some(child) => {
                let p = self.particle(doc, child)?;
                Ok((!is_empty(&p)).then_some(p))
            }
            None => Ok(None),
        }
    }

    /// Attribute uses of a complex type derived by extension: the base's plus the new ones;
    /// the wildcard is the union of both.
    fn extend_attrs(
        &self,
        doc: usize,
        node: &Node,
        base: TypeRef,
        own: AttrSet,
    ) -> Result<AttrSet, CompileError> {
        let (mut uses, base_wild) = match base {
            TypeRef::Complex(b) if b != ANY_TYPE => {
                let ct = self.set.complex(b);
                (ct.attributes.clone(), ct.attribute_wildcard.clone())
            }
            TypeRef::Complex(_) => (
                Vec::new(),
                self.set.complex(ANY_TYPE).attribute_wildcard.clone(),
            ),
            TypeRef::Simple(_) => (Vec::new(), None),
        };
        for u in own.uses {
            if uses.iter().any(|x| x.name == u.name) {
                return Err(self.invalid(
                    doc,
                    node,
                    format!(
                        "attribute {} is already declared by the base type",
                        self.clark(&u.name)
                    ),
                ));
            }
            uses.push(u);
        }
        let wildcard = match (base_wild, own.wildcard) {
            (Some(b), Some(o)) => Some(Wildcard {
                ns: ns_union(&b.ns, &o.ns).ok_or_else(|| {
                    self.invalid(doc, node, "attribute wildcard union is not expressible")
                })?,
                process: o.process,
            }),
            (b, o) => o.or(b),
        };
        Ok(AttrSet {
            uses,
            prohibited: Vec::new(),
            wildcard,
        })
    }

    /// Attribute uses of a type derived by restriction: the base's, overridden or prohibited by
    /// the new ones; the wildcard is the new one only.
    fn restrict_attrs(&self, base: TypeRef, own: AttrSet) -> AttrSet {
        let mut uses = match base {
            TypeRef::Complex(b) if b != ANY_TYPE => self.set.complex(b).attributes.clone(),
            _ => Vec::new(),
        };
        uses.retain(|u| !own.prohibited.contains(&u.name));
        for u in own.uses {
            match uses.iter_mut().find(|x| x.name == u.name) {
                Some(slot) => *slot = u,
                None => uses.push(u),
            }
        }
        AttrSet {
            uses,
            prohibited: Vec::new(),
            wildcard: own.wildcard,
        }
    }
}

fn elements(mixed: bool) -> ContentType {
    ContentType::Elements {
        model: ContentModel::Automaton(Default::default()),
        mixed,
    }
}

/// Empty content: with `mixed`, character data but no elements.
fn empty_content(mixed: bool) -> ContentType {
    if mixed {
        ContentType::Elements {
            model: ContentModel::Automaton(crate::model::Automaton {
                states: vec![crate::model::State {
                    transitions: Vec::new(),
                    accepting: true,
                }],
            }),
            mixed: true,
        }
    } else {
        ContentType::Empty
    }
}
