//! Character escaping of C14N 1.0 §2.3 (text and attribute values).

use super::Sink;

/// Text nodes: `&`, `<`, `>` and CR (only possible via `&#13;`) are escaped.
///
/// Text is where a large message's bytes are (a 1 MiB base64 attachment), so the special
/// bytes are found with SIMD searches and the plain runs between them copied whole.
pub(crate) fn text(out: &mut impl Sink, s: &str) {
    let bytes = s.as_bytes();
    let mut run = 0;
    // CR is rare (only from `&#13;`): found once, searched again only after it was passed.
    let mut next_cr = memchr::memchr(b'\r', bytes);
    loop {
        let rest = bytes.get(run..).unwrap_or(&[]);
        if next_cr.is_some_and(|cr| cr < run) {
            next_cr = memchr::memchr(b'\r', rest).map(|i| i + run);
        }
        let markup = memchr::memchr3(b'&', b'<', b'>', rest).map(|i| i + run);
        let next = match (markup, next_cr) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        out.put(bytes.get(run..next).unwrap_or(&[]));
        out.put(match bytes.get(next) {
            Some(b'&') => b"&amp;",
            Some(b'<') => b"&lt;",
            Some(b'>') => b"&gt;",
            _ => b"&#xD;",
        });
        run = next + 1;
    }
    out.put(bytes.get(run..).unwrap_or(&[]));
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The text rule applied byte by byte, as C14N §2.3 states it.
    fn text_by_byte(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        escape(&mut out, s, |b| match b {
            b'&' => Some(b"&amp;"),
            b'<' => Some(b"&lt;"),
            b'>' => Some(b"&gt;"),
            b'\r' => Some(b"&#xD;"),
            _ => None,
        });
        out
    }

    fn text_fast(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        text(&mut out, s);
        out
    }

    #[test]
    fn text_escapes_markup_and_carriage_returns_and_nothing_else() {
        assert_eq!(
            text_fast("a&b<c>d\re\"f'g\th\ni"),
            b"a&amp;b&lt;c&gt;d&#xD;e\"f'g\th\ni".to_vec()
        );
        assert_eq!(text_fast("\r\r&\r"), b"&#xD;&#xD;&amp;&#xD;".to_vec());
        assert_eq!(text_fast(""), b"".to_vec());
        assert_eq!(text_fast("Königstraße"), "Königstraße".as_bytes().to_vec());
    }

    proptest! {
        #[test]
        fn text_matches_the_byte_by_byte_rule(s in "[a&<>\r\n\"ä€😀 ]{0,64}") {
            prop_assert_eq!(text_fast(&s), text_by_byte(&s));
        }
    }
}
