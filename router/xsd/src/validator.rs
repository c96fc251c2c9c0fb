//! Streaming validation driven by element events.
//!
//! State is one small frame per open element (its content-model state), one text buffer for the
//! innermost element when its content is simple, and the set of `xs:ID` values seen. Nothing else
//! grows with the document. Depth and buffered text are bounded by [`Limits`]. After the first
//! violation the validator is poisoned: every further call returns that same violation.

use std::collections::HashSet;

use crate::error::{Violation, ViolationKind};
use crate::model::{
    ComplexTypeId, ContentModel, ContentType, Derivations, ElemId, ProcessContents, SchemaSet,
    SimpleTypeId, Term, TypeRef,
};
use crate::names::{NsId, XSI};
use crate::types::builtin::Builtin;
use crate::types::simple::{self, SimpleTypes, Variety, is_xml_space, shorten};
use crate::types::value::Value;
use crate::{NamespaceScope, Schema, xmlchar};

/// An attribute of a start tag (namespace declarations excluded). `value` is the attribute
/// value after XML attribute-value normalisation (references expanded, line breaks and tabs
/// replaced by spaces), as an XML parser reports it.
#[derive(Debug, Clone, Copy)]
pub struct AttributeEvent<'a> {
    /// Namespace URI, None for an unprefixed attribute.
    pub namespace: Option<&'a str>,
    pub local_name: &'a str,
    pub value: &'a str,
}

/// A start tag.
pub struct StartElement<'a> {
    /// Namespace URI, None when the element is in no namespace.
    pub namespace: Option<&'a str>,
    pub local_name: &'a str,
    /// The attributes, namespace declarations excluded.
    pub attributes: &'a [AttributeEvent<'a>],
    /// The namespace bindings in scope at this element (for QName values and `xsi:type`).
    pub namespaces: &'a dyn NamespaceScope,
    /// 1-based position of the start tag, for messages (0 when unknown).
    pub line: u32,
    pub column: u32,
}

/// Bounds on validator state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum element nesting depth.
    pub max_depth: usize,
    /// Maximum characters buffered for one element with simple content.
    pub max_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_text: 64 << 20,
        }
    }
}

enum Kind {
    Automaton {
        ct: ComplexTypeId,
        state: u32,
        mixed: bool,
    },
    All {
        ct: ComplexTypeId,
        seen: u64,
        mixed: bool,
    },
    Simple {
        st: SimpleTypeId,
    },
    Empty,
    Nilled,
    /// An element matched by a lax wildcard (or inside one) without a declaration: its children
    /// are validated only when they have global declarations.
    Lax,
}

struct Frame {
    kind: Kind,
    decl: Option<ElemId>,
    path_len: usize,
    line: u32,
    column: u32,
    /// Namespace bindings captured at the start tag, for QName-valued simple content.
    scope: Option<Box<Snapshot>>,
}

/// A copy of the bindings in scope, for values validated after the start tag has gone.
struct Snapshot(Vec<(Option<String>, String)>);

impl NamespaceScope for Snapshot {
    fn resolve(&self, prefix: Option<&str>) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .map(|(_, u)| u.as_str())
            .filter(|u| !u.is_empty())
    }

    fn for_each_binding(&self, f: &mut dyn FnMut(Option<&str>, &str)) {
        for (p, u) in &self.0 {
            f(p.as_deref(), u);
        }
    }
}

struct NoBindings;

impl NamespaceScope for NoBindings {
    fn resolve(&self, _prefix: Option<&str>) -> Option<&str> {
        None
    }
    fn for_each_binding(&self, _f: &mut dyn FnMut(Option<&str>, &str)) {}
}

enum Target {
    Decl(ElemId),
    Wild(ProcessContents),
    LaxUnknown,
}

/// Validates one document, fed as events. Create one per document.
pub struct Validator<'s> {
    set: &'s SchemaSet,
    limits: Limits,
    stack: Vec<Frame>,
    path: String,
    text: String,
    ids: HashSet<Box<str>>,
    skip_depth: usize,
    root_done: bool,
    failed: Option<Violation>,
    ns_cache: Vec<(String, NsId)>,
}

