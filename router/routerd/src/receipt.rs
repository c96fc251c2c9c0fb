//! Receipts (OSCI's Laufzettel): what happened to a message, signed by the router.
//!
//! A receipt records reception, forwarding (first delivery attempt, or availability in the
//! mailbox), delivery (authority 2xx, mailbox close, or peer acceptance, and the peer's own
//! delivery when known), the result of the signer certificate check, and the XTA-style
//! traffic light. It is an XML document with an enveloped XML signature made with the router's
//! receipt key (exclusive C14N, SHA-256, certificate in KeyInfo), so anyone holding the
//! router's receipt certificate can verify it with `xoev-router verify` or `xmlsec1`.

use std::fmt::Write;

use xoev_dsig::{CertificateDer, SignOptions, SigningKey};
use xoev_queue::{EventKind, MessageRecord, State};

use crate::config::Config;
use crate::status::{MessageMeta, rfc3339, traffic_light};
use crate::tls::{hex, load_certs};

/// Namespace of receipt documents.
pub const RECEIPT_NS: &str = "urn:xoev-router:laufzettel:1";

/// Prefix of the history note recording the message's delivery at a peer router.
pub const PEER_DELIVERED: &str = "peer-delivered";

pub struct ReceiptSigner {
    key: SigningKey,
    cert: CertificateDer<'static>,
}

impl ReceiptSigner {
    pub fn load(config: &Config) -> Result<ReceiptSigner, String> {
        let key_path = config.resolve(&config.receipts.key);
        let cert_path = config.resolve(&config.receipts.cert);
        let pem = std::fs::read_to_string(&key_path)
            .map_err(|e| format!("receipts.key {}: {e}", key_path.display()))?;
        let key = SigningKey::from_pem(&pem)
            .map_err(|e| format!("receipts.key {}: {e}", key_path.display()))?;
        let cert = load_certs(&cert_path)
            .map_err(|e| format!("receipts.cert: {e}"))?
            .into_iter()
            .next()
            .ok_or_else(|| format!("receipts.cert {} holds no certificate", cert_path.display()))?;
        Ok(ReceiptSigner { key, cert })
    }

