//! Signed test messages: XWasser 2030 status requests (valid against the shipped schema),
//! each with a fresh `nachrichtenUUID`, signed with the development portal key.
//!
//! Signing happens ahead of sending (a producer thread keeps a buffer full), so the load the
//! router sees is not paced by the harness's signing speed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::ChaosError;

/// The XWasser 1.0.0 namespace of the template.
pub const XWASSER_NS: &str = "https://gitlab.opencode.de/akdb/xoev/xwasser/-/raw/main/V1_0_0";

/// The `autor` every generated message uses (the portal is registered for `psw:*`).
pub const AUTOR: &str = "psw:01003110";

/// An XWasser 2030 status request for `leser`, authored by `autor`, created now (the router
/// refuses messages dated before its deduplication window).
pub fn message(id: &Uuid, leser: &str, autor: &str) -> String {
    let created = now_rfc3339();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<xwas:vorgang.statusanfrage.2030 xmlns:xwas="{XWASSER_NS}" produkt="xoev-chaos" produkthersteller="xoev-router load tests" produktversion="1" standard="XWasser" test="true" version="1.0.0">
  <nachrichtenkopf.g2g>
    <identifikation.nachricht>
      <nachrichtenUUID>{id}</nachrichtenUUID>
      <nachrichtentyp listURI="urn:xoev-de:xwasser:codeliste:nachrichtentyp" listVersionID="1"><code>2030</code></nachrichtentyp>
      <erstellungszeitpunkt>{created}</erstellungszeitpunkt>
    </identifikation.nachricht>
    <leser>
      <verzeichnisdienst listURI="urn:xoev-de:kosit:codeliste:verzeichnisdienst" listVersionID="2"><code>DVDV</code></verzeichnisdienst>
      <kennung>{leser}</kennung>
      <name>Empfangende Behörde</name>
    </leser>
    <autor>
      <verzeichnisdienst listURI="urn:xoev-de:kosit:codeliste:verzeichnisdienst" listVersionID="2"><code>DVDV</code></verzeichnisdienst>
      <kennung>{autor}</kennung>
      <name>Portal Straße 1, Müßiggang</name>
    </autor>
  </nachrichtenkopf.g2g>
  <xwas:identifikationVorgang>
    <xwas:vorgangsID>5e08e073-4e06-438d-9444-1275f6cbf061</xwas:vorgangsID>
    <xwas:aktenzeichen>GU-TW 53.2-0417/2026</xwas:aktenzeichen>
  </xwas:identifikationVorgang>
</xwas:vorgang.statusanfrage.2030>
"#
    )
}

/// The current UTC time as `xs:dateTime`, whole seconds.
fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A destination as the generator sees it: which `leser` routes there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// The router's destination id.
    pub destination: String,
    /// A `leser` kennung the router's directory maps to `destination`.
    pub leser: String,
}

/// One signed message and what the harness knows about sending it.
#[derive(Debug, Clone)]
pub struct Msg {
    pub id: Uuid,
    /// Index into the scenario's lanes.
    pub lane: usize,
    pub bytes: Bytes,
    pub digest: [u8; 32],
    /// When it was first sent (the earliest moment the router could have stored it).
    pub first_sent: Option<SystemTime>,
    /// How often it was sent.
    pub sends: u32,
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The development portal's signing key and certificate.
pub struct Signer {
    key: xoev_dsig::SigningKey,
    cert: CertificateDer<'static>,
}

impl Signer {
    /// Loads `sample-portal-signing.key` and `.crt` from a PKI written by `xoev-router certs`.
    pub fn load(pki: &Path) -> Result<Signer, ChaosError> {
        let key_path = pki.join("sample-portal-signing.key");
        let cert_path = pki.join("sample-portal-signing.crt");
        let key_err = |path: &PathBuf, reason: String| ChaosError::Key {
            path: path.clone(),
            reason,
        };
        let pem =
            std::fs::read_to_string(&key_path).map_err(|e| key_err(&key_path, e.to_string()))?;
        let key =
            xoev_dsig::SigningKey::from_pem(&pem).map_err(|e| key_err(&key_path, e.to_string()))?;
        let cert = CertificateDer::from_pem_file(&cert_path)
            .map_err(|e| key_err(&cert_path, e.to_string()))?;
        Ok(Signer { key, cert })
    }

    /// A new message with a fresh UUID for `lanes[lane]`.
    pub fn make(&self, lane: usize, lanes: &[Lane]) -> Result<Msg, ChaosError> {
        let leser = lanes
            .get(lane)
            .map(|l| l.leser.as_str())
            .ok_or_else(|| ChaosError::Sign(format!("no lane {lane}")))?;
        let id = Uuid::new_v4();
        let signed = xoev_dsig::sign(
            message(&id, leser, AUTOR).as_bytes(),
            &self.key,
            Some(&self.cert),
            &xoev_dsig::SignOptions::default(),
        )
        .map_err(|e| ChaosError::Sign(e.to_string()))?;
        let digest = sha256(&signed);
        Ok(Msg {
            id,
            lane,
            bytes: Bytes::from(signed),
            digest,
            first_sent: None,
            sends: 0,
        })
    }
}

/// Starts a thread that signs messages for the lanes in `pattern` (cycled) into a channel of
/// `buffer` messages. The thread ends when the receiver is dropped or signing fails (the
/// error is returned by the thread).
pub fn spawn_producer(
    signer: Arc<Signer>,
    lanes: Arc<Vec<Lane>>,
    pattern: Vec<usize>,
    buffer: usize,
) -> (
    mpsc::Receiver<Msg>,
    std::thread::JoinHandle<Result<(), ChaosError>>,
) {
    let (tx, rx) = mpsc::channel(buffer.max(1));
    let handle = std::thread::spawn(move || {
        for lane in pattern.iter().cycle() {
            let msg = signer.make(*lane, &lanes)?;
            if tx.blocking_send(msg).is_err() {
                break;
            }
        }
        Ok(())
    });
    (rx, handle)
}

/// The signing thread must still be running when the load stops; if it ended by itself, it
/// failed: its error (or its panic) is the scenario's.
pub fn check_producer(
    producer: std::thread::JoinHandle<Result<(), ChaosError>>,
) -> Result<(), ChaosError> {
    if !producer.is_finished() {
        return Ok(());
    }
    match producer.join() {
        Ok(result) => result,
        Err(_) => Err(ChaosError::Sign("the signing thread panicked".into())),
    }
}
