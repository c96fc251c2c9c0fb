//! Compiles a set of schema documents into a [`SchemaSet`].
//!
//! Order of work (each step only needs what the previous ones produced):
//! 1. load the documents (`loader`) and index their top-level components by name;
//! 2. compile every global simple type fully, every complex type's *header* (name, base,
//!    derivation, flags) and every global element, attribute and group;
//! 3. compile complex type *bodies* (attributes and particle trees) from a worklist, each after
//!    its base type's body, so a type may contain elements of types derived from itself;
//! 4. close substitution groups, turn particle trees into automata (refusing non-deterministic
//!    models) and check element default/fixed values against their finished types.
//!
//! Every construct this validator does not implement is refused with
//! [`CompileError::Unsupported`]; nothing is skipped silently.

mod attributes;
mod complex;
pub(crate) mod loader;
mod particle;
mod simple;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::automaton::{self, ModelError};
use crate::catalog::Catalog;
use crate::error::{CompileError, Location};
use crate::model::{
    ANY_TYPE, Automaton, ComplexType, ComplexTypeId, ContentModel, ContentType, Derivation,
    Derivations, ElemId, ElementDecl, NameMap, NsConstraint, ProcessContents, SchemaSet,
    SimpleTypeId, State, Term, Transition, TypeRef, Wildcard, builtin_simple_types,
};
use crate::names::{NsId, NsTable, QName, XS};
use crate::schema_doc::Node;
use crate::types::builtin::Builtin;
use crate::xmlchar;
use loader::Doc;
use particle::RawParticle;