impl<'s> Validator<'s> {
    /// A validator with the default [`Limits`].
    pub fn new(schema: &'s Schema) -> Self {
        Self::with_limits(schema, Limits::default())
    }

    pub fn with_limits(schema: &'s Schema, limits: Limits) -> Self {
        Validator {
            set: schema.set(),
            limits,
            stack: Vec::with_capacity(16),
            path: String::with_capacity(128),
            text: String::new(),
            ids: HashSet::new(),
            skip_depth: 0,
            root_done: false,
            failed: None,
            ns_cache: Vec::with_capacity(4),
        }
    }

    fn fail<T>(
        &mut self,
        kind: ViolationKind,
        line: u32,
        column: u32,
        message: String,
        expected: Option<String>,
    ) -> Result<T, Violation> {
        let path = if self.path.is_empty() {
            "/".to_owned()
        } else {
            self.path.clone()
        };
        let v = Violation {
            path,
            line,
            column,
            message,
            expected,
            kind,
        };
        self.failed = Some(v.clone());
        Err(v)
    }

    fn ns_id(&mut self, ns: Option<&str>) -> NsId {
        let Some(uri) = ns.filter(|u| !u.is_empty()) else {
            return NsId::NONE;
        };
        if let Some((_, id)) = self.ns_cache.iter().find(|(u, _)| u == uri) {
            return *id;
        }
        let id = self.set.ns.lookup(Some(uri));
        if self.ns_cache.len() >= 8 {
            self.ns_cache.remove(0);
        }
        self.ns_cache.push((uri.to_owned(), id));
        id
    }

    /// Whether an element `{namespace}local_name` starting now would be accepted by the
    /// content model of the open element (or, before the root, has a global declaration).
    /// Checks the name only, not the element's own content. The router uses it to decide
    /// whether the enveloped `ds:Signature` it has verified belongs to the message's schema
    /// (as in XWasser `vorgang.transportieren.2010`) or must be left out of validation.
    pub fn accepts_child(&self, namespace: Option<&str>, local_name: &str) -> bool {
        if self.failed.is_some() {
            return false;
        }
        if self.skip_depth > 0 {
            return true;
        }
        let ns = self.set.ns.lookup(namespace);
        let Some(frame) = self.stack.last() else {
            return !self.root_done && self.set.global_elements.get(ns, local_name).is_some();
        };
        match &frame.kind {
            Kind::Automaton { ct, state, .. } => match &self.set.complex(*ct).content {
                ContentType::Elements {
                    model: ContentModel::Automaton(a),
                    ..
                } => a
                    .states
                    .get(*state as usize)
                    .is_some_and(|s| s.transitions.iter().any(|t| t.term.matches(ns, local_name))),
                _ => false,
            },
            Kind::All { ct, seen, .. } => match &self.set.complex(*ct).content {
                ContentType::Elements {
                    model: ContentModel::All(all),
                    ..
                } => all.members.iter().enumerate().any(|(i, (terms, _))| {
                    *seen & (1u64 << i) == 0 && terms.iter().any(|t| t.matches(ns, local_name))
                }),
                _ => false,
            },
            Kind::Lax => true,
            Kind::Simple { .. } | Kind::Empty | Kind::Nilled => false,
        }
    }

