//! On-disk envelopes for records and payloads (docs/queue.md §4).
//!
//! `record = version:u8 ‖ crc32:u32 LE ‖ postcard(DiskRecordV1)`, CRC over `version ‖ body`.
//! `payload = version:u8 ‖ crc32:u32 LE ‖ raw bytes`, same CRC rule.
//! The disk structs are separate from the API types so an API change can never silently change
//! the format; states and event kinds are explicit `u8` codes.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::{Event, EventKind, MessageRecord, State, Timestamp};

/// Records, and payloads kept inside sled.
pub(crate) const FORMAT_V1: u8 = 1;
/// A payload kept in a spill file: the value in `payloads` is only a pointer
/// (`len:u64 LE ‖ content crc32:u32 LE`, in the same checked envelope).
pub(crate) const FORMAT_SPILLED: u8 = 2;
/// A payload kept in a segment file (docs/queue.md §16): the value in `payloads` is a pointer
/// (`segment:u64 LE ‖ offset:u64 LE ‖ len:u64 LE ‖ content crc32:u32 LE`, same envelope).
pub(crate) const FORMAT_SEGMENT: u8 = 3;
const HEADER_LEN: usize = 5;

/// A record as the store keeps it: the API view plus the fields only the store needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) rec: MessageRecord,
    /// Incremented by every lease, never decremented: the lease token (invariant 6).
    pub(crate) lease_counter: u64,
    /// When the message became Delivered/Forwarded; keys of `fin_*`.
    pub(crate) finished_at: Option<Timestamp>,
}

/// Why stored bytes were refused. Display is one line for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("value is {0} bytes, shorter than the 5-byte header")]
    Truncated(usize),
    #[error("unknown format version {0}")]
    UnknownVersion(u8),
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("body does not decode: {0}")]
    Body(String),
    #[error("unknown state code {0}")]
    UnknownState(u8),
    #[error("unknown event kind code {0}")]
    UnknownEventKind(u8),
    #[error("record id {found} does not match its key {key}")]
    WrongId { found: Uuid, key: Uuid },
}

#[derive(Serialize, Deserialize)]
struct DiskEventV1 {
    at: u64,
    kind: u8,
    detail: String,
}

#[derive(Serialize, Deserialize)]
struct DiskRecordV1 {
    id: [u8; 16],
    destination: String,
    seq: u64,
    state: u8,
    attempts: u32,
    not_before: Option<u64>,
    lease_expires_at: Option<u64>,
    lease_counter: u64,
    accepted_at: u64,
    updated_at: u64,
    finished_at: Option<u64>,
    size: u64,
    digest: [u8; 32],
    meta: Vec<u8>,
    history: Vec<DiskEventV1>,
    last_error: Option<String>,
    outcome: Option<Vec<u8>>,
    payload_present: bool,
}

fn state_code(s: State) -> u8 {
    match s {
        State::Queued => 1,
        State::Delivering => 2,
        State::Delivered => 3,
        State::Forwarded => 4,
        State::Dead => 5,
    }
}

fn state_from(code: u8) -> Result<State, DecodeError> {
    Ok(match code {
        1 => State::Queued,
        2 => State::Delivering,
        3 => State::Delivered,
        4 => State::Forwarded,
        5 => State::Dead,
        other => return Err(DecodeError::UnknownState(other)),
    })
}

fn kind_code(k: EventKind) -> u8 {
    match k {
        EventKind::Accepted => 1,
        EventKind::AttemptStarted => 2,
        EventKind::AttemptFailed => 3,
        EventKind::LeaseExpired => 4,
        EventKind::Released => 5,
        EventKind::Delivered => 6,
        EventKind::Forwarded => 7,
        EventKind::Dead => 8,
        EventKind::Replayed => 9,
        EventKind::Note => 10,
    }
}

fn kind_from(code: u8) -> Result<EventKind, DecodeError> {
    Ok(match code {
        1 => EventKind::Accepted,
        2 => EventKind::AttemptStarted,
        3 => EventKind::AttemptFailed,
        4 => EventKind::LeaseExpired,
        5 => EventKind::Released,
        6 => EventKind::Delivered,
        7 => EventKind::Forwarded,
        8 => EventKind::Dead,
        9 => EventKind::Replayed,
        10 => EventKind::Note,
        other => return Err(DecodeError::UnknownEventKind(other)),
    })
}

