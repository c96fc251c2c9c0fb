//! The routing-relevant fields of an XÖV `nachrichtenkopf.g2g`.
//!
//! The router fills this from the signed element of a verified message only (see the ingress
//! pipeline); nothing here parses XML.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::PrimitiveDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use uuid::Uuid;

use crate::Kennung;

/// XML namespaces in which a `nachrichtenkopf.g2g` element is recognised (besides none).
pub const HEADER_NAMESPACES: &[&str] = &[
    "http://xoev.de/schemata/basisnachricht/g2g/1_0",
    "http://xoev.de/schemata/basisnachricht/g2g/1_1",
    "http://www.osci.de/xinneres/basisnachricht/4",
];

/// Local name of the header element.
pub const HEADER_ELEMENT: &str = "nachrichtenkopf.g2g";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `identifikation.nachricht/nachrichtenUUID`: the message's identity and idempotency key.
    pub nachrichten_uuid: Uuid,
    /// `identifikation.nachricht/nachrichtentyp/code`.
    pub nachrichtentyp: String,
    /// `erstellungszeitpunkt` exactly as written.
    pub erstellungszeitpunkt: String,
    pub leser: Kennung,
    pub autor: Kennung,
    pub referenz_uuid: Option<Uuid>,
    pub dvdv_dienstkennung: Option<String>,
}

/// The header summary the router stores with a message (status API, receipts, adapters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderSummary {
    pub nachrichtentyp: String,
    pub erstellungszeitpunkt: String,
    pub leser: String,
    pub autor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenz_uuid: Option<Uuid>,
}

impl From<&Header> for HeaderSummary {
    fn from(h: &Header) -> Self {
        HeaderSummary {
            nachrichtentyp: h.nachrichtentyp.clone(),
            erstellungszeitpunkt: h.erstellungszeitpunkt.clone(),
            leser: h.leser.to_string(),
            autor: h.autor.to_string(),
            referenz_uuid: h.referenz_uuid,
        }
    }
}

/// Parses an `xs:dateTime` as XÖV headers carry it: `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`.
/// A value without offset is accepted (XÖV allows it) and read as UTC for ordering only.
pub fn parse_xs_datetime(text: &str) -> Option<OffsetDateTime> {
    let t = text.trim_matches([' ', '\t', '\n', '\r']);
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return Some(dt);
    }
    let local = format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    PrimitiveDateTime::parse(t, &local)
        .ok()
        .map(|p| p.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_datetime_with_and_without_offset() {
        assert!(parse_xs_datetime("2026-04-02T08:30:00Z").is_some());
        assert!(parse_xs_datetime("2021-10-20T13:47:49.684+02:00").is_some());
        assert!(parse_xs_datetime("2024-05-28T09:00:00").is_some());
        assert!(parse_xs_datetime("2024-05-28T09:00:00.5").is_some());
    }

    #[test]
    fn rejects_german_dates_and_impossible_days() {
        assert!(parse_xs_datetime("28.05.2024 09:00").is_none());
        assert!(parse_xs_datetime("2024-02-30T09:00:00").is_none());
        assert!(parse_xs_datetime("2024-05-28").is_none());
    }
}