    /// The signed receipt of `record` as issued by `router_id` at `now`.
    pub fn receipt(
        &self,
        router_id: &str,
        record: &MessageRecord,
        adapter: &str,
        now: xoev_queue::Timestamp,
    ) -> Result<Vec<u8>, String> {
        let xml = render(router_id, record, adapter, now);
        xoev_dsig::sign(
            xml.as_bytes(),
            &self.key,
            Some(&self.cert),
            &SignOptions::default(),
        )
        .map_err(|e| format!("signing the receipt failed: {e}"))
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Control characters cannot appear in XML 1.0; error texts are not trusted input.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn first(record: &MessageRecord, kind: EventKind) -> Option<&xoev_queue::Event> {
    record.history.iter().find(|e| e.kind == kind)
}

/// The unsigned receipt document.
pub fn render(
    router_id: &str,
    r: &MessageRecord,
    adapter: &str,
    now: xoev_queue::Timestamp,
) -> String {
    let meta = MessageMeta::decode(&r.meta);
    let mut x = String::with_capacity(2048);
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<laufzettel xmlns=\"{RECEIPT_NS}\" version=\"1\">\n"
    );
    let _ = writeln!(x, "  <router>{}</router>", esc(router_id));
    let _ = writeln!(x, "  <ausgestellt>{}</ausgestellt>", rfc3339(now));
    let _ = writeln!(x, "  <nachricht>");
    let _ = writeln!(x, "    <nachrichtenUUID>{}</nachrichtenUUID>", r.id);
    if let Some(m) = &meta {
        let _ = writeln!(
            x,
            "    <nachrichtentyp>{}</nachrichtentyp>",
            esc(&m.header.nachrichtentyp)
        );
        let _ = writeln!(
            x,
            "    <erstellungszeitpunkt>{}</erstellungszeitpunkt>",
            esc(&m.header.erstellungszeitpunkt)
        );
        let _ = writeln!(x, "    <autor>{}</autor>", esc(&m.header.autor));
        let _ = writeln!(x, "    <leser>{}</leser>", esc(&m.header.leser));
        let _ = writeln!(x, "    <absender>{}</absender>", esc(&m.sender));
    }
    let _ = writeln!(x, "    <groesse>{}</groesse>", r.size);
    let _ = writeln!(x, "    <sha256>{}</sha256>", hex(&r.digest));
    let _ = writeln!(x, "  </nachricht>");
    if let Some(m) = &meta {
        // The signer check happened at reception; a receipt is never issued for a message
        // whose check failed (it would not have been accepted).
        let _ = writeln!(
            x,
            "  <zertifikatspruefung ergebnis=\"gueltig\" vertrauen=\"{}\" algorithmus=\"{}\">",
            esc(&m.signer.trust),
            esc(&m.signer.algorithm)
        );
        let _ = writeln!(
            x,
            "    <signaturzertifikat>{}</signaturzertifikat>",
            esc(&m.signer.subject)
        );
        let _ = writeln!(
            x,
            "    <sha256>{}</sha256>",
            esc(&m.signer.fingerprint_sha256)
        );
        if let Some(tls) = &m.tls_client {
            let _ = writeln!(
                x,
                "    <tlsClientZertifikatSha256>{}</tlsClientZertifikatSha256>",
                esc(tls)
            );
        }
        let _ = writeln!(x, "  </zertifikatspruefung>");
    }
    let _ = writeln!(x, "  <eingang zeitpunkt=\"{}\"/>", rfc3339(r.accepted_at));
    let forwarded = if adapter == "mailbox" {
        Some((r.accepted_at, "im Postfach bereitgestellt".to_owned()))
    } else {
        first(r, EventKind::AttemptStarted).map(|e| (e.at, "erster Zustellversuch".to_owned()))
    };
    if let Some((at, how)) = forwarded {
        let _ = writeln!(
            x,
            "  <weiterleitung zeitpunkt=\"{}\" ziel=\"{}\" adapter=\"{}\">{}</weiterleitung>",
            rfc3339(at),
            esc(&r.destination),
            esc(adapter),
            esc(&how)
        );
    }
    let done = match r.state {
        State::Delivered => first(r, EventKind::Delivered),
        State::Forwarded => first(r, EventKind::Forwarded),
        _ => None,
    };
    if let Some(e) = done {
        let _ = writeln!(
            x,
            "  <zustellung zeitpunkt=\"{}\" art=\"{}\">{}</zustellung>",
            rfc3339(e.at),
            if r.state == State::Forwarded {
                "an Partner-Router uebergeben"
            } else {
                "zugestellt"
            },
            esc(&e.detail)
        );
    }
    if let Some(e) = r
        .history
        .iter()
        .find(|e| e.kind == EventKind::Note && e.detail.starts_with(PEER_DELIVERED))
    {
        let _ = writeln!(
            x,
            "  <zustellungBeiPartner zeitpunkt=\"{}\">{}</zustellungBeiPartner>",
            rfc3339(e.at),
            esc(&e.detail)
        );
    }
    // XTA TransportReport status: 0 offen, 1 gruen, 2 gelb, 3 rot.
    let (ampel, xta) = match traffic_light(r) {
        "green" => ("gruen", 1),
        "yellow" => ("gelb", 2),
        "red" => ("rot", 3),
        _ => ("offen", 0),
    };
    let _ = writeln!(
        x,
        "  <status zustand=\"{}\" ampel=\"{ampel}\" xtaStatus=\"{xta}\" versuche=\"{}\"/>",
        r.state.as_str(),
        r.attempts
    );
    if let Some(err) = &r.last_error {
        let _ = writeln!(x, "  <letzterFehler>{}</letzterFehler>", esc(err));
    }
    x.push_str("</laufzettel>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(esc("a<b>&\"c\u{1}"), "a&lt;b&gt;&amp;&quot;c ");
    }
}