    /// An element starts.
    pub fn start_element(&mut self, el: &StartElement<'_>) -> Result<(), Violation> {
        if let Some(v) = &self.failed {
            return Err(v.clone());
        }
        if self.skip_depth > 0 {
            self.skip_depth += 1;
            return Ok(());
        }
        let path_len = self.path.len();
        self.path.push('/');
        self.path.push_str(el.local_name);
        let (line, column) = (el.line, el.column);
        if self.stack.len() >= self.limits.max_depth {
            let max = self.limits.max_depth;
            return self.fail(
                ViolationKind::LimitExceeded,
                line,
                column,
                format!("elements nested deeper than {max}"),
                None,
            );
        }
        let ns = self.ns_id(el.namespace);
        let target = match self.stack.last_mut() {
            None => {
                if self.root_done {
                    return self.fail(
                        ViolationKind::Malformed,
                        line,
                        column,
                        "a second root element".into(),
                        None,
                    );
                }
                match self.set.global_elements.get(ns, el.local_name) {
                    Some(d) => Target::Decl(d),
                    None => {
                        return self.fail(
                            ViolationKind::UndeclaredRoot,
                            line,
                            column,
                            format!(
                                "no global declaration for root element {}",
                                display_name(el)
                            ),
                            None,
                        );
                    }
                }
            }
            Some(parent) => {
                match &mut parent.kind {
                    Kind::Automaton { ct, state, .. } => {
                        let ContentType::Elements {
                            model: ContentModel::Automaton(a),
                            ..
                        } = &self.set.complex(*ct).content
                        else {
                            return Ok(());
                        };
                        let st = a.states.get(*state as usize);
                        match st.and_then(|s| {
                            s.transitions
                                .iter()
                                .find(|t| t.term.matches(ns, el.local_name))
                        }) {
                            Some(t) => {
                                *state = t.target;
                                match &t.term {
                                    Term::Element { decl, .. } => Target::Decl(*decl),
                                    Term::Wildcard(w) => Target::Wild(w.process),
                                }
                            }
                            None => {
                                let expected = st
                                    .map(|s| expected_list(self.set, &s.transitions, s.accepting));
                                return self.fail(
                                    ViolationKind::UnexpectedElement,
                                    line,
                                    column,
                                    format!("element {} is not expected here", display_name(el)),
                                    expected,
                                );
                            }
                        }
                    }
                    Kind::All { ct, seen, .. } => {
                        let ContentType::Elements {
                            model: ContentModel::All(all),
                            ..
                        } = &self.set.complex(*ct).content
                        else {
                            return Ok(());
                        };
                        let found = all.members.iter().enumerate().find_map(|(i, (terms, _))| {
                            terms
                                .iter()
                                .find(|t| t.matches(ns, el.local_name))
                                .map(|t| (i, t))
                        });
                        match found {
                            Some((i, t)) if *seen & (1u64 << i) == 0 => {
                                *seen |= 1u64 << i;
                                match t {
                                    Term::Element { decl, .. } => Target::Decl(*decl),
                                    Term::Wildcard(w) => Target::Wild(w.process),
                                }
                            }
                            _ => {
                                let remaining: Vec<_> = all
                                    .members
                                    .iter()
                                    .enumerate()
                                    .filter(|(i, _)| *seen & (1u64 << i) == 0)
                                    .flat_map(|(_, (terms, _))| terms.iter().cloned())
                                    .collect();
                                let transitions: Vec<crate::model::Transition> = remaining
                                    .into_iter()
                                    .map(|term| crate::model::Transition { term, target: 0 })
                                    .collect();
                                let expected = expected_list(self.set, &transitions, false);
                                return self.fail(
                                    ViolationKind::UnexpectedElement,
                                    line,
                                    column,
                                    format!("element {} is not expected here", display_name(el)),
                                    Some(expected),
                                );
                            }
                        }
                    }
                    Kind::Simple { .. } | Kind::Empty => {
                        return self.fail(
                        ViolationKind::UnexpectedElement,
                        line,
                        column,
                        format!("element {} is not expected: the parent's content allows no elements", display_name(el)),
                        None,
                    );
                    }
                    Kind::Nilled => {
                        return self.fail(
                            ViolationKind::InvalidNil,
                            line,
                            column,
                            format!(
                                "element {} inside an element with xsi:nil=\"true\"",
                                display_name(el)
                            ),
                            None,
                        );
                    }
                    Kind::Lax => match self.set.global_elements.get(ns, el.local_name) {
                        Some(d) => Target::Decl(d),
                        None => Target::LaxUnknown,
                    },
                }
            }
        };
        let decl = match target {
            Target::Decl(d) => d,
            Target::Wild(ProcessContents::Skip) => {
                self.path.truncate(path_len);
                self.skip_depth = 1;
                return Ok(());
            }
            Target::Wild(process) => {
                match self.set.global_elements.get(ns, el.local_name) {
                    Some(d) => d,
                    None if process == ProcessContents::Strict => {
                        return self.fail(
                        ViolationKind::UnexpectedElement,
                        line,
                        column,
                        format!("no global declaration for element {} (demanded by a strict wildcard)", display_name(el)),
                        None,
                    );
                    }
                    None => return self.enter_lax(el, path_len),
                }
            }
            Target::LaxUnknown => return self.enter_lax(el, path_len),
        };
        self.enter_declared(decl, el, path_len)
    }

