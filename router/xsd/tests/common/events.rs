//! Replays a document into the event API, as the router does from its own tree. Shared by the
//! tests, the benchmark and the `cost` example (included there by path).
#![allow(dead_code)]

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use xoev_xsd::{AttributeEvent, NamespaceScope, Schema, StartElement, Validator, Violation};

/// Bindings collected from the whole document (the corpus declares them on the root).
pub struct Scope(pub Vec<(Option<String>, String)>);

impl NamespaceScope for Scope {
    fn resolve(&self, prefix: Option<&str>) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .map(|(_, u)| u.as_str())
    }
    fn for_each_binding(&self, f: &mut dyn FnMut(Option<&str>, &str)) {
        for (p, u) in &self.0 {
            f(p.as_deref(), u);
        }
    }
}

pub enum Ev {
    Start {
        ns: Option<String>,
        local: String,
        attrs: Vec<(Option<String>, String, String)>,
    },
    Text(String),
    End,
}

pub fn events(xml: &[u8]) -> (Vec<Ev>, Scope) {
    let mut reader = quick_xml::NsReader::from_reader(xml);
    reader.config_mut().expand_empty_elements = true;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut scope = Vec::new();
    let bound = |r: ResolveResult<'_>| match r {
        ResolveResult::Bound(n) => Some(n.into_inner().to_owned()),
        _ => None,
    };
    loop {
        let (res, ev) = reader
            .read_resolved_event_into(&mut buf)
            .expect("well-formed");
        match ev {
            Event::Start(s) => {
                let ns = bound(res);
                let mut attrs = Vec::new();
                for a in s.attributes() {
                    let a = a.expect("attribute");
                    let key = a.key.into_inner().to_owned();
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .expect("value")
                        .into_owned();
                    if key == "xmlns" {
                        scope.push((None, value));
                    } else if let Some(p) = key.strip_prefix("xmlns:") {
                        scope.push((Some(p.to_owned()), value));
                    } else {
                        let (r, local) = reader.resolver().resolve_attribute(a.key);
                        attrs.push((bound(r), local.into_inner().to_owned(), value));
                    }
                }
                out.push(Ev::Start {
                    ns,
                    local: s.local_name().into_inner().to_owned(),
                    attrs,
                });
            }
            Event::End(_) => out.push(Ev::End),
            Event::Text(t) => out.push(Ev::Text(t.xml10_content().into_owned())),
            Event::CData(t) => out.push(Ev::Text(t.xml10_content().into_owned())),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    (out, Scope(scope))
}

/// Feeds one event.
pub fn feed(v: &mut Validator<'_>, e: &Ev, scope: &Scope) -> Result<(), Violation> {
    match e {
        Ev::Start { ns, local, attrs } => {
            let attrs: Vec<AttributeEvent<'_>> = attrs
                .iter()
                .map(|(n, l, val)| AttributeEvent {
                    namespace: n.as_deref(),
                    local_name: l,
                    value: val,
                })
                .collect();
            v.start_element(&StartElement {
                namespace: ns.as_deref(),
                local_name: local,
                attributes: &attrs,
                namespaces: scope,
                line: 0,
                column: 0,
            })
        }
        Ev::Text(t) => v.text(t),
        Ev::End => v.end_element(),
    }
}

/// Validates a whole pre-parsed document through the event API.
pub fn replay(schema: &Schema, events: &[Ev], scope: &Scope) -> Result<(), Violation> {
    let mut v = Validator::new(schema);
    for e in events {
        feed(&mut v, e, scope)?;
    }
    v.finish()
}