fn seal(body: &[u8]) -> Vec<u8> {
    seal_as(FORMAT_V1, body)
}

fn seal_as(version: u8, body: &[u8]) -> Vec<u8> {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&[version]);
    hasher.update(body);
    let crc = hasher.finalize();
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.push(version);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Checks version and CRC and returns the body.
fn open_envelope(raw: &[u8]) -> Result<&[u8], DecodeError> {
    open_envelope_as(FORMAT_V1, raw)
}

fn open_envelope_as(want: u8, raw: &[u8]) -> Result<&[u8], DecodeError> {
    let (header, body) = match raw.split_at_checked(HEADER_LEN) {
        Some(parts) => parts,
        None => return Err(DecodeError::Truncated(raw.len())),
    };
    let [version, c0, c1, c2, c3]: [u8; HEADER_LEN] = match header.try_into() {
        Ok(h) => h,
        Err(_) => return Err(DecodeError::Truncated(raw.len())),
    };
    if version != want {
        return Err(DecodeError::UnknownVersion(version));
    }
    let stored = u32::from_le_bytes([c0, c1, c2, c3]);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&[version]);
    hasher.update(body);
    let computed = hasher.finalize();
    if stored != computed {
        return Err(DecodeError::Checksum { stored, computed });
    }
    Ok(body)
}

/// Encodes a record for the `records` tree.
pub(crate) fn encode_record(s: &Stored) -> Vec<u8> {
    let r = &s.rec;
    let disk = DiskRecordV1 {
        id: *r.id.as_bytes(),
        destination: r.destination.clone(),
        seq: r.seq,
        state: state_code(r.state),
        attempts: r.attempts,
        not_before: r.not_before.map(|t| t.0),
        lease_expires_at: r.lease_expires_at.map(|t| t.0),
        lease_counter: s.lease_counter,
        accepted_at: r.accepted_at.0,
        updated_at: r.updated_at.0,
        finished_at: s.finished_at.map(|t| t.0),
        size: r.size,
        digest: r.digest,
        meta: r.meta.clone(),
        history: r
            .history
            .iter()
            .map(|e| DiskEventV1 {
                at: e.at.0,
                kind: kind_code(e.kind),
                detail: e.detail.clone(),
            })
            .collect(),
        last_error: r.last_error.clone(),
        outcome: r.outcome.clone(),
        payload_present: r.payload_present,
    };
    // postcard into a Vec cannot fail for these types (no maps with non-string keys, no
    // sequences of unknown length); an error here would be a bug, not bad input.
    let body = postcard::to_stdvec(&disk).unwrap_or_default();
    seal(&body)
}

/// Decodes and checks a record read under `key`.
pub(crate) fn decode_record(key: Uuid, raw: &[u8]) -> Result<Stored, DecodeError> {
    let body = open_envelope(raw)?;
    let d: DiskRecordV1 =
        postcard::from_bytes(body).map_err(|e| DecodeError::Body(e.to_string()))?;
    let id = Uuid::from_bytes(d.id);
    if id != key {
        return Err(DecodeError::WrongId { found: id, key });
    }
    let mut history = Vec::with_capacity(d.history.len());
    for e in d.history {
        history.push(Event {
            at: Timestamp(e.at),
            kind: kind_from(e.kind)?,
            detail: e.detail,
        });
    }
    Ok(Stored {
        rec: MessageRecord {
            id,
            destination: d.destination,
            seq: d.seq,
            state: state_from(d.state)?,
            attempts: d.attempts,
            not_before: d.not_before.map(Timestamp),
            lease_expires_at: d.lease_expires_at.map(Timestamp),
            accepted_at: Timestamp(d.accepted_at),
            updated_at: Timestamp(d.updated_at),
            size: d.size,
            digest: d.digest,
            meta: d.meta,
            history,
            last_error: d.last_error,
            outcome: d.outcome,
            payload_present: d.payload_present,
        },
        lease_counter: d.lease_counter,
        finished_at: d.finished_at.map(Timestamp),
    })
}

