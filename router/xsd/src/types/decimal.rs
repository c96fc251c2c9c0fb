//! `xs:decimal` and the integer types: arbitrary-precision values kept as digit strings.
//!
//! libxml2 stores decimals in 24 digits and rejects longer values; [`parse_decimal`] and
//! [`parse_integer`] reproduce that limit (documented in `docs/schema-validation.md`).

use std::cmp::Ordering;

/// libxml2's digit limit for `xs:decimal` and `xs:integer` values.
const MAX_DIGITS: usize = 24;

/// A decimal number. Invariants: `int` has no leading zeros, `frac` no trailing zeros, and zero
/// is never negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    neg: bool,
    int: Box<str>,
    frac: Box<str>,
}

impl Decimal {
    fn new(neg: bool, int: &str, frac: &str) -> Decimal {
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        let zero = int.is_empty() && frac.is_empty();
        Decimal {
            neg: neg && !zero,
            int: int.into(),
            frac: frac.into(),
        }
    }

    /// Digits before and after the point, without insignificant zeros (`totalDigits`).
    pub(crate) fn total_digits(&self) -> usize {
        (self.int.len() + self.frac.len()).max(1)
    }

    /// Digits after the point, without trailing zeros (`fractionDigits`).
    pub(crate) fn fraction_digits(&self) -> usize {
        self.frac.len()
    }

    pub(crate) fn is_integer(&self) -> bool {
        self.frac.is_empty()
    }

    /// The value as i128 when it is an integer that fits.
    pub(crate) fn to_i128(&self) -> Option<i128> {
        if !self.is_integer() {
            return None;
        }
        let magnitude: i128 = if self.int.is_empty() {
            0
        } else {
            self.int.parse().ok()?
        };
        Some(if self.neg { -magnitude } else { magnitude })
    }
}

fn cmp_magnitude(a: &Decimal, b: &Decimal) -> Ordering {
    a.int
        .len()
        .cmp(&b.int.len())
        .then_with(|| a.int.cmp(&b.int))
        .then_with(|| a.frac.cmp(&b.frac))
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.neg, other.neg) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => cmp_magnitude(self, other),
            (true, true) => cmp_magnitude(other, self),
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Parses `[+-]? digits ('.' digits?)? | [+-]? '.' digits` (no surrounding whitespace) with
/// libxml2's 24-digit limit: leading zeros of the integer part do not count, every fraction
/// digit does, and after 24 integer digits not even a point may follow.
pub(crate) fn parse_decimal(s: &str) -> Option<Decimal> {
    let (neg, rest) = sign(s);
    let b = rest.as_bytes();
    let mut i = 0;
    let mut leading_zero = false;
    while b.get(i) == Some(&b'0') {
        i += 1;
        leading_zero = true;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int = rest.get(int_start..i)?;
    if int.len() > MAX_DIGITS || (int.len() == MAX_DIGITS && i < b.len()) {
        return None;
    }
    let mut frac = "";
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        frac = rest.get(frac_start..i)?;
        if int.is_empty() && frac.is_empty() && !leading_zero {
            return None;
        }
        if int.len() + frac.len() > MAX_DIGITS {
            return None;
        }
    } else if int.is_empty() && !leading_zero {
        return None;
    }
    if i != b.len() {
        return None;
    }
    Some(Decimal::new(neg, int, frac))
}

/// Parses `[+-]? digits` with libxml2's limit of 24 digits after leading zeros.
pub(crate) fn parse_integer(s: &str) -> Option<Decimal> {
    let (neg, digits) = sign(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if digits.trim_start_matches('0').len() > MAX_DIGITS {
        return None;
    }
    Some(Decimal::new(neg, digits, ""))
}

fn sign(s: &str) -> (bool, &str) {
    if let Some(rest) = s.strip_prefix('-') {
        (true, rest)
    } else if let Some(rest) = s.strip_prefix('+') {
        (false, rest)
    } else {
        (false, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        parse_decimal(s).expect("valid decimal")
    }

    #[test]
    fn accepts_decimal_forms_libxml2_accepts() {
        for ok in ["1.5", "+1.5", ".5", "5.", "-.5", "00.", "-0.0", "+.0", "0"] {
            assert!(parse_decimal(ok).is_some(), "{ok}");
        }
        for bad in [".", "-", "+", "+.", "1e5", "1,5", "", "1.2.3"] {
            assert!(parse_decimal(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn rejects_decimals_with_more_than_24_significant_digits() {
        assert!(parse_decimal("123456789012345678901234").is_some());
        assert!(parse_decimal("1234567890123456789012345").is_none());
        assert!(parse_decimal("1.0000000000000000000000000").is_none());
        assert!(parse_decimal("123456789012345678901234.").is_none());
        assert!(parse_decimal("12345678901234567890123.4").is_some());
        assert!(parse_decimal("00000000000000000000000000000.5").is_some());
        assert!(parse_integer("000000000000000000000000000001").is_some());
        assert!(parse_integer("1234567890123456789012345").is_none());
    }

    #[test]
    fn compares_by_value_not_by_spelling() {
        assert_eq!(d("1.50"), d("01.5"));
        assert_eq!(d("-0"), d("0.0"));
        assert!(d("-2") < d("-1.5"));
        assert!(d("10") > d("9.99"));
        assert!(d("0.5") < d("0.51"));
        assert_eq!(d("123.4500").total_digits(), 5);
        assert_eq!(d("123.4500").fraction_digits(), 2);
    }
}
