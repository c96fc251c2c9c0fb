//! `xs:hexBinary` and `xs:base64Binary`.
//!
//! Base64 follows libxml2 2.9, which decodes like RFC 2045: characters outside the base64
//! alphabet (including whitespace) are ignored, the number of alphabet characters must fill
//! whole quanta, at most two `=` may end the data and no alphabet character may follow them, and
//! the bits a padding discards must be zero. The value kept is the decoded length (for the
//! `length` facets) and a digest-free copy of the canonical characters (for equality).

/// Decoded hexBinary octets, or None when the value is not an even number of hex digits.
pub(crate) fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(hex_digit(*hi)? << 4 | hex_digit(*lo)?),
            _ => None,
        })
        .collect()
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// A base64Binary value: the alphabet characters (padding stripped) and the decoded length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Base64 {
    pub(crate) chars: Vec<u8>,
    pub(crate) octets: usize,
}

pub(crate) fn parse_base64(s: &str) -> Option<Base64> {
    let mut chars = Vec::with_capacity(s.len());
    let mut pad = 0usize;
    for c in s.bytes() {
        if c == b'=' {
            pad += 1;
        } else if let Some(v) = b64_value(c) {
            if pad > 0 {
                return None;
            }
            chars.push(v);
        }
    }
    let n = chars.len();
    let mut octets = 3 * (n / 4);
    match pad {
        0 if n % 4 == 0 => {}
        1 if n % 4 == 3 => {
            // 16 bits in three characters: the last one's two low bits must be zero.
            if chars.last().is_some_and(|v| v & 0x03 != 0) {
                return None;
            }
            octets += 2;
        }
        2 if n % 4 == 2 => {
            // 8 bits in two characters: the last one's four low bits must be zero.
            if chars.last().is_some_and(|v| v & 0x0F != 0) {
                return None;
            }
            octets += 1;
        }
        _ => return None,
    }
    Some(Base64 { chars, octets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_needs_an_even_number_of_hex_digits() {
        assert_eq!(parse_hex("0aFF"), Some(vec![0x0A, 0xFF]));
        assert_eq!(parse_hex(""), Some(vec![]));
        assert_eq!(parse_hex("0"), None);
        assert_eq!(parse_hex("0g"), None);
        assert_eq!(parse_hex("0a 0b"), None);
    }

    #[test]
    fn base64_ignores_stray_characters_like_libxml2() {
        for ok in [
            "AAAA", "AA AA", "AAA=", "AA==", "AAA\n=", "ä", "A.A.A.A.", "-___", "", "AA= =",
        ] {
            assert!(parse_base64(ok).is_some(), "{ok:?}");
        }
        for bad in [
            "A===",
            "AAA",
            "AB==",
            "AA==AAAA",
            "AAAA=",
            "====",
            "A=AA",
            "AAAAAB==",
            "AAAA AAA",
            "Kein gültiges Base64!",
        ] {
            assert!(parse_base64(bad).is_none(), "{bad:?}");
        }
        assert_eq!(parse_base64("AAAAAA==").map(|b| b.octets), Some(4));
    }
}
