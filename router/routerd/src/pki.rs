//! The development PKI: generated into `<data_dir>/pki` on first start when `dev_pki` is on.
//!
//! Everything is ECDSA P-256 (ring cannot generate RSA keys), issued by one throw-away CA.
//! Nothing here is meant for production; the files say so in their README.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// File names inside the PKI directory.
pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const ROUTER_CERT: &str = "router.crt";
pub const ROUTER_KEY: &str = "router.key";
pub const PORTAL_SIGNING_CERT: &str = "sample-portal-signing.crt";
pub const PORTAL_SIGNING_KEY: &str = "sample-portal-signing.key";
pub const PORTAL_TLS_CERT: &str = "sample-portal-tls.crt";
pub const PORTAL_TLS_KEY: &str = "sample-portal-tls.key";
pub const AUTHORITY_CERT: &str = "sample-authority.crt";
pub const AUTHORITY_KEY: &str = "sample-authority.key";
pub const RECEIPT_CERT: &str = "router-receipts.crt";
pub const RECEIPT_KEY: &str = "router-receipts.key";

const ALL: &[&str] = &[
    CA_CERT,
    CA_KEY,
    ROUTER_CERT,
    ROUTER_KEY,
    PORTAL_SIGNING_CERT,
    PORTAL_SIGNING_KEY,
    PORTAL_TLS_CERT,
    PORTAL_TLS_KEY,
    AUTHORITY_CERT,
    AUTHORITY_KEY,
    RECEIPT_CERT,
    RECEIPT_KEY,
];

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error(
        "development PKI in {dir} is incomplete (missing {missing}); delete the directory to regenerate it"
    )]
    Incomplete { dir: PathBuf, missing: String },
}

/// Creates the development PKI in `dir` unless it exists. Returns whether it generated one.
pub fn ensure_dev_pki(dir: &Path, router_id: &str) -> Result<bool, PkiError> {
    if dir.join(CA_CERT).exists() {
        let missing: Vec<&str> = ALL
            .iter()
            .copied()
            .filter(|f| !dir.join(f).exists())
            .collect();
        if !missing.is_empty() {
            return Err(PkiError::Incomplete {
                dir: dir.to_owned(),
                missing: missing.join(", "),
            });
        }
        return Ok(false);
    }
    generate(dir, router_id)?;
    Ok(true)
}

/// Generates a complete development PKI into `dir` (which may not exist yet).
pub fn generate(dir: &Path, router_id: &str) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(|source| PkiError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let (ca_params, ca_key) = ca_params()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let leaf = |cn: &str,
                sans: Vec<String>,
                eku: &[ExtendedKeyUsagePurpose]|
     -> Result<(String, String), PkiError> {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(sans)?;
        p.distinguished_name = dn(cn);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = eku.to_vec();
        set_validity(&mut p);
        let cert = p.signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    };

    let mut router_sans = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !router_sans.iter().any(|s| s == router_id) {
        router_sans.push(router_id.to_owned());
    }
    let router = leaf(
        router_id,
        router_sans,
        &[
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    )?;
    let portal_signing = leaf("Sample portal (XML signing)", vec![], &[])?;
    let portal_tls = leaf(
        "sample-portal",
        vec![],
        &[ExtendedKeyUsagePurpose::ClientAuth],
    )?;
    let authority = leaf(
        "sample-authority",
        vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
        &[
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ],
    )?;
    let receipts = leaf(&format!("{router_id} (receipts)"), vec![], &[])?;

    let ca_pem = ca_cert.pem();
    // The router's chain includes the CA so clients that pin the CA can build the path.
    write(dir, ROUTER_CERT, &format!("{}{}", router.0, ca_pem), false)?;
    write(dir, ROUTER_KEY, &router.1, true)?;
    write(dir, PORTAL_SIGNING_CERT, &portal_signing.0, false)?;
    write(dir, PORTAL_SIGNING_KEY, &portal_signing.1, true)?;
    write(dir, PORTAL_TLS_CERT, &portal_tls.0, false)?;
    write(dir, PORTAL_TLS_KEY, &portal_tls.1, true)?;
    write(dir, AUTHORITY_CERT, &authority.0, false)?;
    write(dir, AUTHORITY_KEY, &authority.1, true)?;
    write(dir, RECEIPT_CERT, &receipts.0, false)?;
    write(dir, RECEIPT_KEY, &receipts.1, true)?;
    write(dir, CA_KEY, &ca_key.serialize_pem(), true)?;
    // Written last: its presence marks a complete PKI.
    write(dir, "README.txt", README, false)?;
    write(dir, CA_CERT, &ca_pem, false)?;
    Ok(())
}

const README: &str = "\
Development PKI generated by `xoev-router serve` (dev_pki = true). NOT FOR PRODUCTION.

ca.crt / ca.key                      throw-away CA that issued everything below
router.crt / router.key              TLS certificate of the public listener (localhost, 127.0.0.1)
router-receipts.crt / .key           the router's receipt (Laufzettel) signing key
sample-portal-signing.crt / .key     XML signing key of the sender `sample-portal`
sample-portal-tls.crt / .key         TLS client certificate of `sample-portal` (mutual TLS)
sample-authority.crt / .key          certificate of a sample authority (mailbox owner, HTTPS endpoint)

Delete this directory to generate a new set on the next start.
";

fn ca_params() -> Result<(CertificateParams, KeyPair), PkiError> {
    let key = KeyPair::generate()?;
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = dn("xoev-router development CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut p);
    Ok((p, key))
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "xoev-router development");
    dn.push(DnType::CommonName, cn);
    dn
}

fn set_validity(p: &mut CertificateParams) {
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(825);
}

fn write(dir: &Path, name: &str, content: &str, secret: bool) -> Result<(), PkiError> {
    let path = dir.join(name);
    let io = |source| PkiError::Io {
        path: path.clone(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(&path)
        .map_err(io)?;
    f.write_all(content.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_complete_pki_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        assert!(ensure_dev_pki(&dir, "r.test").unwrap());
        for f in ALL {
            assert!(dir.join(f).exists(), "{f}");
        }
        let before = fs::read(dir.join(ROUTER_KEY)).unwrap();
        assert!(!ensure_dev_pki(&dir, "r.test").unwrap());
        assert_eq!(
            fs::read(dir.join(ROUTER_KEY)).unwrap(),
            before,
            "existing keys are kept"
        );
    }

    #[test]
    fn refuses_an_incomplete_pki_instead_of_mixing_keys() {
        let tmp = tempfile::tempdir().unwrap();
        generate(tmp.path(), "r.test").unwrap();
        fs::remove_file(tmp.path().join(PORTAL_TLS_KEY)).unwrap();
        let e = ensure_dev_pki(tmp.path(), "r.test")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing sample-portal-tls.key"), "{e}");
    }

    #[test]
    fn private_keys_are_readable_by_the_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        generate(tmp.path(), "r.test").unwrap();
        let mode = fs::metadata(tmp.path().join(ROUTER_KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
