//! Keys and certificates for load runs, kept in one directory so corpora signed with them can
//! be reused between runs.
//!
//! - `xoev-router certs --out DIR` makes the development PKI: CA, router TLS certificate, and
//!   the ECDSA P-256 portal signing key and certificate.
//! - RSA-2048 comes from `openssl` (ring cannot generate RSA keys): `openssl genpkey` for the
//!   PKCS#8 key and a self-signed certificate, registered (pinned) in the router's senders.

use std::path::{Path, PathBuf};
use std::process::Command;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use xoev_dsig::SigningKey;

use crate::error::LoadgenError;

/// The signature key types the corpus is made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// RSA 2048 bits, rsa-sha256.
    Rsa2048,
    /// ECDSA on P-256, ecdsa-sha256.
    EcdsaP256,
}

impl KeyKind {
    /// Short name used in file names, tables and the command line.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "rsa2048",
            KeyKind::EcdsaP256 => "p256",
        }
    }

    /// Parses [`KeyKind::name`] (also `rsa`, `ecdsa`).
    pub fn parse(s: &str) -> Result<KeyKind, LoadgenError> {
        match s {
            "rsa2048" | "rsa" => Ok(KeyKind::Rsa2048),
            "p256" | "ecdsa" | "ecdsa-p256" => Ok(KeyKind::EcdsaP256),
            other => Err(LoadgenError::Usage(format!(
                "unknown key type '{other}' (rsa2048, p256)"
            ))),
        }
    }
}

/// The files of one load PKI directory.
#[derive(Clone, Debug)]
pub struct LoadPki {
    /// The directory.
    pub dir: PathBuf,
}

impl LoadPki {
    /// CA that issued the router's TLS certificate (the generator trusts it).
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    /// Router TLS certificate chain.
    pub fn router_cert(&self) -> PathBuf {
        self.dir.join("router.crt")
    }
    /// Router TLS key.
    pub fn router_key(&self) -> PathBuf {
        self.dir.join("router.key")
    }
    /// The router's receipt signing key and certificate.
    pub fn receipt_key(&self) -> PathBuf {
        self.dir.join("router-receipts.key")
    }
    pub fn receipt_cert(&self) -> PathBuf {
        self.dir.join("router-receipts.crt")
    }
    /// Signing key (PKCS#8 PEM) of `kind`.
    pub fn signing_key(&self, kind: KeyKind) -> PathBuf {
        match kind {
            KeyKind::EcdsaP256 => self.dir.join("sample-portal-signing.key"),
            KeyKind::Rsa2048 => self.dir.join("loadgen-rsa2048.key"),
        }
    }
    /// Signing certificate (PEM) of `kind`.
    pub fn signing_cert(&self, kind: KeyKind) -> PathBuf {
        match kind {
            KeyKind::EcdsaP256 => self.dir.join("sample-portal-signing.crt"),
            KeyKind::Rsa2048 => self.dir.join("loadgen-rsa2048.crt"),
        }
    }

    /// Creates what is missing: the development PKI with `router_bin`, the RSA pair with
    /// `openssl`.
    pub fn ensure(dir: &Path, router_bin: &Path) -> Result<LoadPki, LoadgenError> {
        let pki = LoadPki {
            dir: dir.to_owned(),
        };
        // A PKI from an older router may lack files newer routers need (the receipt key).
        if !pki.ca_cert().exists() || !pki.receipt_key().exists() {
            run(Command::new(router_bin).arg("certs").arg("--out").arg(dir))?;
        }
        let (key, cert) = (
            pki.signing_key(KeyKind::Rsa2048),
            pki.signing_cert(KeyKind::Rsa2048),
        );
        if !key.exists() || !cert.exists() {
            run(Command::new("openssl")
                .args([
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ])
                .arg("-out")
                .arg(&key))?;
            run(Command::new("openssl")
                .args(["req", "-new", "-x509", "-days", "3650", "-sha256"])
                .args(["-subj", "/O=xoev-loadgen/CN=Load test portal (RSA-2048)"])
                .arg("-key")
                .arg(&key)
                .arg("-out")
                .arg(&cert))?;
        }
        Ok(pki)
    }

    /// Loads the signing key and certificate of `kind`.
    pub fn signer(
        &self,
        kind: KeyKind,
    ) -> Result<(SigningKey, CertificateDer<'static>), LoadgenError> {
        let key_path = self.signing_key(kind);
        let pem = std::fs::read_to_string(&key_path).map_err(|e| LoadgenError::io(&key_path, e))?;
        let key = SigningKey::from_pem(&pem)
            .map_err(|e| LoadgenError::Key(format!("{}: {e}", key_path.display())))?;
        let cert_path = self.signing_cert(kind);
        let cert = CertificateDer::from_pem_file(&cert_path)
            .map_err(|e| LoadgenError::Key(format!("{}: {e}", cert_path.display())))?;
        Ok((key, cert))
    }
}

fn run(cmd: &mut Command) -> Result<(), LoadgenError> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| LoadgenError::Command(format!("{shown}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LoadgenError::Command(format!(
            "{shown}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
