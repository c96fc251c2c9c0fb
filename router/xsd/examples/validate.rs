//! `cargo run -p xoev-xsd --example validate -- [--catalog CATALOG] SCHEMA.xsd FILE.xml...`
//!
//! Prints `FILE: valid` or `FILE: invalid: <violation>` per file, like `xmllint --schema`
//! (catalog also taken from `XML_CATALOG_FILES`). Exit code: 0 all valid, 1 some invalid,
//! 2 schema error. The router's CLI (`xoev-router validate`) offers the same.

use std::path::PathBuf;
use std::process::ExitCode;

use xoev_xsd::{Catalog, Schema, validate_bytes};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut catalog = match Catalog::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if args.first().map(String::as_str) == Some("--catalog") && args.len() > 1 {
        let path = PathBuf::from(args.remove(1));
        args.remove(0);
        match Catalog::load(&path) {
            Ok(c) => catalog = Some(c),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let Some((schema, files)) = args.split_first() else {
        eprintln!("usage: validate [--catalog CATALOG] SCHEMA.xsd FILE.xml...");
        return ExitCode::from(2);
    };
    let schema = match Schema::compile_file(&PathBuf::from(schema), catalog.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut all_valid = true;
    for file in files {
        match std::fs::read(file) {
            Ok(bytes) => match validate_bytes(&schema, &bytes) {
                Ok(()) => println!("{file}: valid"),
                Err(v) => {
                    all_valid = false;
                    println!("{file}: invalid: {v}");
                }
            },
            Err(e) => {
                all_valid = false;
                println!("{file}: invalid: cannot read: {e}");
            }
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
