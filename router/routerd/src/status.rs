//! What the router stores with a message, and the status view the API returns.

use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use xoev_core::header::HeaderSummary;
use xoev_queue::{EventKind, MessageRecord, State, Timestamp};

use crate::ingress::pipeline::{Checked, SignerSummary};
use crate::tls::{fingerprint, hex};

/// Router-owned metadata, stored opaquely in the queue record (JSON, small).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    pub header: HeaderSummary,
    pub sender: String,
    pub signer: SignerSummary,
    /// SHA-256 of the TLS client certificate, when the message came over mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client: Option<String>,
    /// Schema the message was validated against (`None`: listed as accepted without schema).
    #[serde(default)]
    pub schema: Option<String>,
    /// Router ids the message passed before this one (federation), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<String>,
    /// The peer router that relayed the message here, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayed_by: Option<String>,
}

impl MessageMeta {
    pub fn new(c: &Checked, tls_client: Option<&CertificateDer<'static>>) -> Self {
        MessageMeta {
            header: HeaderSummary::from(&c.header),
            sender: c.sender.clone(),
            signer: c.signer.clone(),
            tls_client: tls_client.map(|d| hex(&fingerprint(d))),
            schema: c.schema.clone(),
            trace: Vec::new(),
            relayed_by: None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

pub fn rfc3339(t: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.0) * 1_000_000)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.0.to_string())
}

/// XTA-style traffic light: open (still in progress), green (delivered cleanly), yellow
/// (delivered, but only after failed attempts), red (dead).
pub fn traffic_light(r: &MessageRecord) -> &'static str {
    match r.state {
        State::Delivered | State::Forwarded => {
            if r.history
                .iter()
                .any(|e| matches!(e.kind, EventKind::AttemptFailed | EventKind::LeaseExpired))
            {
                "yellow"
            } else {
                "green"
            }
        }
        State::Dead => "red",
        _ => "open",
    }
}

#[derive(Debug, Serialize)]
pub struct HistoryEntry {
    pub at: String,
    pub event: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct StatusView {
    pub id: String,
    pub state: &'static str,
    pub traffic_light: &'static str,
    pub destination: String,
    pub accepted_at: String,
    pub updated_at: String,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nachrichtentyp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leser: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    pub size: u64,
    pub sha256: String,
    pub payload_retained: bool,
    pub history: Vec<HistoryEntry>,
}

pub fn event_name(k: EventKind) -> &'static str {
    match k {
        EventKind::Accepted => "accepted",
        EventKind::AttemptStarted => "attempt-started",
        EventKind::AttemptFailed => "attempt-failed",
        EventKind::LeaseExpired => "lease-expired",
        EventKind::Released => "released",
        EventKind::Delivered => "delivered",
        EventKind::Forwarded => "forwarded",
        EventKind::Dead => "dead",
        EventKind::Replayed => "replayed",
        EventKind::Note => "note",
        _ => "other",
    }
}

impl StatusView {
    pub fn of(r: &MessageRecord) -> Self {
        let meta = MessageMeta::decode(&r.meta);
        StatusView {
            id: r.id.to_string(),
            state: r.state.as_str(),
            traffic_light: traffic_light(r),
            destination: r.destination.clone(),
            accepted_at: rfc3339(r.accepted_at),
            updated_at: rfc3339(r.updated_at),
            attempts: r.attempts,
            next_attempt_at: (r.state == State::Queued)
                .then_some(r.not_before)
                .flatten()
                .map(rfc3339),
            last_error: r.last_error.clone(),
            nachrichtentyp: meta.as_ref().map(|m| m.header.nachrichtentyp.clone()),
            leser: meta.as_ref().map(|m| m.header.leser.clone()),
            autor: meta.as_ref().map(|m| m.header.autor.clone()),
            sender: meta.as_ref().map(|m| m.sender.clone()),
            size: r.size,
            sha256: hex(&r.digest),
            payload_retained: r.payload_present,
            history: r
                .history
                .iter()
                .map(|e| HistoryEntry {
                    at: rfc3339(e.at),
                    event: event_name(e.kind),
                    detail: e.detail.clone(),
                })
                .collect(),
        }
    }
}
