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
use xoev_xsd::{Catalog, Schema, validate_bytes};

#[path = "../tests/common/events.rs"]
mod events;

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
    large_message_with("QUJD".repeat(1250))
}

/// The same, with each attachment's base64 wrapped at 76 characters as encoders (and the load
/// generator) write it: whitespace inside the value.
fn large_wrapped_message() -> Vec<u8> {
    let flat = "QUJD".repeat(1250);
    let lines: Vec<&str> = flat
        .as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).expect("ASCII"))
        .collect();
    large_message_with(format!("\n{}\n", lines.join("\n")))
}

fn large_message_with(payload: String) -> Vec<u8> {
    let text = String::from_utf8(corpus("nachricht_2020.xml")).expect("UTF-8");
    let start = text.find("<xwas:anlage").expect("an anlage element");
    let end =
        text[start..].find("</xwas:anlage>").expect("anlage end") + start + "</xwas:anlage>".len();
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

fn bench(c: &mut Criterion) {
    let schema = schema();
    let messages = [
        ("nachricht_2020 4KB", corpus("nachricht_2020.xml")),
        ("quality_report 15KB", corpus("quality_report_minimal.xml")),
        ("nachricht_2020 1MB", large_message()),
        ("nachricht_2020 1MB wrapped", large_wrapped_message()),
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
        let (evs, scope) = events::events(xml);
        g.throughput(Throughput::Bytes(xml.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| events::replay(black_box(&schema), black_box(&evs), &scope))
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