    /// An element matched laxly without declaration: `xsi:type` still applies when given.
    fn enter_lax(&mut self, el: &StartElement<'_>, path_len: usize) -> Result<(), Violation> {
        if let Some(v) = xsi_attr(el, "type") {
            let ty = self.resolve_xsi_type(el, v)?;
            return self.enter_typed(None, ty, false, el, path_len);
        }
        // Attributes are assessed laxly: checked only where a global declaration exists.
        for a in el.attributes {
            if a.namespace == Some(XSI) {
                continue;
            }
            let ans = self.ns_id(a.namespace);
            if let Some(decl) = self.set.global_attributes.get_ref(ans, a.local_name) {
                let (ty, name) = (decl.ty, a.local_name.to_owned());
                self.check_attribute_value(el, ty, &name, a.value, None)?;
            }
        }
        self.stack.push(Frame {
            kind: Kind::Lax,
            decl: None,
            path_len,
            line: el.line,
            column: el.column,
            scope: None,
        });
        Ok(())
    }

    fn resolve_xsi_type(
        &mut self,
        el: &StartElement<'_>,
        value: &str,
    ) -> Result<TypeRef, Violation> {
        let (line, column) = (el.line, el.column);
        // libxml2 does not strip whitespace around an xsi:type value.
        let v = value;
        let Some((prefix, local)) = xmlchar::split_qname(v) else {
            return self.fail(
                ViolationKind::InvalidXsiType,
                line,
                column,
                format!("xsi:type value '{}' is not a QName", shorten(v)),
                None,
            );
        };
        let uri = match prefix {
            Some(p) => match el.namespaces.resolve(Some(p)) {
                Some(u) => Some(u),
                None => {
                    return self.fail(
                        ViolationKind::InvalidXsiType,
                        line,
                        column,
                        format!("xsi:type prefix '{p}' is not bound"),
                        None,
                    );
                }
            },
            None => el.namespaces.resolve(None),
        };
        if uri == Some(crate::names::XS) && local == "anyType" {
            return Ok(TypeRef::Complex(crate::model::ANY_TYPE));
        }
        if uri == Some(crate::names::XS)
            && let Some(b) = Builtin::by_name(local)
        {
            return Ok(TypeRef::Simple(SimpleTypeId::builtin(b)));
        }
        let ns = self.ns_id(uri);
        match self.set.global_types.get(ns, local) {
            Some(t) => Ok(t),
            None => self.fail(
                ViolationKind::InvalidXsiType,
                line,
                column,
                format!("xsi:type names an unknown type '{}'", shorten(v)),
                None,
            ),
        }
    }

