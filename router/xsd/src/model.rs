//! The compiled form of a schema set: components referenced by index, content models as
//! automata, facets pre-parsed. Built once by `compile`, then only read (shared across threads).

use std::collections::HashMap;

use crate::names::{NsId, NsTable, QName};
use crate::types::builtin::{ALL, Builtin};
use crate::types::simple::{SimpleType, SimpleTypes};
use crate::types::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SimpleTypeId(pub(crate) u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ComplexTypeId(pub(crate) u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ElemId(pub(crate) u32);

impl SimpleTypeId {
    pub(crate) fn builtin(b: Builtin) -> SimpleTypeId {
        SimpleTypeId(b as u32)
    }
}

/// `xs:anyType` is always complex type 0.
pub(crate) const ANY_TYPE: ComplexTypeId = ComplexTypeId(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TypeRef {
    Simple(SimpleTypeId),
    Complex(ComplexTypeId),
}

/// A set of derivation methods (`block`, `final`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Derivations(pub(crate) u8);

impl Derivations {
    pub(crate) const EXTENSION: u8 = 1;
    pub(crate) const RESTRICTION: u8 = 2;
    pub(crate) const SUBSTITUTION: u8 = 4;
    pub(crate) const LIST: u8 = 8;
    pub(crate) const UNION: u8 = 16;

    pub(crate) fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Derivation {
    Extension,
    Restriction,
}

/// A `default` or `fixed` value.
#[derive(Debug, Clone)]
pub(crate) struct ValueConstraint {
    pub(crate) fixed: bool,
    pub(crate) lexical: Box<str>,
    /// The value against the declared simple type (None for mixed complex content, where the
    /// constraint is compared as a string).
    pub(crate) value: Option<Value>,
}

#[derive(Debug, Clone)]
pub(crate) struct ElementDecl {
    pub(crate) name: QName,
    pub(crate) ty: TypeRef,
    pub(crate) nillable: bool,
    pub(crate) is_abstract: bool,
    pub(crate) constraint: Option<ValueConstraint>,
    pub(crate) block: Derivations,
    /// `final`: which derivations may not substitute for this element.
    pub(crate) final_: Derivations,
    pub(crate) subst_head: Option<ElemId>,
}

#[derive(Debug, Clone)]
pub(crate) struct AttributeUse {
    pub(crate) name: QName,
    pub(crate) ty: SimpleTypeId,
    pub(crate) required: bool,
    pub(crate) constraint: Option<ValueConstraint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcessContents {
    Strict,
    Lax,
    Skip,
}

/// A wildcard's namespace constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NsConstraint {
    Any,
    /// Any namespace-qualified name except this namespace (`##other`; NONE for a
    /// no-namespace schema).
    Not(NsId),
    /// These namespaces only (NONE stands for `##local`).
    Set(Vec<NsId>),
}

impl NsConstraint {
    pub(crate) fn allows(&self, ns: NsId) -> bool {
        match self {
            NsConstraint::Any => true,
            NsConstraint::Not(x) => ns != *x && ns != NsId::NONE,
            NsConstraint::Set(set) => set.contains(&ns),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    pub(crate) ns: NsConstraint,
    pub(crate) process: ProcessContents,
}

/// What a transition of a content model matches.
#[derive(Debug, Clone)]
pub(crate) enum Term {
    Element {
        ns: NsId,
        local: Box<str>,
        decl: ElemId,
    },
    Wildcard(Wildcard),
}

impl Term {
    pub(crate) fn matches(&self, ns: NsId, local: &str) -> bool {
        match self {
            Term::Element {
                ns: n, local: l, ..
            } => *n == ns && &**l == local,
            Term::Wildcard(w) => w.ns.allows(ns),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Transition {
    pub(crate) term: Term,
    pub(crate) target: u32,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub(crate) transitions: Vec<Transition>,
    pub(crate) accepting: bool,
}

/// A deterministic automaton over child element names; state 0 is the start state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Automaton {
    pub(crate) states: Vec<State>,
}

/// `xs:all`: each member at most once, in any order.
#[derive(Debug, Clone)]
pub(crate) struct AllModel {
    /// Per member: the names it matches (the element and its substitutes) and whether it is
    /// required.
    pub(crate) members: Vec<(Vec<Term>, bool)>,
    /// `minOccurs="0"` on the all group: no children at all is valid too.
    pub(crate) emptiable: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum ContentModel {
    Automaton(Automaton),
    All(AllModel),
}

#[derive(Debug, Clone)]
pub(crate) enum ContentType {
    Empty,
    Simple(SimpleTypeId),
    Elements { model: ContentModel, mixed: bool },
}

#[derive(Debug, Clone)]
pub(crate) struct ComplexType {
    pub(crate) name: Option<QName>,
    pub(crate) base: TypeRef,
    pub(crate) derivation: Derivation,
    pub(crate) is_abstract: bool,
    pub(crate) block: Derivations,
    pub(crate) final_: Derivations,
    pub(crate) attributes: Vec<AttributeUse>,
    pub(crate) attribute_wildcard: Option<Wildcard>,
    pub(crate) content: ContentType,
}

/// Name-keyed lookup that borrows the local name at query time.
#[derive(Debug)]
pub(crate) struct NameMap<T> {
    by_ns: HashMap<NsId, HashMap<Box<str>, T>>,
}

impl<T> Default for NameMap<T> {
    fn default() -> Self {
        NameMap {
            by_ns: HashMap::new(),
        }
    }
}

impl<T: Copy> NameMap<T> {
    pub(crate) fn get(&self, ns: NsId, local: &str) -> Option<T> {
        self.by_ns.get(&ns).and_then(|m| m.get(local)).copied()
    }
}

impl<T> NameMap<T> {
    pub(crate) fn get_ref(&self, ns: NsId, local: &str) -> Option<&T> {
        self.by_ns.get(&ns).and_then(|m| m.get(local))
    }

    pub(crate) fn insert(&mut self, name: &QName, value: T) -> Option<T> {
        self.by_ns
            .entry(name.ns)
            .or_default()
            .insert(name.local.clone(), value)
    }
}

/// Everything a validator needs; immutable after compilation.
#[derive(Debug)]
pub(crate) struct SchemaSet {
    pub(crate) ns: NsTable,
    pub(crate) simple_types: Vec<SimpleType>,
    pub(crate) complex_types: Vec<ComplexType>,
    pub(crate) elements: Vec<ElementDecl>,
    pub(crate) global_elements: NameMap<ElemId>,
    pub(crate) global_types: NameMap<TypeRef>,
    pub(crate) global_attributes: NameMap<AttributeUse>,
    /// Per simple type: whether its values need namespace bindings (QName content).
    pub(crate) ns_needed: Vec<bool>,
}

impl SchemaSet {
    // Invariant for the three accessors below: ids are minted only by the compiler, for
    // entries it pushes into this same schema set; they never come from input.

    pub(crate) fn element(&self, id: ElemId) -> &ElementDecl {
        &self.elements[id.0 as usize]
    }

    pub(crate) fn complex(&self, id: ComplexTypeId) -> &ComplexType {
        &self.complex_types[id.0 as usize]
    }

    /// Whether `derived` is `base` or derives from it, using none of the `blocked` methods
    /// (XSD 1.0 "Type Derivation OK"). Also returns true for any type against anyType.
    pub(crate) fn derives_from(&self, derived: TypeRef, base: TypeRef, blocked: u8) -> bool {
        let mut cur = derived;
        loop {
            if cur == base {
                return true;
            }
            let (next, method) = match cur {
                TypeRef::Complex(id) => {
                    if id == ANY_TYPE {
                        return false;
                    }
                    let ct = self.complex(id);
                    let m = match ct.derivation {
                        Derivation::Extension => Derivations::EXTENSION,
                        Derivation::Restriction => Derivations::RESTRICTION,
                    };
                    (ct.base, m)
                }
                TypeRef::Simple(id) => {
                    let st = self.simple(id);
                    match st.base {
                        Some(b) => (TypeRef::Simple(b), Derivations::RESTRICTION),
                        None => (TypeRef::Complex(ANY_TYPE), Derivations::RESTRICTION),
                    }
                }
            };
            if blocked & method != 0 {
                return false;
            }
            cur = next;
        }
    }

    pub(crate) fn type_name(&self, t: TypeRef) -> String {
        match t {
            TypeRef::Simple(id) => self.simple_name(id),
            TypeRef::Complex(id) => match &self.complex(id).name {
                Some(q) => self.qname_string(q),
                None => "(anonymous complex type)".into(),
            },
        }
    }

    pub(crate) fn qname_string(&self, q: &QName) -> String {
        if q.ns == NsId::NONE {
            q.local.to_string()
        } else if self.ns.uri(q.ns) == crate::names::XS {
            format!("xs:{}", q.local)
        } else {
            format!("{{{}}}{}", self.ns.uri(q.ns), q.local)
        }
    }
}

impl SimpleTypes for SchemaSet {
    fn simple(&self, id: SimpleTypeId) -> &SimpleType {
        &self.simple_types[id.0 as usize]
    }

    fn simple_name(&self, id: SimpleTypeId) -> String {
        match &self.simple(id).name {
            Some(q) => self.qname_string(q),
            None => match self.simple(id).base {
                Some(b) => format!("(anonymous, derived from {})", self.simple_name_shallow(b)),
                None => "(anonymous simple type)".into(),
            },
        }
    }
}

impl SchemaSet {
    /// Whether values of the simple type need namespace bindings (QName content).
    pub(crate) fn needs_ns(&self, id: SimpleTypeId) -> bool {
        self.ns_needed.get(id.0 as usize).copied().unwrap_or(false)
    }

    /// Fills `ns_needed`; called once the simple types are final.
    pub(crate) fn compute_ns_needed(&mut self) {
        self.ns_needed = (0..self.simple_types.len())
            .map(|i| self.needs_ns_uncached(SimpleTypeId(u32::try_from(i).unwrap_or(u32::MAX))))
            .collect();
    }

    fn needs_ns_uncached(&self, id: SimpleTypeId) -> bool {
        use crate::types::simple::Variety;
        let st = self.simple(id);
        match &st.variety {
            Variety::Atomic => st.builtin.primitive() == Builtin::QName,
            Variety::List(item) => self.needs_ns_uncached(*item),
            Variety::Union(members) => members.iter().any(|m| self.needs_ns_uncached(*m)),
        }
    }

    fn simple_name_shallow(&self, id: SimpleTypeId) -> String {
        match &self.simple(id).name {
            Some(q) => self.qname_string(q),
            None => "an anonymous type".into(),
        }
    }
}

/// The built-in simple types, in `Builtin` discriminant order.
pub(crate) fn builtin_simple_types(ns: &mut NsTable) -> Vec<SimpleType> {
    use crate::types::simple::{Facets, Variety};
    let xs = ns.intern(crate::names::XS);
    ALL.iter()
        .map(|&b| SimpleType {
            name: Some(QName::new(xs, b.name())),
            base: b.base().map(SimpleTypeId::builtin),
            variety: match b.list_item() {
                Some(item) => Variety::List(SimpleTypeId::builtin(item)),
                None => Variety::Atomic,
            },
            builtin: b,
            whitespace: b.whitespace(),
            facets: Facets::default(),
            final_: Derivations::default(),
            prenormalize: false,
        })
        .collect()
}
