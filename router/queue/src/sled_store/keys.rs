//! Key and index-value layouts (docs/queue.md §3). Big-endian integers so byte order is
//! numeric order; destinations are length-prefixed so one destination is one key prefix.

use uuid::Uuid;

/// Destination ids longer than this are refused (`InvalidMessage`), so the u16 prefix fits.
pub(crate) const MAX_DESTINATION_LEN: usize = 1024;

/// `u16 len ‖ dest`: the key prefix of one destination.
pub(crate) fn dest_prefix(dest: &str) -> Vec<u8> {
    let bytes = dest.as_bytes();
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    let mut k = Vec::with_capacity(2 + bytes.len() + 16);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(bytes);
    k
}

/// `dest ‖ seq`: keys of `pending` and `ready`.
pub(crate) fn dest_seq(dest: &str, seq: u64) -> Vec<u8> {
    let mut k = dest_prefix(dest);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// `dest ‖ not_before ‖ seq`: keys of `scheduled`.
pub(crate) fn dest_time_seq(dest: &str, at: u64, seq: u64) -> Vec<u8> {
    let mut k = dest_prefix(dest);
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// `time ‖ seq`: keys of `leases`, `fin_payload`, `fin_record`.
pub(crate) fn time_seq(at: u64, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(16);
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// `seq`: keys of `dead`.
pub(crate) fn seq_key(seq: u64) -> Vec<u8> {
    seq.to_be_bytes().to_vec()
}

/// Reads a big-endian u64 at `offset`, if the bytes are there.
pub(crate) fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    let end = offset.checked_add(8)?;
    let chunk: [u8; 8] = bytes.get(offset..end)?.try_into().ok()?;
    Some(u64::from_be_bytes(chunk))
}

/// Splits `u16 len ‖ dest ‖ rest` into `(dest, rest)`.
pub(crate) fn split_dest(key: &[u8]) -> Option<(&str, &[u8])> {
    let len_bytes: [u8; 2] = key.get(0..2)?.try_into().ok()?;
    let len = usize::from(u16::from_be_bytes(len_bytes));
    let dest = key.get(2..2 + len)?;
    let rest = key.get(2 + len..)?;
    Some((std::str::from_utf8(dest).ok()?, rest))
}

/// The trailing `seq` of a key whose last 8 bytes are the sequence number.
pub(crate) fn trailing_seq(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    u64_at(key, start)
}

/// Value `id ‖ size` (`pending`).
pub(crate) fn id_size(id: Uuid, size: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(24);
    v.extend_from_slice(id.as_bytes());
    v.extend_from_slice(&size.to_be_bytes());
    v
}

/// Value `id ‖ dest` (`leases`, `dead`).
pub(crate) fn id_dest(id: Uuid, dest: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + dest.len());
    v.extend_from_slice(id.as_bytes());
    v.extend_from_slice(dest.as_bytes());
    v
}

/// The leading id of an index value.
pub(crate) fn value_id(v: &[u8]) -> Option<Uuid> {
    let b: [u8; 16] = v.get(0..16)?.try_into().ok()?;
    Some(Uuid::from_bytes(b))
}

/// Parses `id ‖ size`.
pub(crate) fn parse_id_size(v: &[u8]) -> Option<(Uuid, u64)> {
    if v.len() != 24 {
        return None;
    }
    Some((value_id(v)?, u64_at(v, 16)?))
}

/// Parses `id ‖ dest`.
pub(crate) fn parse_id_dest(v: &[u8]) -> Option<(Uuid, &str)> {
    let id = value_id(v)?;
    let dest = std::str::from_utf8(v.get(16..)?).ok()?;
    Some((id, dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_destination_is_never_a_key_prefix_of_another() {
        let a = dest_seq("ags:08", 1);
        let b = dest_prefix("ags:081");
        assert!(!a.starts_with(&b));
        assert!(!b.starts_with(&dest_prefix("ags:08")) || dest_prefix("ags:08") == b);
    }

    #[test]
    fn sequence_keys_sort_numerically() {
        assert!(dest_seq("d", 255) < dest_seq("d", 256));
        assert!(time_seq(1, u64::MAX) < time_seq(2, 0));
    }

    #[test]
    fn split_dest_returns_destination_and_rest() {
        let k = dest_time_seq("x:1", 5, 6);
        let (d, rest) = split_dest(&k).unwrap_or(("", &[]));
        assert_eq!(d, "x:1");
        assert_eq!(u64_at(rest, 0), Some(5));
        assert_eq!(trailing_seq(&k), Some(6));
    }

    #[test]
    fn short_index_values_do_not_parse() {
        assert_eq!(parse_id_size(&[0; 23]), None);
        assert_eq!(parse_id_dest(&[0; 15]), None);
        assert_eq!(split_dest(&[0, 9, 1]), None);
    }
}