/// Encodes a payload for the `payloads` tree.
pub(crate) fn encode_payload(payload: &[u8]) -> Vec<u8> {
    seal(payload)
}

/// Decodes and checks a payload kept inside sled.
pub(crate) fn decode_payload(raw: &[u8]) -> Result<Bytes, DecodeError> {
    open_envelope(raw).map(Bytes::copy_from_slice)
}

/// Where a message's payload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PayloadRef {
    /// In the `payloads` tree value itself.
    Inline(Bytes),
    /// In a spill file of this length and content CRC32.
    Spilled { len: u64, crc: u32 },
    /// In segment `seg`, frame at `offset`, of this length and content CRC32.
    Segment {
        seg: u64,
        offset: u64,
        len: u64,
        crc: u32,
    },
}

/// The pointer stored in `payloads` for a payload in a segment file.
pub(crate) fn encode_segment_pointer(seg: u64, offset: u64, len: u64, crc: u32) -> Vec<u8> {
    let mut body = [0u8; 28];
    body[..8].copy_from_slice(&seg.to_le_bytes());
    body[8..16].copy_from_slice(&offset.to_le_bytes());
    body[16..24].copy_from_slice(&len.to_le_bytes());
    body[24..].copy_from_slice(&crc.to_le_bytes());
    seal_as(FORMAT_SEGMENT, &body)
}

fn decode_segment_pointer(raw: &[u8]) -> Result<PayloadRef, DecodeError> {
    let body = open_envelope_as(FORMAT_SEGMENT, raw)?;
    let Ok(b) = <[u8; 28]>::try_from(body) else {
        return Err(DecodeError::Body(format!(
            "segment pointer is {} bytes, not 28",
            body.len()
        )));
    };
    let u64_at = |i: usize| {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(v)
    };
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&b[24..]);
    Ok(PayloadRef::Segment {
        seg: u64_at(0),
        offset: u64_at(8),
        len: u64_at(16),
        crc: u32::from_le_bytes(crc),
    })
}

/// The pointer stored in `payloads` for a spilled payload.
pub(crate) fn encode_spill_pointer(len: u64, crc: u32) -> Vec<u8> {
    let mut body = [0u8; 12];
    body[..8].copy_from_slice(&len.to_le_bytes());
    body[8..].copy_from_slice(&crc.to_le_bytes());
    seal_as(FORMAT_SPILLED, &body)
}

