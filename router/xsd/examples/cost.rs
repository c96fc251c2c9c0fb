//! Validation cost per message, for measurements on a shared machine where criterion's
//! wall-clock figures swing with the load. Validates one message N times in a loop:
//!
//! ```sh
//! cargo build --release -p xoev-xsd --example cost
//! perf stat -e task-clock target/release/examples/cost events FILE.xml 20000
//! perf stat -e task-clock target/release/examples/cost none FILE.xml 0   # baseline
//! ```
//!
//! (task-clock of the first minus the baseline) / N is the CPU time per message. Modes:
//! `bytes` (`validate_bytes`), `events` (the streaming validator alone, fed pre-parsed events,
//! as the router does), `compile` (the schema), `none`. The schema is XWasser
//! `xwasser-vorgang.xsd`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use xoev_xsd::{
    AttributeEvent, Catalog, NamespaceScope, Schema, StartElement, Validator, validate_bytes,
};

struct Scope(Vec<(Option<String>, String)>);

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

enum Ev {
    Start(
        Option<String>,
        String,
        Vec<(Option<String>, String, String)>,
    ),
    Text(String),
    End,
}

fn bound(r: ResolveResult<'_>) -> Option<String> {
    match r {
        ResolveResult::Bound(n) => Some(n.into_inner().to_owned()),
        _ => None,
    }
}

fn events(xml: &[u8]) -> Result<(Vec<Ev>, Scope), quick_xml::Error> {
    let mut reader = quick_xml::NsReader::from_reader(xml);
    reader.config_mut().expand_empty_elements = true;
    let (mut out, mut scope, mut buf) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        let (res, ev) = reader.read_resolved_event_into(&mut buf)?;
        match ev {
            Event::Start(s) => {
                let ns = bound(res);
                let mut attrs = Vec::new();
                for a in s.attributes().flatten() {
                    let key = a.key.into_inner().to_owned();
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)?
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
                out.push(Ev::Start(ns, s.local_name().into_inner().to_owned(), attrs));
            }
            Event::End(_) => out.push(Ev::End),
            Event::Text(t) => out.push(Ev::Text(t.xml10_content().into_owned())),
            Event::CData(t) => out.push(Ev::Text(t.xml10_content().into_owned())),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok((out, Scope(scope)))
}

fn replay(schema: &Schema, evs: &[Ev], scope: &Scope) -> Result<(), xoev_xsd::Violation> {
    let mut v = Validator::new(schema);
    for e in evs {
        match e {
            Ev::Start(ns, local, attrs) => {
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
                })?;
            }
            Ev::Text(t) => v.text(t)?,
            Ev::End => v.end_element()?,
        }
    }
    v.finish()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(file), Some(n)) = (
        args.get(1),
        args.get(2),
        args.get(3).and_then(|n| n.parse::<u32>().ok()),
    ) else {
        eprintln!("usage: cost bytes|events|compile|none FILE.xml N");
        return ExitCode::from(2);
    };
    let xsd = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/xwasser-1.0.0");
    let compile = || -> Result<Schema, xoev_xsd::CompileError> {
        let catalog = Catalog::load(&xsd.join("catalog.xml"))?;
        Schema::compile_file(&xsd.join("V1_0_0/xwasser-vorgang.xsd"), Some(&catalog))
    };
    let (schema, xml) = match (compile(), std::fs::read(file)) {
        (Ok(s), Ok(x)) => (s, x),
        (Err(e), _) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
        (_, Err(e)) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(2);
        }
    };
    let Ok((evs, scope)) = events(&xml) else {
        eprintln!("{file}: not well-formed");
        return ExitCode::from(2);
    };
    let start = Instant::now();
    for _ in 0..n {
        let result = match mode.as_str() {
            "bytes" => validate_bytes(&schema, std::hint::black_box(&xml)),
            "events" => replay(&schema, std::hint::black_box(&evs), &scope),
            "compile" => {
                std::hint::black_box(compile().ok());
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(v) = result {
            eprintln!("{file}: {v}");
            return ExitCode::from(1);
        }
    }
    if n > 0 {
        eprintln!(
            "{mode}: {:.1} us per iteration (wall clock)",
            start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
    }
    ExitCode::SUCCESS
}