    fn enter_declared(
        &mut self,
        decl_id: ElemId,
        el: &StartElement<'_>,
        path_len: usize,
    ) -> Result<(), Violation> {
        let set = self.set;
        let decl = set.element(decl_id);
        let (line, column) = (el.line, el.column);
        if decl.is_abstract {
            return self.fail(
                ViolationKind::AbstractElement,
                line,
                column,
                format!("element {} is declared abstract", display_name(el)),
                None,
            );
        }
        let mut ty = decl.ty;
        if let Some(v) = xsi_attr(el, "type") {
            let t = self.resolve_xsi_type(el, v)?;
            let mut blocked = decl.block.0 & (Derivations::EXTENSION | Derivations::RESTRICTION);
            if let TypeRef::Complex(c) = decl.ty {
                blocked |= set.complex(c).block.0;
            }
            if !set.derives_from(t, decl.ty, blocked) {
                return self.fail(
                    ViolationKind::InvalidXsiType,
                    line,
                    column,
                    format!(
                        "xsi:type {} is not validly derived from the declared type {}",
                        set.type_name(t),
                        set.type_name(decl.ty)
                    ),
                    None,
                );
            }
            ty = t;
        }
        let mut nilled = false;
        if let Some(v) = xsi_attr(el, "nil") {
            if !decl.nillable {
                return self.fail(
                    ViolationKind::InvalidNil,
                    line,
                    column,
                    format!("element {} is not nillable", display_name(el)),
                    None,
                );
            }
            nilled = match v.trim_matches(is_xml_space) {
                "true" | "1" => true,
                "false" | "0" => false,
                other => {
                    return self.fail(
                        ViolationKind::InvalidValue,
                        line,
                        column,
                        format!("xsi:nil value '{}' is not a boolean", shorten(other)),
                        None,
                    );
                }
            };
            if nilled && decl.constraint.as_ref().is_some_and(|c| c.fixed) {
                return self.fail(
                    ViolationKind::InvalidNil,
                    line,
                    column,
                    "a nilled element cannot have a fixed value".into(),
                    None,
                );
            }
        }
        self.enter_typed(Some(decl_id), ty, nilled, el, path_len)
    }

    fn enter_typed(
        &mut self,
        decl: Option<ElemId>,
        ty: TypeRef,
        nilled: bool,
        el: &StartElement<'_>,
        path_len: usize,
    ) -> Result<(), Violation> {
        let set = self.set;
        if let TypeRef::Complex(c) = ty
            && set.complex(c).is_abstract
        {
            return self.fail(
                ViolationKind::AbstractType,
                el.line,
                el.column,
                format!(
                    "type {} of element {} is abstract",
                    set.type_name(ty),
                    display_name(el)
                ),
                None,
            );
        }
        self.check_attributes(ty, el)?;
        let kind = if nilled {
            Kind::Nilled
        } else {
            match ty {
                TypeRef::Simple(st) => Kind::Simple { st },
                TypeRef::Complex(ct) => match &set.complex(ct).content {
                    ContentType::Empty => Kind::Empty,
                    ContentType::Simple(st) => Kind::Simple { st: *st },
                    ContentType::Elements {
                        model: ContentModel::Automaton(_),
                        mixed,
                    } => Kind::Automaton {
                        ct,
                        state: 0,
                        mixed: *mixed,
                    },
                    ContentType::Elements {
                        model: ContentModel::All(_),
                        mixed,
                    } => Kind::All {
                        ct,
                        seen: 0,
                        mixed: *mixed,
                    },
                },
            }
        };
        let scope = match kind {
            Kind::Simple { st } if set.needs_ns(st) => {
                let mut bindings = Vec::new();
                el.namespaces.for_each_binding(&mut |p, u| {
                    bindings.push((p.map(str::to_owned), u.to_owned()))
                });
                Some(Box::new(Snapshot(bindings)))
            }
            _ => None,
        };
        self.text.clear();
        self.stack.push(Frame {
            kind,
            decl,
            path_len,
            line: el.line,
            column: el.column,
            scope,
        });
        Ok(())
    }

