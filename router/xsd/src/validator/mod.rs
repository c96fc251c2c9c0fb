//! Streaming validation driven by element events.
//!
//! State is one small frame per open element (its content-model state), one text buffer for the
//! innermost element when its content is simple, and the set of `xs:ID` values seen. Nothing else
//! grows with the document. Depth and buffered text are bounded by [`Limits`]. After the first
//! violation the validator is poisoned: every further call returns that same violation.

use std::collections::HashSet;

use crate::error::{Violation, ViolationKind};
use crate::model::{
    ComplexTypeId, ContentModel, ContentType, ElemId, ProcessContents, SchemaSet, SimpleTypeId,
    Term,
};
use crate::names::NsId;
use crate::types::simple::{self, is_xml_space, shorten};
use crate::{NamespaceScope, Schema};

mod attributes;
mod enter;
mod events;
mod messages;

pub use events::{AttributeEvent, Limits, StartElement};
use messages::{display_name, expected_list};

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

    /// A validator with explicit [`Limits`].
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