/// Top-level components by kind and name: (document index, node).
#[derive(Default)]
struct Index<'d> {
    types: HashMap<QName, (usize, &'d Node)>,
    elements: HashMap<QName, (usize, &'d Node)>,
    attributes: HashMap<QName, (usize, &'d Node)>,
    attribute_groups: HashMap<QName, (usize, &'d Node)>,
    groups: HashMap<QName, (usize, &'d Node)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Progress {
    InProgress,
    Done,
}

/// Body-compilation state of a complex type.
struct Body<'d> {
    /// Where the definition is (None for anyType).
    source: Option<(usize, &'d Node)>,
    progress: Option<Progress>,
    /// The effective particle tree (None when the content is empty or simple).
    particle: Option<RawParticle>,
}

pub(crate) struct Compiler<'d> {
    docs: &'d [Doc],
    index: Index<'d>,
    set: SchemaSet,
    simple_memo: HashMap<QName, (Progress, SimpleTypeId)>,
    complex_memo: HashMap<QName, (Progress, ComplexTypeId)>,
    element_memo: HashMap<QName, ElemId>,
    element_progress: HashSet<QName>,
    attribute_memo: HashMap<QName, crate::model::AttributeUse>,
    attribute_group_memo: HashMap<QName, attributes::AttrSet>,
    attribute_group_progress: HashSet<QName>,
    group_progress: HashSet<QName>,
    group_memo: HashMap<QName, RawParticle>,
    bodies: Vec<Body<'d>>,
    /// Element value constraints to check once all types are complete.
    element_constraints: Vec<(ElemId, usize, &'d Node)>,
    /// Where each complex type is defined, for errors found at finalization.
    complex_at: Vec<Option<Location>>,
}

/// Compiles the schema set rooted at `root`.
pub(crate) fn compile_schema(
    root: &Path,
    catalog: Option<&Catalog>,
) -> Result<SchemaSet, CompileError> {
    let docs = loader::load(root, catalog)?;
    let mut ns = NsTable::new();
    let simple_types = builtin_simple_types(&mut ns);
    let set = SchemaSet {
        ns,
        simple_types,
        complex_types: vec![any_type()],
        elements: Vec::new(),
        global_elements: NameMap::default(),
        global_types: NameMap::default(),
        global_attributes: NameMap::default(),
        ns_needed: Vec::new(),
    };
    let mut c = Compiler {
        docs: &docs,
        index: Index::default(),
        set,
        simple_memo: HashMap::new(),
        complex_memo: HashMap::new(),
        element_memo: HashMap::new(),
        element_progress: HashSet::new(),
        attribute_memo: HashMap::new(),
        attribute_group_memo: HashMap::new(),
        attribute_group_progress: HashSet::new(),
        group_progress: HashSet::new(),
        group_memo: HashMap::new(),
        bodies: vec![Body {
            source: None,
            progress: Some(Progress::Done),
            particle: Some(particle::any_type_particle()),
        }],
        element_constraints: Vec::new(),
        complex_at: vec![None],
    };
    c.build_index()?;
    c.compile_globals()?;
    c.compile_bodies()?;
    c.finish()?;
    c.set.compute_ns_needed();
    Ok(c.set)
}

/// `xs:anyType`: mixed content of any elements (lax), any attributes (lax).
fn any_type() -> ComplexType {
    let lax_any = Wildcard {
        ns: NsConstraint::Any,
        process: ProcessContents::Lax,
    };
    ComplexType {
        name: None,
        base: TypeRef::Complex(ANY_TYPE),
        derivation: Derivation::Restriction,
        is_abstract: false,
        block: Derivations::default(),
        final_: Derivations::default(),
        attributes: Vec::new(),
        attribute_wildcard: Some(lax_any.clone()),
        content: ContentType::Elements {
            model: ContentModel::Automaton(Automaton {
                states: vec![State {
                    transitions: vec![Transition {
                        term: Term::Wildcard(lax_any),
                        target: 0,
                    }],
                    accepting: true,
                }],
            }),
            mixed: true,
        },
    }
}

impl<'d> Compiler<'d> {
    fn doc(&self, i: usize) -> &'d Doc {
        &self.docs[i]
    }

    fn at(&self, doc: usize, node: &Node) -> Location {
        self.doc(doc).at(node)
    }

    fn invalid(&self, doc: usize, node: &Node, message: impl Into<String>) -> CompileError {
        CompileError::Invalid {
            at: self.at(doc, node),
            message: message.into(),
        }
    }

    fn unsupported(&self, doc: usize, node: &Node, construct: impl Into<String>) -> CompileError {
        CompileError::Unsupported {
            at: self.at(doc, node),
            construct: construct.into(),
        }
    }

    fn tns(&mut self, doc: usize) -> NsId {
        let uri = self.docs[doc].tns.clone();
        self.set.ns.intern(&uri)
    }

    /// The name of a top-level component declared by `node` in `doc`.
    fn component_name(&mut self, doc: usize, node: &Node) -> Result<QName, CompileError> {
        let name = node
            .attr("name")
            .ok_or_else(|| self.invalid(doc, node, format!("xs:{} without a name", node.local)))?;
        if !xmlchar::is_ncname(name) {
            return Err(self.invalid(doc, node, format!("name {name:?} is not an NCName")));
        }
        let ns = self.tns(doc);
        Ok(QName::new(ns, name))
    }

    /// Resolves a QName-valued attribute of `node` (`type`, `ref`, `base`, ...).
    fn resolve_qname(
        &mut self,
        doc: usize,
        node: &Node,
        value: &str,
    ) -> Result<QName, CompileError> {
        let value = value.trim();
        let (prefix, local) = xmlchar::split_qname(value)
            .ok_or_else(|| self.invalid(doc, node, format!("{value:?} is not a QName")))?;
        let uri = match prefix {
            Some(p) => {
                use crate::NamespaceScope;
                node.scope
                    .resolve(Some(p))
                    .ok_or_else(|| self.invalid(doc, node, format!("prefix {p:?} is not bound")))?
                    .to_owned()
            }
            None => {
                use crate::NamespaceScope;
                let default = node.scope.resolve(None).unwrap_or("").to_owned();
                if default.is_empty() && self.docs[doc].chameleon {
                    self.docs[doc].tns.clone()
                } else {
                    default
                }
            }
        };
        let ns = self.set.ns.intern(&uri);
        Ok(QName::new(ns, local))
    }

    fn clark(&self, q: &QName) -> String {
        crate::names::Clark(&self.set.ns, q).to_string()
    }

    fn build_index(&mut self) -> Result<(), CompileError> {
        for (di, doc) in self.docs.iter().enumerate() {
            for node in doc.root.xs_children() {
                let kind = match &*node.local {
                    "simpleType" | "complexType" => 0,
                    "element" => 1,
                    "attribute" => 2,
                    "attributeGroup" => 3,
                    "group" => 4,
                    "include" | "import" | "notation" => continue,
                    other => {
                        return Err(self.unsupported(di, node, format!("top-level xs:{other}")));
                    }
                };
                let name = self.component_name(di, node)?;
                let map = match kind {
                    0 => &mut self.index.types,
                    1 => &mut self.index.elements,
                    2 => &mut self.index.attributes,
                    3 => &mut self.index.attribute_groups,
                    _ => &mut self.index.groups,
                };
                if let Some((prev_doc, prev)) = map.insert(name.clone(), (di, node)) {
                    let prev_at = self.docs[prev_doc].at(prev);
                    return Err(CompileError::Invalid {
                        at: doc.at(node),
                        message: format!(
                            "{} is already defined at {prev_at}",
                            crate::names::Clark(&self.set.ns, &name)
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    fn compile_globals(&mut self) -> Result<(), CompileError> {
        let mut names: Vec<QName> = self.index.types.keys().cloned().collect();
        names.sort();
        for name in &names {
            let (doc, node) = self.index.types[name];
            let t = self.resolve_type(doc, node, name)?;
            self.set.global_types.insert(name, t);
        }
        let mut names: Vec<QName> = self.index.elements.keys().cloned().collect();
        names.sort();
        for name in &names {
            let (doc, node) = self.index.elements[name];
            let id = self.global_element(doc, node, name)?;
            self.set.global_elements.insert(name, id);
        }
        let mut names: Vec<QName> = self.index.attributes.keys().cloned().collect();
        names.sort();
        for name in &names {
            let (doc, node) = self.index.attributes[name];
            let decl = self.global_attribute(doc, node, name)?;
            self.set.global_attributes.insert(name, decl);
        }
        let mut names: Vec<QName> = self.index.attribute_groups.keys().cloned().collect();
        names.sort();
        for name in &names {
            let (doc, node) = self.index.attribute_groups[name];
            self.attribute_group(doc, node, name)?;
        }
        let mut names: Vec<QName> = self.index.groups.keys().cloned().collect();
        names.sort();
        for name in &names {
            let (doc, node) = self.index.groups[name];
            self.model_group(doc, node, name)?;
        }
        Ok(())
    }

    /// Resolves a type reference, compiling the named type (header) on first use.
    fn resolve_type(
        &mut self,
        doc: usize,
        at: &Node,
        name: &QName,
    ) -> Result<TypeRef, CompileError> {
        if self.set.ns.uri(name.ns) == XS {
            if &*name.local == "anyType" {
                return Ok(TypeRef::Complex(ANY_TYPE));
            }
            return match Builtin::by_name(&name.local) {
                Some(Builtin::Notation) => Err(self.unsupported(doc, at, "xs:NOTATION")),
                Some(b) => Ok(TypeRef::Simple(SimpleTypeId::builtin(b))),
                None => Err(CompileError::Unresolved {
                    at: self.at(doc, at),
                    kind: "type",
                    name: self.clark(name),
                }),
            };
        }
        if let Some((progress, id)) = self.simple_memo.get(name) {
            if *progress == Progress::InProgress {
                return Err(self.invalid(
                    doc,
                    at,
                    format!("circular definition of simple type {}", self.clark(name)),
                ));
            }
            return Ok(TypeRef::Simple(*id));
        }
        if let Some((progress, id)) = self.complex_memo.get(name) {
            if *progress == Progress::InProgress {
                return Err(self.invalid(
                    doc,
                    at,
                    format!("circular derivation of complex type {}", self.clark(name)),
                ));
            }
            return Ok(TypeRef::Complex(*id));
        }
        let Some(&(tdoc, tnode)) = self.index.types.get(name) else {
            return Err(CompileError::Unresolved {
                at: self.at(doc, at),
                kind: "type",
                name: self.clark(name),
            });
        };
        if tnode.is_xs("simpleType") {
            let placeholder =
                SimpleTypeId(u32::try_from(self.set.simple_types.len()).unwrap_or(u32::MAX));
            self.simple_memo
                .insert(name.clone(), (Progress::InProgress, placeholder));
            let id = self.simple_type(tdoc, tnode, Some(name.clone()))?;
            self.simple_memo.insert(name.clone(), (Progress::Done, id));
            Ok(TypeRef::Simple(id))
        } else {
            let id = self.complex_header(tdoc, tnode, Some(name.clone()))?;
            Ok(TypeRef::Complex(id))
        }
    }

    /// Resolves a reference that must name a simple type.
    fn resolve_simple(
        &mut self,
        doc: usize,
        at: &Node,
        name: &QName,
    ) -> Result<SimpleTypeId, CompileError> {
        match self.resolve_type(doc, at, name)? {
            TypeRef::Simple(id) => Ok(id),
            TypeRef::Complex(_) => Err(self.invalid(
                doc,
                at,
                format!(
                    "{} is a complex type where a simple type is required",
                    self.clark(name)
                ),
            )),
        }
    }

    fn compile_bodies(&mut self) -> Result<(), CompileError> {
        let mut i = 0;
        while i < self.bodies.len() {
            self.complex_body(ComplexTypeId(u32::try_from(i).unwrap_or(u32::MAX)))?;
            i += 1;
        }
        Ok(())
    }

    /// Step 4: substitution groups, automata, element value constraints.
    fn finish(&mut self) -> Result<(), CompileError> {
        self.check_substitution_groups()?;
        let members = self.substitution_members()?;
        for i in 1..self.bodies.len() {
            let id = ComplexTypeId(u32::try_from(i).unwrap_or(u32::MAX));
            let Some(raw) = self.bodies[i].particle.clone() else {
                continue;
            };
            if !matches!(self.set.complex(id).content, ContentType::Elements { .. }) {
                continue;
            }
            let p = self.expand_terms(&raw, &members);
            let ns = &self.set.ns;
            let uri = |n: NsId| ns.uri(n).to_owned();
            let model = automaton::compile(&p, &uri).map_err(|e| {
                let at = self.complex_at[i].clone().unwrap_or_else(|| Location::new("", 0, 0));
                match e {
                    ModelError::NotDeterministic(message) => CompileError::NotDeterministic { at, message },
                    ModelError::TooLarge => CompileError::Unsupported {
                        at,
                        construct: "a content model that expands to more than 10000 positions".into(),
                    },
                    ModelError::AllTooLarge => CompileError::Unsupported {
                        at,
                        construct: "xs:all with more than 64 element particles".into(),
                    },
                    ModelError::MisplacedAll => CompileError::Invalid {
                        at,
                        message: "xs:all must be the whole content model, with element particles of maxOccurs at most 1".into(),
                    },
                }
            })?;
            if let ContentType::Elements { model: slot, .. } =
                &mut self.set.complex_types[i].content
            {
                *slot = model;
            }
        }
        self.check_element_constraints()
    }

    /// A substitution group member's type must derive from its head's type, by methods the
    /// head's `final` allows (XSD 1.0 "Substitution Group OK").
    fn check_substitution_groups(&self) -> Result<(), CompileError> {
        for (name, &id) in &self.element_memo {
            let e = self.set.element(id);
            let Some(head) = e.subst_head else { continue };
            let h = self.set.element(head);
            if !self.set.derives_from(e.ty, h.ty, h.final_.0) {
                let (doc, node) = self.index.elements[name];
                return Err(self.invalid(
                    doc,
                    node,
                    format!(
                        "the type of {} does not derive from the type of its substitution group head {}",
                        self.clark(name),
                        self.clark(&h.name)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// For every element declaration, the declarations that may substitute for it (itself
    /// first), honouring `block` and excluding nothing else (abstract ones are rejected when
    /// they occur, with a precise message).
    fn substitution_members(&self) -> Result<HashMap<ElemId, Vec<ElemId>>, CompileError> {
        let mut direct: HashMap<ElemId, Vec<ElemId>> = HashMap::new();
        for (i, e) in self.set.elements.iter().enumerate() {
            if let Some(head) = e.subst_head {
                direct
                    .entry(head)
                    .or_default()
                    .push(ElemId(u32::try_from(i).unwrap_or(u32::MAX)));
            }
        }
        let mut out = HashMap::new();
        for &head in direct.keys() {
            let head_decl = self.set.element(head);
            let mut blocked =
                head_decl.block.0 & (Derivations::EXTENSION | Derivations::RESTRICTION);
            if let TypeRef::Complex(ct) = head_decl.ty {
                blocked |= self.set.complex(ct).block.0;
            }
            let mut members = vec![head];
            let mut stack = direct.get(&head).cloned().unwrap_or_default();
            let mut seen = HashSet::from([head]);
            while let Some(m) = stack.pop() {
                if !seen.insert(m) {
                    continue;
                }
                if let Some(more) = direct.get(&m) {
                    stack.extend(more.iter().copied());
                }
                let member = self.set.element(m);
                if head_decl.block.has(Derivations::SUBSTITUTION) {
                    continue;
                }
                if self.set.derives_from(member.ty, head_decl.ty, blocked) {
                    members.push(m);
                }
            }
            out.insert(head, members);
        }
        Ok(out)
    }

    /// Turns element references into the terms they match (declaration plus substitutes).
    fn expand_terms(
        &self,
        raw: &RawParticle,
        members: &HashMap<ElemId, Vec<ElemId>>,
    ) -> automaton::Particle {
        use automaton::PTerm;
        use particle::RawTerm;
        let term = match &raw.term {
            RawTerm::Element(id) => {
                let ids = members.get(id).cloned().unwrap_or_else(|| vec![*id]);
                PTerm::Element(
                    ids.into_iter()
                        .map(|e| {
                            let d = self.set.element(e);
                            Term::Element {
                                ns: d.name.ns,
                                local: d.name.local.clone(),
                                decl: e,
                            }
                        })
                        .collect(),
                )
            }
            RawTerm::Wildcard(w) => PTerm::Wildcard(Term::Wildcard(w.clone())),
            RawTerm::Sequence(ps) => {
                PTerm::Sequence(ps.iter().map(|p| self.expand_terms(p, members)).collect())
            }
            RawTerm::Choice(ps) => {
                PTerm::Choice(ps.iter().map(|p| self.expand_terms(p, members)).collect())
            }
            RawTerm::All(ps) => {
                PTerm::All(ps.iter().map(|p| self.expand_terms(p, members)).collect())
            }
        };
        automaton::Particle {
            min: raw.min,
            max: raw.max,
            term,
        }
    }

    fn check_element_constraints(&mut self) -> Result<(), CompileError> {
        use crate::model::ValueConstraint;
        use crate::types::simple::validate;
        let pending = std::mem::take(&mut self.element_constraints);
        for (id, doc, node) in pending {
            let decl = self.set.element(id).clone();
            let (fixed, lexical) = match (node.attr("default"), node.attr("fixed")) {
                (Some(_), Some(_)) => {
                    return Err(self.invalid(doc, node, "element has both default and fixed"));
                }
                (Some(v), None) => (false, v),
                (None, Some(v)) => (true, v),
                (None, None) => continue,
            };
            let simple = match decl.ty {
                TypeRef::Simple(st) => Some(st),
                TypeRef::Complex(ct) => match &self.set.complex(ct).content {
                    ContentType::Simple(st) => Some(*st),
                    ContentType::Elements { mixed: true, .. } => None,
                    _ => {
                        return Err(self.invalid(
                            doc,
                            node,
                            "default or fixed value on an element whose content is not simple or mixed",
                        ));
                    }
                },
            };
            let value = match simple {
                Some(st) => Some(validate(&self.set, st, lexical, &*node.scope).map_err(|e| {
                    self.invalid(
                        doc,
                        node,
                        format!(
                            "{} value: {}",
                            if fixed { "fixed" } else { "default" },
                            e.message
                        ),
                    )
                })?),
                None => {
                    return Err(self.unsupported(
                        doc,
                        node,
                        "default or fixed value on an element with mixed content",
                    ));
                }
            };
            self.set.elements[id.0 as usize].constraint = Some(ValueConstraint {
                fixed,
                lexical: lexical.into(),
                value,
            });
        }
        Ok(())
    }

    /// Registers an element declaration and returns its id.
    fn push_element(&mut self, decl: ElementDecl) -> ElemId {
        self.set.elements.push(decl);
        ElemId(u32::try_from(self.set.elements.len() - 1).unwrap_or(u32::MAX))
    }
}

/// Parses `minOccurs`/`maxOccurs`.
fn occurs(c: &Compiler<'_>, doc: usize, node: &Node) -> Result<(u32, Option<u32>), CompileError> {
    let parse = |name: &str, v: &str| -> Result<u32, CompileError> {
        v.trim().parse::<u32>().map_err(|_| {
            c.invalid(
                doc,
                node,
                format!("{name}={v:?} is not a non-negative integer"),
            )
        })
    };
    let min = match node.attr("minOccurs") {
        Some(v) => parse("minOccurs", v)?,
        None => 1,
    };
    let max = match node.attr("maxOccurs") {
        Some("unbounded") => None,
        Some(v) => Some(parse("maxOccurs", v)?),
        None => Some(1),
    };
    if max.is_some_and(|m| m < min) {
        return Err(c.invalid(doc, node, "maxOccurs is smaller than minOccurs"));
    }
    Ok((min, max))
}

fn is_true(v: Option<&str>) -> bool {
    matches!(v.map(str::trim), Some("true" | "1"))
}
