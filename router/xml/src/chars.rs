//! Character classes of XML 1.0 (fifth edition) and Namespaces in XML 1.0.

/// `Char` production: what may appear in a document at all.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// First invalid character of `text` with its byte offset, if any.
/// Fast path: only bytes below 0x20 and the UTF-8 lead byte 0xEF can start one.
pub(crate) fn find_invalid_char(text: &str) -> Option<(usize, char)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    // Scan 8 bytes at a time for anything below 0x20 or equal to 0xEF, then
    // look closer; most chunks are plain text and pass in one test.
    while let Some(chunk) = bytes.get(from..from + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        let below_20 = w.wrapping_sub(LO * 0x20) & !w & HI;
        let x = w ^ (LO * 0xEF);
        let is_ef = x.wrapping_sub(LO) & !x & HI;
        if below_20 | is_ef != 0
            && let Some(found) = check_range(text, from, from + 8)
        {
            return Some(found);
        }
        from += 8;
    }
    check_range(text, from, bytes.len())
}

fn check_range(text: &str, from: usize, to: usize) -> Option<(usize, char)> {
    let bytes = text.as_bytes();
    for i in from..to.min(bytes.len()) {
        let b = bytes.get(i).copied().unwrap_or(0);
        let suspicious = (b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r') || b == 0xEF;
        if suspicious
            && let Some(c) = text.get(i..).and_then(|rest| rest.chars().next())
            && !is_xml_char(c)
        {
            return Some((i, c));
        }
    }
    None
}

fn is_name_start_char(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// `NCName`: a `Name` without colons.
pub(crate) fn is_ncname(s: &str) -> bool {
    // Fast path: almost all names are ASCII.
    let bytes = s.as_bytes();
    if bytes.is_ascii() {
        return match bytes.split_first() {
            Some((first, rest)) => {
                (first.is_ascii_alphabetic() || *first == b'_')
                    && rest
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            }
            None => false,
        };
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c != ':' && is_name_start_char(c) => chars.all(|c| c != ':' && is_name_char(c)),
        _ => false,
    }
}

/// Splits a `QName` into (prefix, local); `None` if it is not one.
pub(crate) fn split_qname(s: &str) -> Option<(Option<&str>, &str)> {
    match s.split_once(':') {
        None => is_ncname(s).then_some((None, s)),
        Some((p, l)) => (is_ncname(p) && is_ncname(l)).then_some((Some(p), l)),
    }
}

/// `Name` (colons allowed), used for PI targets.
pub(crate) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if is_name_start_char(c) => chars.all(is_name_char),
        _ => false,
    }
}

/// XML white space (`S` production).
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Does `uri` start with a URI scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`)?
/// Namespace names without one are relative references.
pub(crate) fn has_uri_scheme(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}
