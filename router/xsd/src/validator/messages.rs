//! One-line descriptions of names and of what a content model expects.

use crate::model::{SchemaSet, Term, Transition};
use crate::names::NsId;
use crate::validator::{AttributeEvent, StartElement};

pub(super) fn display_name(el: &StartElement<'_>) -> String {
    match el.namespace {
        Some(ns) if !ns.is_empty() => format!("{{{ns}}}{}", el.local_name),
        _ => el.local_name.to_owned(),
    }
}

pub(super) fn attr_display(a: &AttributeEvent<'_>) -> String {
    match a.namespace {
        Some(ns) if !ns.is_empty() => format!("{{{ns}}}{}", a.local_name),
        _ => a.local_name.to_owned(),
    }
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
