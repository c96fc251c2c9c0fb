//! `sign`, `verify` and `validate`: the tools portal developers use on their own messages.

use std::path::Path;
use std::process::ExitCode;

use rustls_pki_types::UnixTime;
use xoev_dsig::c14n::Method;
use xoev_dsig::{
    DigestAlgorithm, ReferenceTarget, SignOptions, SigningKey, TrustStore, VerifyOptions,
};

use super::fail;
use crate::tls::{fingerprint, hex, load_certs};

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

pub fn sign(
    key: &Path,
    cert: Option<&Path>,
    c14n: &str,
    digest: &str,
    id_reference: bool,
    input: &Path,
) -> ExitCode {
    let result = (|| -> Result<Vec<u8>, String> {
        let pem = String::from_utf8(read(key)?)
            .map_err(|_| format!("{} is not a PEM file", key.display()))?;
        let key = SigningKey::from_pem(&pem).map_err(|e| format!("{}: {e}", key.display()))?;
        let cert = match cert {
            Some(p) => load_certs(p).map_err(|e| e.to_string())?.into_iter().next(),
            None => None,
        };
        let opts = sign_options(c14n, digest, id_reference)?;
        let xml = read(input)?;
        xoev_dsig::sign(&xml, &key, cert.as_ref(), &opts)
            .map_err(|e| format!("{}: {e}", input.display()))
    })();
    match result {
        Ok(signed) => {
            use std::io::Write;
            match std::io::stdout().write_all(&signed) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&format!("cannot write the signed document: {e}")),
            }
        }
        Err(e) => fail(&e),
    }
}

fn sign_options(c14n: &str, digest: &str, id_reference: bool) -> Result<SignOptions, String> {
    let mut opts = SignOptions::default();
    opts.c14n = match c14n {
        "exclusive" => Method::Exclusive {
            with_comments: false,
            inclusive_prefixes: Vec::new(),
        },
        "inclusive" => Method::Inclusive {
            with_comments: false,
        },
        other => return Err(format!("--c14n '{other}': use exclusive or inclusive")),
    };
    opts.digest = match digest {
        "sha256" => DigestAlgorithm::Sha256,
        "sha384" => DigestAlgorithm::Sha384,
        "sha512" => DigestAlgorithm::Sha512,
        other => return Err(format!("--digest '{other}': use sha256, sha384 or sha512")),
    };
    if id_reference {
        opts.reference = ReferenceTarget::RootId;
    }
    Ok(opts)
}

/// Loads every certificate in a PEM file or in the *.crt / *.pem files of a directory.
fn trust_store(trust: &Path) -> Result<TrustStore, String> {
    let mut files = Vec::new();
    if trust.is_dir() {
        let entries = std::fs::read_dir(trust)
            .map_err(|e| format!("cannot read {}: {e}", trust.display()))?;
        for e in entries.flatten() {
            let p = e.path();
            if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("crt" | "pem" | "cer")
            ) {
                files.push(p);
            }
        }
        files.sort();
    } else {
        files.push(trust.to_owned());
    }
    let mut store = TrustStore::new();
    let mut n = 0;
    for f in &files {
        for der in load_certs(f).map_err(|e| e.to_string())? {
            let label = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            store
                .add_pinned_certificate(der, &label)
                .map_err(|e| format!("{}: {e}", f.display()))?;
            n += 1;
        }
    }
    if n == 0 {
        return Err(format!("no certificates found in {}", trust.display()));
    }
    Ok(store)
}

pub fn verify(trust: &Path, input: &Path) -> ExitCode {
    let (store, xml) = match trust_store(trust).and_then(|s| Ok((s, read(input)?))) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let doc = match xoev_xml::parse(&xml, &xoev_xml::Limits::default()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("invalid: {}: {e}", input.display());
            return ExitCode::from(1);
        }
    };
    match xoev_dsig::verify(&doc, &store, &VerifyOptions::new(UnixTime::now())) {
        Ok(v) => {
            let s = v.signer();
            let fp = s
                .certificate
                .as_ref()
                .map(|c| hex(&fingerprint(c)))
                .unwrap_or_else(|| hex(&s.fingerprint_sha256));
            say!(
                "valid: signed by '{}' ({:?}, certificate sha256 {fp})",
                s.subject,
                s.algorithm
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("invalid: {e}");
            ExitCode::from(1)
        }
    }
}

pub fn validate(schema: &Path, catalog: Option<&Path>, file: &Path) -> ExitCode {
    // Without --catalog, XML_CATALOG_FILES is honoured as xmllint does.
    let catalog = match catalog
        .map(|c| xoev_xsd::Catalog::load(c).map(Some))
        .unwrap_or_else(xoev_xsd::Catalog::from_env)
    {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let schema = match xoev_xsd::Schema::compile_file(schema, catalog.as_ref()) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let xml = match read(file) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    match xoev_xsd::validate_bytes(&schema, &xml) {
        Ok(()) => {
            say!("{}: valid", file.display());
            ExitCode::SUCCESS
        }
        Err(v) => {
            say!("{}: {v}", file.display());
            ExitCode::from(1)
        }
    }
}