    fn check_attributes(&mut self, ty: TypeRef, el: &StartElement<'_>) -> Result<(), Violation> {
        let set = self.set;
        let (uses, wildcard) = match ty {
            TypeRef::Simple(_) => (&[][..], None),
            TypeRef::Complex(c) => {
                let ct = set.complex(c);
                (&ct.attributes[..], ct.attribute_wildcard.as_ref())
            }
        };
        for a in el.attributes {
            if a.namespace == Some(XSI)
                && matches!(
                    a.local_name,
                    "type" | "nil" | "schemaLocation" | "noNamespaceSchemaLocation"
                )
            {
                continue;
            }
            let ans = self.ns_id(a.namespace);
            if let Some(u) = uses
                .iter()
                .find(|u| u.name.ns == ans && &*u.name.local == a.local_name)
            {
                let fixed = u.constraint.as_ref().filter(|c| c.fixed);
                self.check_attribute_value(el, u.ty, a.local_name, a.value, fixed)?;
                continue;
            }
            match wildcard {
                Some(w) if w.ns.allows(ans) => match w.process {
                    ProcessContents::Skip => {}
                    process => match set.global_attributes.get_ref(ans, a.local_name) {
                        Some(d) => {
                            let fixed = d.constraint.as_ref().filter(|c| c.fixed);
                            self.check_attribute_value(el, d.ty, a.local_name, a.value, fixed)?;
                        }
                        None if process == ProcessContents::Strict => {
                            return self.fail(
                                ViolationKind::UnexpectedAttribute,
                                el.line,
                                el.column,
                                format!("no global declaration for attribute {} (demanded by a strict wildcard)", a.local_name),
                                None,
                            );
                        }
                        None => {}
                    },
                },
                _ => {
                    return self.fail(
                        ViolationKind::UnexpectedAttribute,
                        el.line,
                        el.column,
                        format!(
                            "attribute {} is not allowed on element {}",
                            attr_display(a),
                            display_name(el)
                        ),
                        None,
                    );
                }
            }
        }
        for u in uses.iter().filter(|u| u.required) {
            let present = el.attributes.iter().any(|a| {
                &*u.name.local == a.local_name && self.set.ns.lookup(a.namespace) == u.name.ns
            });
            if !present {
                return self.fail(
                    ViolationKind::MissingAttribute,
                    el.line,
                    el.column,
                    format!("required attribute {} is missing", u.name.local),
                    None,
                );
            }
        }
        Ok(())
    }

    fn check_attribute_value(
        &mut self,
        el: &StartElement<'_>,
        ty: SimpleTypeId,
        name: &str,
        value: &str,
        fixed: Option<&crate::model::ValueConstraint>,
    ) -> Result<(), Violation> {
        let set = self.set;
        // libxml2 whitespace-normalises the value of an attribute that has a fixed value.
        match simple::validate_as(set, ty, value, el.namespaces, fixed.is_some()) {
            Ok(v) => {
                if let Some(c) = fixed
                    && c.value.as_ref().is_some_and(|f| !v.equals(f))
                {
                    let lexical = &c.lexical;
                    return self.fail(
                        ViolationKind::FixedValueMismatch,
                        el.line,
                        el.column,
                        format!(
                            "attribute {name} has value '{}' but is fixed",
                            shorten(value)
                        ),
                        Some(format!("'{lexical}'")),
                    );
                }
                self.register_ids(ty, &v, el.line, el.column)
            }
            Err(e) => self.fail(
                ViolationKind::InvalidValue,
                el.line,
                el.column,
                format!("attribute {name}: {}", e.message),
                e.expected,
            ),
        }
    }

    /// Records `xs:ID` values; a repeated one is a violation.
    fn register_ids(
        &mut self,
        ty: SimpleTypeId,
        value: &Value,
        line: u32,
        column: u32,
    ) -> Result<(), Violation> {
        let set = self.set;
        let st = set.simple(ty);
        let ids: Vec<&str> = match (&st.variety, value) {
            (Variety::Atomic, Value::Str(s)) if st.builtin.derives_from(Builtin::Id) => vec![&**s],
            (Variety::List(item), Value::List(items))
                if set.simple(*item).builtin.derives_from(Builtin::Id) =>
            {
                items
                    .iter()
                    .filter_map(|v| match v {
                        Value::Str(s) => Some(&**s),
                        _ => None,
                    })
                    .collect()
            }
            _ => return Ok(()),
        };
        for id in ids {
            if !self.ids.insert(id.into()) {
                return self.fail(
                    ViolationKind::DuplicateId,
                    line,
                    column,
                    format!("ID value '{}' is not unique", shorten(id)),
                    None,
                );
            }
        }
        Ok(())
    }

