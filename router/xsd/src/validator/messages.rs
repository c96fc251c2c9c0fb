//! One-line descriptions of names and of what a content model expects.

use crate::model::{SchemaSet, Term, Transition};
use crate::names::NsId;
use crate::types::simple::shorten;
use crate::validator::{AttributeEvent, StartElement};

/// `{namespace}local`, shortened: names come from the input and messages stay bounded.
fn clark(ns: Option<&str>, local: &str) -> String {
    match ns {
        Some(ns) if !ns.is_empty() => format!("{{{}}}{}", shorten(ns), shorten(local)),
        _ => shorten(local),
    }
}

pub(super) fn display_name(el: &StartElement<'_>) -> String {
    clark(el.namespace, el.local_name)
}

pub(super) fn attr_display(a: &AttributeEvent<'_>) -> String {
    clark(a.namespace, a.local_name)
}

/// "one of: a, b, c" (or "end of element" when nothing may follow).
pub(super) fn expected_list(
    set: &SchemaSet,
    transitions: &[Transition],
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
