//! A small command line over the library, used by `ci.sh` for interop runs
//! and as the reference wiring for `xoev-router sign` / `verify`:
//!
//! ```text
//! dsig sign --key K.pem [--cert C.pem] [--c14n exc|exc-comments|inc|inc-comments]
//!           [--alg URI] [--digest URI] [--id] IN.xml > OUT.xml
//! dsig verify (--ca CA.pem | --pin CERT.pem | --pin-key SPKI.pem)... [--now SECS] IN.xml
//! ```
//! `verify` exits 0 only when valid and prints one line either way.

use std::process::ExitCode;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{SubjectPublicKeyInfoDer, UnixTime};
use xoev_dsig::c14n::Method;
use xoev_dsig::{
    DigestAlgorithm, ReferenceTarget, SignOptions, SignatureAlgorithm, SigningKey, TrustStore,
    VerifyOptions, certificates_from_pem, sign, verify,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("sign") => run_sign(&args[1..]),
        Some("verify") => run_verify(&args[1..]),
        _ => Err("usage: dsig sign|verify ...".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}

fn run_sign(args: &[String]) -> Result<(), String> {
    let mut opts = SignOptions::default();
    let (mut key, mut cert, mut input) = (None, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--key" => key = Some(value()?),
            "--cert" => cert = Some(value()?),
            "--c14n" => {
                opts.c14n = match value()?.as_str() {
                    "exc" => Method::Exclusive {
                        with_comments: false,
                        inclusive_prefixes: vec![],
                    },
                    "exc-comments" => Method::Exclusive {
                        with_comments: true,
                        inclusive_prefixes: vec![],
                    },
                    "inc" => Method::Inclusive {
                        with_comments: false,
                    },
                    "inc-comments" => Method::Inclusive {
                        with_comments: true,
                    },
                    other => return Err(format!("unknown c14n {other}")),
                }
            }
            "--alg" => {
                let v = value()?;
                opts.algorithm =
                    Some(SignatureAlgorithm::from_uri(&v).ok_or(format!("unknown algorithm {v}"))?);
            }
            "--digest" => {
                let v = value()?;
                opts.digest = DigestAlgorithm::from_uri(&v).ok_or(format!("unknown digest {v}"))?;
            }
            "--id" => opts.reference = ReferenceTarget::RootId,
            path => input = Some(path.to_owned()),
        }
    }
    let key_pem =
        String::from_utf8(read(&key.ok_or("--key is required")?)?).map_err(|e| e.to_string())?;
    let key = SigningKey::from_pem(&key_pem).map_err(|e| e.to_string())?;
    let cert = match cert {
        Some(path) => Some(
            certificates_from_pem(&read(&path)?)
                .into_iter()
                .next()
                .ok_or("no certificate in --cert")?,
        ),
        None => None,
    };
    let input = read(&input.ok_or("input file is required")?)?;
    let out = sign(&input, &key, cert.as_ref(), &opts).map_err(|e| e.to_string())?;
    use std::io::Write;
    std::io::stdout().write_all(&out).map_err(|e| e.to_string())
}

fn run_verify(args: &[String]) -> Result<(), String> {
    let mut trust = TrustStore::new();
    let mut now = UnixTime::now();
    let mut input = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--ca" | "--pin" => {
                let path = value()?;
                for cert in certificates_from_pem(&read(&path)?) {
                    let added = if a == "--ca" {
                        trust.add_ca_certificate(cert, &path)
                    } else {
                        trust.add_pinned_certificate(cert, &path)
                    };
                    added.map_err(|e| e.to_string())?;
                }
            }
            "--pin-key" => {
                let path = value()?;
                let spki = SubjectPublicKeyInfoDer::from_pem_slice(&read(&path)?)
                    .map_err(|e| format!("{path}: {e:?}"))?;
                trust
                    .add_pinned_public_key(spki.as_ref(), &path)
                    .map_err(|e| e.to_string())?;
            }
            "--now" => {
                let secs: u64 = value()?
                    .parse()
                    .map_err(|_| "--now needs seconds since the epoch")?;
                now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
            }
            path => input = Some(path.to_owned()),
        }
    }
    let input = read(&input.ok_or("input file is required")?)?;
    let doc = xoev_xml::parse(&input, &xoev_xml::Limits::default()).map_err(|e| e.to_string())?;
    let verified = verify(&doc, &trust, &VerifyOptions::new(now)).map_err(|e| e.to_string())?;
    println!(
        "valid: signed by {} ({})",
        verified.signer().subject,
        verified.signer().algorithm
    );
    Ok(())
}
