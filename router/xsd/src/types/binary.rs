//! `xs:hexBinary` and `xs:base64Binary`.
//!
//! Base64 follows libxml2 2.9, which decodes like RFC 2045: characters outside the base64
//! alphabet (including whitespace) are ignored, the number of alphabet characters must fill
//! whole quanta, at most two `=` may end the data and no alphabet character may follow them, and
//! the bits a padding discards must be zero. The value kept is the decoded length (for the
//! `length` facets) and a fingerprint of the alphabet characters (for equality facets).

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

/// Alphabet value of each byte: 0..=63, [`PAD`] for `=`, [`SKIP`] for everything else (not
/// part of the value; what may stand there is left to the lexical checks, as before).
const PAD: u8 = 64;
const SKIP: u8 = 65;
const B64: [u8; 256] = {
    let mut t = [SKIP; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'=' as usize] = PAD;
    t
};

/// A base64Binary value: its decoded length, and a fingerprint of its alphabet characters
/// (padding stripped) for equality facets (enumeration, fixed). The fingerprint replaces a
/// copy of every character: a 1 MiB attachment would otherwise cost 1.4 M vector pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Base64 {
    /// Number of alphabet characters, and their FNV-1a 64 hash in four lanes (folded).
    pub(crate) fingerprint: (usize, u64),
    pub(crate) octets: usize,
}

pub(crate) fn parse_base64(s: &str) -> Option<Base64> {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut n = 0usize;
    let mut pad = 0usize;
    let mut last = 0u8;
    // Four FNV-1a lanes (character i goes to lane i % 4): one lane is a chain of dependent
    // multiplications, four let the CPU overlap them. Folded into one hash at the end.
    let mut lanes = [FNV_OFFSET; 4];
    for &c in s.as_bytes() {
        match B64[c as usize] {
            PAD => pad += 1,
            SKIP => {}
            v => {
                if pad > 0 {
                    return None;
                }
                let lane = &mut lanes[n % 4];
                *lane = (*lane ^ u64::from(v)).wrapping_mul(FNV_PRIME);
                n += 1;
                last = v;
            }
        }
    }
    let hash = lanes
        .iter()
        .fold(FNV_OFFSET, |h, l| (h ^ l).wrapping_mul(FNV_PRIME));
    let mut octets = 3 * (n / 4);
    match pad {
        0 if n.is_multiple_of(4) => {}
        // 16 bits in three characters: the last one's two low bits must be zero.
        1 if n % 4 == 3 && last & 0x03 == 0 => octets += 2,
        // 8 bits in two characters: the last one's four low bits must be zero.
        2 if n % 4 == 2 && last & 0x0F == 0 => octets += 1,
        _ => return None,
    }
    Some(Base64 {
        fingerprint: (n, hash),
        octets,
    })
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

    #[test]
    fn base64_fingerprint_depends_on_the_characters_not_on_whitespace() {
        let print = |s: &str| parse_base64(s).map(|b| b.fingerprint);
        let flat = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY";
        assert_eq!(
            print(flat),
            print("QUJDREVGR0hJ\nSktMTU5P UFFSU1RV\r\n\tVldY")
        );
        assert_ne!(print(flat), print("QUJDREVGR0hJSktMTU5PUFFSU1RVVldZ"));
        assert_ne!(print(flat), print("QUJEREVGR0hJSktMTU5PUFFSU1RVVldY"));
        assert_ne!(print(flat), print("R0hJQUJDREVGSktMTU5PUFFSU1RVVldY"));
        assert_ne!(print("AAAA"), print("AAAAAAAA"));
        assert_ne!(print("QUI="), print("QUE="));
    }

    proptest::proptest! {
        #[test]
        fn base64_fingerprint_is_the_same_whatever_whitespace_is_inserted(
            chars in proptest::collection::vec(0u8..64, 0..1400),
            breaks in proptest::collection::vec((0usize..1400, 0usize..4), 0..40),
        ) {
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            // Whole quanta, so every value is valid base64 and has a fingerprint.
            let whole = chars.len() / 4 * 4;
            let flat: Vec<u8> = chars[..whole].iter().map(|&v| alphabet[v as usize]).collect();
            let mut spaced = flat.clone();
            let mut cuts: Vec<_> = breaks.into_iter().map(|(at, ws)| (at.min(flat.len()), ws)).collect();
            cuts.sort();
            for (at, ws) in cuts.into_iter().rev() {
                spaced.insert(at, b" \t\r\n"[ws]);
            }
            let flat = String::from_utf8(flat).expect("ASCII");
            let spaced = String::from_utf8(spaced).expect("ASCII");
            let print = |s: &str| parse_base64(s).map(|b| b.fingerprint);
            proptest::prop_assert!(print(&flat).is_some());
            proptest::prop_assert_eq!(print(&flat), print(&spaced));
            let mut other = flat.clone().into_bytes();
            if let Some(c) = other.first_mut() {
                *c = if *c == b'A' { b'B' } else { b'A' };
                let other = String::from_utf8(other).expect("ASCII");
                proptest::prop_assert_ne!(print(&flat).map(|f| f.1), print(&other).map(|f| f.1));
            }
        }
    }
}