    /// Character data (already unescaped; CDATA sections too). May come in several pieces.
    pub fn text(&mut self, text: &str) -> Result<(), Violation> {
        if let Some(v) = &self.failed {
            return Err(v.clone());
        }
        if self.skip_depth > 0 || text.is_empty() {
            return Ok(());
        }
        let Some(frame) = self.stack.last() else {
            if text.chars().all(is_xml_space) {
                return Ok(());
            }
            return self.fail(
                ViolationKind::Malformed,
                0,
                0,
                "character data outside the root element".into(),
                None,
            );
        };
        let (line, column) = (frame.line, frame.column);
        match frame.kind {
            Kind::Simple { .. } => {
                if self.text.len() + text.len() > self.limits.max_text {
                    let max = self.limits.max_text;
                    return self.fail(
                        ViolationKind::LimitExceeded,
                        line,
                        column,
                        format!("element text longer than {max} bytes"),
                        None,
                    );
                }
                self.text.push_str(text);
                Ok(())
            }
            Kind::Automaton { mixed: true, .. } | Kind::All { mixed: true, .. } | Kind::Lax => {
                Ok(())
            }
            Kind::Automaton { .. } | Kind::All { .. } | Kind::Empty | Kind::Nilled => {
                // Element-only content may have whitespace; empty and nilled content may not
                // have any character data at all (XSD 1.0 cvc-complex-type.2.1, cvc-elt.3.2.1).
                let empty = matches!(frame.kind, Kind::Empty | Kind::Nilled);
                if !empty && text.chars().all(is_xml_space) {
                    return Ok(());
                }
                let nilled = matches!(frame.kind, Kind::Nilled);
                let (kind, message) = if nilled {
                    (
                        ViolationKind::InvalidNil,
                        "character data in an element with xsi:nil=\"true\"".to_owned(),
                    )
                } else if matches!(frame.kind, Kind::Empty) {
                    (
                        ViolationKind::UnexpectedText,
                        "character data in an element whose content must be empty".to_owned(),
                    )
                } else {
                    (
                        ViolationKind::UnexpectedText,
                        format!(
                            "character data '{}' in element-only content",
                            shorten(text.trim_matches(is_xml_space))
                        ),
                    )
                };
                self.fail(kind, line, column, message, None)
            }
        }
    }

