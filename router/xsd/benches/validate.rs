//! Validation cost per message: `cargo bench -p xoev-xsd --bench validate`.
//!
//! - `bytes/*`: `validate_bytes` (quick-xml parsing + validation), what the CLI does;
//! - `events/*`: the streaming `Validator` alone, fed pre-parsed events, which is what the
//!   router pays on top of its own parse (it walks its verified tree).
//!
//! Messages: the corpus `nachricht_2020.xml` (4.2 KB, the 4 KiB case), `quality_report_minimal.xml`
//! (15 KB) and a 1 MB `vorgang.nachricht.2020` with 200 base64 attachments.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::events::Event;
use xoev_xsd::{
    AttributeEvent, Catalog, NamespaceScope, Schema, StartElement, Validator, validate_bytes,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> Schema {
    let xsd = dir().join("../../schemas/xwasser-1.0.0");
    let catalog = Catalog::load(&xsd.join("catalog.xml")).expect("catalog");
    Schema::compile_file(&xsd.join("V1_0_0/xwasser-vorgang.xsd"), Some(&catalog)).expect("schema")
}

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(dir().join("tests/corpus/instances").join(name)).expect("corpus file")
}

/// nachricht_2020 with its attachment repeated until the message is about 1 MB.
fn large_message() -> Vec<u8> {
    let text = String::from_utf8(corpus("nachricht_2020.xml")).expect("UTF-8");
    let start = text.find("<xwas:anlage").expect("an anlage element");
    let end =
        text[start..].find("</xwas:anlage>").expect("anlage end") + start + "</xwas:anlage>".len();
    let payload = "QUJD".repeat(1250);
    let mut anlagen = String::new();
    for i in 0..200 {
        let one = text[start..end]
            .replace("dokumentID=\"", &format!("dokumentID=\"b{i}-"))
            .replace("ID=\"rep-", &format!("ID=\"b{i}-rep-"));
        let one = match (one.find("<xwas:inhalt>"), one.find("</xwas:inhalt>")) {
            (Some(a), Some(b)) => format!("{}<xwas:inhalt>{payload}{}", &one[..a], &one[b..]),
            _ => one,
        };
        anlagen.push_str(&one);
    }
    format!("{}{}{}", &text[..start], anlagen, &text[end..]).into_bytes()
}

/// Owned events of a document, to replay into the validator without parsing.
enum Ev {
    Start {
        ns: Option<String>,
        local: String,
        attrs: Vec<(Option<String>, String, String)>,
    },
    Text(String),
    End,
}

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

fn events(xml: &[u8]) -> (Vec<Ev>, Scope) {
    let mut reader = quick_xml::NsReader::from_reader(xml);
    reader.config_mut().expand_empty_elements = true;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut scope = Vec::new();
    loop {
        let (res, ev) = reader
            .read_resolved_event_into(&mut buf)
            .expect("well-formed");
        match ev {
            Event::Start(s) => {
                let ns = match res {
                    quick_xml::name::ResolveResult::Bound(n) => Some(n.into_inner().to_owned()),
                    _ => None,
                };
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
                        let (res, local) = reader.resolver().resolve_attribute(a.key);
                        let ans = match res {
                            quick_xml::name::ResolveResult::Bound(n) => {
                                Some(n.into_inner().to_owned())
                            }
                            _ => None,
                        };
                        attrs.push((ans, local.into_inner().to_owned(), value));
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

fn replay(schema: &Schema, evs: &[Ev], scope: &Scope) {
    let mut v = Validator::new(schema);
    let mut attrs: Vec<AttributeEvent<'_>> = Vec::new();
    for e in evs {
        match e {
            Ev::Start {
                ns,
                local,
                attrs: a,
            } => {
                attrs.clear();
                attrs.extend(a.iter().map(|(n, l, val)| AttributeEvent {
                    namespace: n.as_deref(),
                    local_name: l,
                    value: val,
                }));
                v.start_element(&StartElement {
                    namespace: ns.as_deref(),
                    local_name: local,
                    attributes: &attrs,
                    namespaces: scope,
                    line: 0,
                    column: 0,
                })
                .expect("valid");
            }
            Ev::Text(t) => v.text(t).expect("valid"),
            Ev::End => v.end_element().expect("valid"),
        }
    }
    v.finish().expect("valid");
}

fn bench(c: &mut Criterion) {
    let schema = schema();
    let messages = [
        ("nachricht_2020 4KB", corpus("nachricht_2020.xml")),
        ("quality_report 15KB", corpus("quality_report_minimal.xml")),
        ("nachricht_2020 1MB", large_message()),
    ];
    let mut g = c.benchmark_group("bytes");
    for (name, xml) in &messages {
        validate_bytes(&schema, xml).expect("benchmark messages are valid");
        g.throughput(Throughput::Bytes(xml.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| validate_bytes(black_box(&schema), black_box(xml)))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("events");
    for (name, xml) in &messages {
        let (evs, scope) = events(xml);
        g.throughput(Throughput::Bytes(xml.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| replay(black_box(&schema), black_box(&evs), &scope))
        });
    }
    g.finish();
    c.bench_function("compile xwasser-vorgang", |b| {
        b.iter(|| black_box(self::schema()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
