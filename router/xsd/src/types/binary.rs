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
    /// Number of alphabet characters, and a 64-bit hash of them packed eight to a word.
    pub(crate) fingerprint: (usize, u64),
    pub(crate) octets: usize,
}

pub(crate) fn parse_base64(s: &str) -> Option<Base64> {
    let bytes = s.as_bytes();
    let mut scan = Scan::default();
    let mut i = 0;
    while i < bytes.len() {
        // Fast path: words of eight alphabet characters (the bulk of an attachment), checked
        // four at a time, cost a table load per byte and a hash step per word. The first word
        // with anything else (a line end, padding, a stray byte) goes one byte at a time up to
        // and including that byte, and the fast path resumes right after it.
        if scan.pad == 0 {
            let words = bytes.get(i..).unwrap_or_default().chunks_exact(8).take(4);
            let mut fast = 0;
            for word in words {
                if specials(word) >= PAD {
                    break;
                }
                scan.word(word);
                fast += 8;
            }
            if fast > 0 {
                i += fast;
                continue;
            }
        }
        for &c in bytes.get(i..(i + 8).min(bytes.len())).unwrap_or_default() {
            i += 1;
            scan.byte(c)?;
            if B64[c as usize] >= PAD {
                break;
            }
        }
    }
    scan.finish()
}

/// Bitwise or of the table values: below [`PAD`] exactly when every byte is an alphabet
/// character.
fn specials(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |m, &c| m | B64[c as usize])
}

/// State of one pass over a base64 value. The fingerprint hashes the alphabet characters
/// packed eight to a word in order of appearance, so it does not depend on where whitespace
/// stands: `acc` holds the `k` characters of the word being packed (first one lowest).
struct Scan {
    n: usize,
    pad: usize,
    last: u8,
    acc: u64,
    k: u32,
    hash: u64,
}

impl Default for Scan {
    fn default() -> Self {
        Scan {
            n: 0,
            pad: 0,
            last: 0,
            acc: 0,
            k: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl Scan {
    fn mix(&mut self, w: u64) {
        let h = (self.hash ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.hash = h ^ (h >> 29);
    }

    /// Eight alphabet characters, no padding seen yet.
    fn word(&mut self, chars: &[u8]) {
        let mut le = [0u8; 8];
        le.copy_from_slice(chars);
        let w = u64::from_le_bytes(le);
        if self.k == 0 {
            self.mix(w);
        } else {
            // Complete the pending word with the first 8 - k characters; the last k wait.
            let shift = 8 * self.k;
            self.mix(self.acc | (w << shift));
            self.acc = w >> (64 - shift);
        }
        self.n += 8;
        self.last = B64[chars[7] as usize];
    }

    /// One character; None when an alphabet character follows padding.
    fn byte(&mut self, c: u8) -> Option<()> {
        match B64[c as usize] {
            PAD => self.pad += 1,
            SKIP => {}
            v => {
                if self.pad > 0 {
                    return None;
                }
                self.acc |= u64::from(c) << (8 * self.k);
                self.k += 1;
                if self.k == 8 {
                    let w = self.acc;
                    self.mix(w);
                    self.acc = 0;
                    self.k = 0;
                }
                self.n += 1;
                self.last = v;
            }
        }
        Some(())
    }

    fn finish(mut self) -> Option<Base64> {
        if self.k > 0 {
            let w = self.acc;
            self.mix(w);
        }
        let n = self.n;
        let mut octets = 3 * (n / 4);
        match self.pad {
            0 if n.is_multiple_of(4) => {}
            // 16 bits in three characters: the last one's two low bits must be zero.
            1 if n % 4 == 3 && self.last & 0x03 == 0 => octets += 2,
            // 8 bits in two characters: the last one's four low bits must be zero.
            2 if n % 4 == 2 && self.last & 0x0F == 0 => octets += 1,
            _ => return None,
        }
        Some(Base64 {
            fingerprint: (n, self.hash),
            octets,
        })
    }
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
        // The padding checks see the last character of a word the fast path took whole
        // (bytes 4..12 below).
        assert_eq!(parse_base64("AAA\nAAAAAAAE=").map(|b| b.octets), Some(8));
        assert_eq!(parse_base64("AAA\nAAAAAAAB="), None);
        assert_eq!(parse_base64("AAA\nAAAAAAAA=A"), None);
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

    /// The character-by-character definition the chunked scan must agree with.
    fn reference_octets(s: &str) -> Option<usize> {
        let (mut n, mut pad, mut last) = (0usize, 0usize, 0u8);
        for &c in s.as_bytes() {
            match B64[c as usize] {
                PAD => pad += 1,
                SKIP => {}
                _ if pad > 0 => return None,
                v => {
                    n += 1;
                    last = v;
                }
            }
        }
        match pad {
            0 if n % 4 == 0 => Some(3 * (n / 4)),
            1 if n % 4 == 3 && last & 0x03 == 0 => Some(3 * (n / 4) + 2),
            2 if n % 4 == 2 && last & 0x0F == 0 => Some(3 * (n / 4) + 1),
            _ => None,
        }
    }

    proptest::proptest! {
        #[test]
        fn base64_scan_agrees_with_the_character_by_character_definition(
            picks in proptest::collection::vec(0usize..72, 0..300),
        ) {
            // Mostly alphabet, some whitespace, padding and stray bytes, anywhere.
            let pool: Vec<&str> = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                .split("")
                .filter(|c| !c.is_empty())
                .chain([" ", "\n", "\r\n", "=", "==", ".", "ä", "-"])
                .collect();
            let s: String = picks.iter().map(|&i| pool[i % pool.len()]).collect();
            let got = parse_base64(&s);
            proptest::prop_assert_eq!(got.as_ref().map(|b| b.octets), reference_octets(&s), "{:?}", s);
            if let Some(b) = got {
                // Only the alphabet characters count, wherever the rest stands.
                let kept: String = s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/' || *c == '=').collect();
                proptest::prop_assert_eq!(Some(b.fingerprint), parse_base64(&kept).map(|k| k.fingerprint));
            }
        }

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