    /// The innermost open element ends.
    pub fn end_element(&mut self) -> Result<(), Violation> {
        if let Some(v) = &self.failed {
            return Err(v.clone());
        }
        if self.skip_depth > 0 {
            self.skip_depth -= 1;
            return Ok(());
        }
        let Some(frame) = self.stack.pop() else {
            return self.fail(
                ViolationKind::Malformed,
                0,
                0,
                "end tag without start tag".into(),
                None,
            );
        };
        let set = self.set;
        let (line, column) = (frame.line, frame.column);
        match frame.kind {
            Kind::Automaton { ct, state, .. } => {
                if let ContentType::Elements {
                    model: ContentModel::Automaton(a),
                    ..
                } = &set.complex(ct).content
                    && let Some(s) = a.states.get(state as usize)
                    && !s.accepting
                {
                    let expected = expected_list(set, &s.transitions, false);
                    return self.fail(
                        ViolationKind::MissingElement,
                        line,
                        column,
                        "element content is incomplete".into(),
                        Some(expected),
                    );
                }
            }
            Kind::All { ct, seen, .. } => {
                if let ContentType::Elements {
                    model: ContentModel::All(all),
                    ..
                } = &set.complex(ct).content
                {
                    let empty_ok = seen == 0 && all.emptiable;
                    let missing: Vec<_> = all
                        .members
                        .iter()
                        .enumerate()
                        .filter(|(i, (_, required))| *required && seen & (1u64 << i) == 0)
                        .flat_map(|(_, (terms, _))| terms.first().cloned())
                        .map(|term| crate::model::Transition { term, target: 0 })
                        .collect();
                    if !empty_ok && !missing.is_empty() {
                        let expected = expected_list(set, &missing, false);
                        return self.fail(
                            ViolationKind::MissingElement,
                            line,
                            column,
                            "element content is incomplete".into(),
                            Some(expected),
                        );
                    }
                }
            }
            Kind::Simple { st } => {
                let text = std::mem::take(&mut self.text);
                let constraint = frame.decl.and_then(|d| set.element(d).constraint.as_ref());
                if text.is_empty() && constraint.is_some() {
                    // The default or fixed value applies; it was checked at compile time.
                } else {
                    let scope: &dyn NamespaceScope = match &frame.scope {
                        Some(s) => &**s,
                        None => &NoBindings,
                    };
                    if let Err(e) = simple::validate(set, st, &text, scope) {
                        return self.fail(
                            ViolationKind::InvalidValue,
                            line,
                            column,
                            e.message,
                            e.expected,
                        );
                    }
                    // libxml2 compares an element's fixed value as a string, not in the value
                    // space (so "05" differs from a fixed "5"; see docs).
                    if let Some(c) = constraint.filter(|c| c.fixed)
                        && *c.lexical != *text
                    {
                        return self.fail(
                            ViolationKind::FixedValueMismatch,
                            line,
                            column,
                            format!("value '{}' differs from the fixed value", shorten(&text)),
                            Some(format!("'{}'", c.lexical)),
                        );
                    }
                }
                self.text = text;
                self.text.clear();
            }
            Kind::Empty | Kind::Nilled | Kind::Lax => {}
        }
        self.path.truncate(frame.path_len);
        if self.stack.is_empty() {
            self.root_done = true;
        }
        Ok(())
    }

    /// The document ended; checks that it was complete.
    pub fn finish(self) -> Result<(), Violation> {
        let mut this = self;
        if let Some(v) = this.failed.take() {
            return Err(v);
        }
        if !this.stack.is_empty() || this.skip_depth > 0 {
            return this.fail(
                ViolationKind::Malformed,
                0,
                0,
                "the document ended inside an element".into(),
                None,
            );
        }
        if !this.root_done {
            return this.fail(
                ViolationKind::Malformed,
                0,
                0,
                "the document has no root element".into(),
                None,
            );
        }
        Ok(())
    }
}

fn xsi_attr<'a>(el: &StartElement<'a>, local: &str) -> Option<&'a str> {
    el.attributes
        .iter()
        .find(|a| a.namespace == Some(XSI) && a.local_name == local)
        .map(|a| a.value)
}

fn display_name(el: &StartElement<'_>) -> String {
    match el.namespace {
        Some(ns) if !ns.is_empty() => format!("{{{ns}}}{}", el.local_name),
        _ => el.local_name.to_owned(),
    }
}

fn attr_display(a: &AttributeEvent<'_>) -> String {
    match a.namespace {
        Some(ns) if !ns.is_empty() => format!("{{{ns}}}{}", a.local_name),
        _ => a.local_name.to_owned(),
    }
}

/// "one of: a, b, c" (or "end of element" when nothing may follow).
fn expected_list(
    set: &SchemaSet,
    transitions: &[crate::model::Transition],
    accepting: bool,
) -> String {
    let mut names: Vec<String> = Vec::new();
    for t in transitions {
        let n = match &t.term {
            Term::Element { ns, local, .. } if *ns == NsId::NONE => local.to_string(),
            Term::Element { ns, local, .. } => format!("{{{}}}{}", set.ns.uri(*ns), local),
            Term::Wildcard(_) => "any element allowed by a wildcard".into(),
        };
        if !names.contains(&n) {
            names.push(n);
        }
        if names.len() > 12 {
            names.push("...".into());
            break;
        }
    }
    if accepting {
        names.push("the end of the parent element".into());
    }
    match names.len() {
        0 => "no more child elements".into(),
        1 => names.remove(0),
        _ => format!("one of: {}", names.join(", ")),
    }
}