/// Decodes and checks a `payloads` value of either kind.
pub(crate) fn decode_payload_ref(raw: &[u8]) -> Result<PayloadRef, DecodeError> {
    match raw.first() {
        Some(&FORMAT_SPILLED) => {}
        Some(&FORMAT_SEGMENT) => return decode_segment_pointer(raw),
        _ => return decode_payload(raw).map(PayloadRef::Inline),
    }
    let body = open_envelope_as(FORMAT_SPILLED, raw)?;
    match <[u8; 12]>::try_from(body) {
        Ok(b) => {
            let mut len = [0u8; 8];
            len.copy_from_slice(&b[..8]);
            let mut crc = [0u8; 4];
            crc.copy_from_slice(&b[8..]);
            Ok(PayloadRef::Spilled {
                len: u64::from_le_bytes(len),
                crc: u32::from_le_bytes(crc),
            })
        }
        Err(_) => Err(DecodeError::Body(format!(
            "spill pointer is {} bytes, not 12",
            body.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Stored {
        Stored {
            rec: MessageRecord {
                id: Uuid::from_u128(7),
                destination: "ags:08111000".into(),
                seq: 42,
                state: State::Delivering,
                attempts: 3,
                not_before: None,
                lease_expires_at: Some(Timestamp(99)),
                accepted_at: Timestamp(1),
                updated_at: Timestamp(2),
                size: 4096,
                digest: [9; 32],
                meta: vec![1, 2, 3],
                history: vec![Event {
                    at: Timestamp(1),
                    kind: EventKind::Accepted,
                    detail: "ok".into(),
                }],
                last_error: Some("timeout".into()),
                outcome: None,
                payload_present: true,
            },
            lease_counter: 5,
            finished_at: None,
        }
    }

    #[test]
    fn record_survives_encode_and_decode_unchanged() {
        let s = sample();
        let raw = encode_record(&s);
        assert_eq!(decode_record(s.rec.id, &raw), Ok(s));
    }

    #[test]
    fn flipped_body_byte_is_refused_as_checksum_mismatch() {
        let s = sample();
        let mut raw = encode_record(&s);
        let last = raw.len() - 1;
        raw[last] ^= 0x01;
        assert!(matches!(
            decode_record(s.rec.id, &raw),
            Err(DecodeError::Checksum { .. })
        ));
    }

    #[test]
    fn unknown_version_byte_is_refused_before_the_checksum() {
        let s = sample();
        let mut raw = encode_record(&s);
        raw[0] = 9;
        assert_eq!(
            decode_record(s.rec.id, &raw),
            Err(DecodeError::UnknownVersion(9))
        );
    }

    #[test]
    fn truncated_value_is_refused_as_truncated() {
        assert_eq!(decode_payload(&[1, 2]), Err(DecodeError::Truncated(2)));
    }

    #[test]
    fn record_under_another_key_is_refused_as_wrong_id() {
        let s = sample();
        let raw = encode_record(&s);
        assert_eq!(
            decode_record(Uuid::from_u128(8), &raw),
            Err(DecodeError::WrongId {
                found: Uuid::from_u128(7),
                key: Uuid::from_u128(8)
            })
        );
    }

    #[test]
    fn unknown_state_code_with_valid_checksum_is_refused() {
        let mut body = postcard::to_stdvec(&DiskRecordV1 {
            id: [0; 16],
            destination: String::new(),
            seq: 0,
            state: 77,
            attempts: 0,
            not_before: None,
            lease_expires_at: None,
            lease_counter: 0,
            accepted_at: 0,
            updated_at: 0,
            finished_at: None,
            size: 0,
            digest: [0; 32],
            meta: vec![],
            history: vec![],
            last_error: None,
            outcome: None,
            payload_present: true,
        })
        .unwrap_or_default();
        body = seal(&body);
        assert_eq!(
            decode_record(Uuid::nil(), &body),
            Err(DecodeError::UnknownState(77))
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_record_decoder(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_record(Uuid::nil(), &raw);
            let _ = decode_payload(&raw);
        }

        #[test]
        fn any_single_bit_flip_of_a_record_is_detected(pos in 0usize..10_000, bit in 0u8..8) {
            let s = sample();
            let mut raw = encode_record(&s);
            let i = pos % raw.len();
            if let Some(b) = raw.get_mut(i) {
                *b ^= 1 << bit;
            }
            proptest::prop_assert!(decode_record(s.rec.id, &raw).is_err());
        }
    }

    #[test]
    fn spill_pointer_round_trips_and_a_flipped_bit_is_refused() {
        let raw = encode_spill_pointer(1 << 20, 0xDEAD_BEEF);
        assert_eq!(
            decode_payload_ref(&raw),
            Ok(PayloadRef::Spilled {
                len: 1 << 20,
                crc: 0xDEAD_BEEF
            })
        );
        let mut bad = raw.clone();
        bad[7] ^= 0x10;
        assert!(matches!(
            decode_payload_ref(&bad),
            Err(DecodeError::Checksum { .. })
        ));
        let inline = encode_payload(b"<m/>");
        assert_eq!(
            decode_payload_ref(&inline),
            Ok(PayloadRef::Inline(Bytes::from_static(b"<m/>")))
        );
    }

    #[test]
    fn segment_pointer_round_trips_and_a_flipped_bit_is_refused() {
        let raw = encode_segment_pointer(3, 4096, 512, 0xCAFE_F00D);
        assert_eq!(
            decode_payload_ref(&raw),
            Ok(PayloadRef::Segment {
                seg: 3,
                offset: 4096,
                len: 512,
                crc: 0xCAFE_F00D
            })
        );
        let mut bad = raw.clone();
        bad[12] ^= 0x01;
        assert!(matches!(
            decode_payload_ref(&bad),
            Err(DecodeError::Checksum { .. })
        ));
    }
    #[test]
    fn payload_round_trips_byte_for_byte() {
        let p = b"<xml>payload</xml>".to_vec();
        assert_eq!(decode_payload(&encode_payload(&p)), Ok(Bytes::from(p)));
    }
}
