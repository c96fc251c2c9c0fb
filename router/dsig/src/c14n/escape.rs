//! Character escaping of C14N 1.0 §2.3 (text and attribute values).

use super::Sink;

/// Text nodes: `&`, `<`, `>` and CR (only possible via `&#13;`) are escaped.
pub(crate) fn text(out: &mut impl Sink, s: &str) {
    escape(out, s, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

/// Attribute values: `&`, `<`, `"`, TAB, LF and CR are escaped.
pub(crate) fn attribute(out: &mut impl Sink, s: &str) {
    escape(out, s, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

/// Comments and PIs are written as they are, except CR (C14N §2.3 for PIs
/// and comments says nothing else is escaped; CR cannot occur after parsing).
pub(crate) fn raw(out: &mut impl Sink, s: &str) {
    out.put(s.as_bytes());
}

/// Writes `s`, replacing the ASCII bytes `map` knows; runs of plain bytes are
/// written in one call. Only ASCII is replaced, so UTF-8 stays intact.
fn escape(out: &mut impl Sink, s: &str, map: impl Fn(u8) -> Option<&'static [u8]>) {
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, b) in bytes.iter().enumerate() {
        if let Some(rep) = map(*b) {
            out.put(bytes.get(run..i).unwrap_or(&[]));
            out.put(rep);
            run = i + 1;
        }
    }
    out.put(bytes.get(run..).unwrap_or(&[]));
}
