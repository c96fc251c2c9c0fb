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

use xoev_xsd::{Catalog, Schema, validate_bytes};

#[path = "../tests/common/events.rs"]
mod events;

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
    let (evs, scope) = events::events(&xml);
    let start = Instant::now();
    for _ in 0..n {
        let result = match mode.as_str() {
            "bytes" => validate_bytes(&schema, std::hint::black_box(&xml)),
            "events" => events::replay(&schema, std::hint::black_box(&evs), &scope),
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
