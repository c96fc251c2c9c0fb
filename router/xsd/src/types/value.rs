//! Typed values of atomic simple types: lexical parsing per built-in type, equality (for
//! `enumeration` and `fixed`), order (for the bounds facets) and length.

use std::cmp::Ordering;

use super::binary::{self, Base64};
use super::builtin::Builtin;
use super::datetime::{self, DateTime, DtKind};
use super::decimal::{self, Decimal};
use super::duration::{self, Duration};
use super::uri;
use crate::NamespaceScope;
use crate::xmlchar;

/// A value in the value space of an atomic or list type.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// The string family (and anySimpleType): the whitespace-normalised string.
    Str(Box<str>),
    Bool(bool),
    Decimal(Decimal),
    Float(f32),
    Double(f64),
    DateTime(DateTime),
    Duration(Duration),
    Hex(Vec<u8>),
    Base64(Base64),
    Uri(Box<str>),
    QName {
        ns: Box<str>,
        local: Box<str>,
    },
    List(Vec<Value>),
}

impl Value {
    /// Equality in the value space; values of different primitive types are never equal.
    pub(crate) fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) | (Value::Uri(a), Value::Uri(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Decimal(a), Value::Decimal(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Value::Double(a), Value::Double(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Value::DateTime(a), Value::DateTime(b)) => a.equals(b),
            (Value::Duration(a), Value::Duration(b)) => a.equals(b),
            (Value::Hex(a), Value::Hex(b)) => a == b,
            (Value::Base64(a), Value::Base64(b)) => a == b,
            (Value::QName { ns: n1, local: l1 }, Value::QName { ns: n2, local: l2 }) => {
                n1 == n2 && l1 == l2
            }
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equals(y))
            }
            _ => false,
        }
    }

    /// The order of ordered types; None when incomparable (or not ordered).
    pub(crate) fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Decimal(a), Value::Decimal(b)) => Some(a.cmp(b)),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
            (Value::Double(a), Value::Double(b)) => a.partial_cmp(b),
            (Value::DateTime(a), Value::DateTime(b)) if a.kind == b.kind => a.partial_cmp(b),
            (Value::Duration(a), Value::Duration(b)) => a.partial_cmp(b),
            _ => None,
        }
    }

    /// The measure the length facets constrain: characters, octets or list items.
    pub(crate) fn length(&self) -> Option<usize> {
        match self {
            Value::Str(s) | Value::Uri(s) => Some(s.chars().count()),
            Value::QName { .. } => None,
            Value::Hex(b) => Some(b.len()),
            Value::Base64(b) => Some(b.octets),
            Value::List(items) => Some(items.len()),
            _ => None,
        }
    }

    pub(crate) fn as_decimal(&self) -> Option<&Decimal> {
        match self {
            Value::Decimal(d) => Some(d),
            _ => None,
        }
    }
}

/// Why a string is not a value of a type; the message completes "'<value>' is not ...".
pub(crate) type LexResult = Result<Value, &'static str>;

/// Parses `s` (already whitespace-normalised or trimmed as the caller decided) as a value of the
/// atomic built-in `b`. `scope` resolves prefixes of QName values.
pub(crate) fn parse_atomic(b: Builtin, s: &str, scope: &dyn NamespaceScope) -> LexResult {
    use Builtin::*;
    match b {
        AnySimpleType | String | NormalizedString | Token => Ok(Value::Str(s.into())),
        Language => {
            if is_language(s) {
                Ok(Value::Str(s.into()))
            } else {
                Err("not a language tag")
            }
        }
        Name => name_like(s, xmlchar::is_name(s)),
        NcName | Id | IdRef => name_like(s, xmlchar::is_ncname(s)),
        // Unparsed entities come from a DTD, and documents with a DTD are refused.
        Entity => Err("not a declared unparsed entity"),
        NmToken => name_like(s, xmlchar::is_nmtoken(s)),
        IdRefs | Entities | NmTokens => Err("a list, not an atomic value"),
        Boolean => match s {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => Err("not a boolean"),
        },
        Decimal => decimal::parse_decimal(s)
            .map(Value::Decimal)
            .ok_or("not a decimal number"),
        Integer | NonPositiveInteger | NegativeInteger | Long | Int | Short | Byte
        | NonNegativeInteger | UnsignedLong | UnsignedInt | UnsignedShort | UnsignedByte
        | PositiveInteger => parse_integer_type(b, s),
        Float => parse_float(s).map(|v| Value::Float(v as f32)),
        Double => parse_float(s).map(Value::Double),
        Duration => duration::parse(s)
            .map(Value::Duration)
            .ok_or("not a duration"),
        DateTime => date(DtKind::DateTime, s),
        Time => date(DtKind::Time, s),
        Date => date(DtKind::Date, s),
        GYearMonth => date(DtKind::GYearMonth, s),
        GYear => date(DtKind::GYear, s),
        GMonthDay => date(DtKind::GMonthDay, s),
        GDay => date(DtKind::GDay, s),
        GMonth => date(DtKind::GMonth, s),
        HexBinary => binary::parse_hex(s).map(Value::Hex).ok_or("not hexBinary"),
        Base64Binary => binary::parse_base64(s)
            .map(Value::Base64)
            .ok_or("not base64Binary"),
        AnyUri => {
            if uri::is_any_uri(s) {
                Ok(Value::Uri(s.into()))
            } else {
                Err("not a URI reference")
            }
        }
        QName => parse_qname(s, scope),
        Notation => Err("a NOTATION, which is not supported"),
    }
}

fn name_like(s: &str, ok: bool) -> LexResult {
    if ok {
        Ok(Value::Str(s.into()))
    } else {
        Err("not a valid XML name of this kind")
    }
}

fn date(kind: DtKind, s: &str) -> LexResult {
    datetime::parse(kind, s)
        .map(Value::DateTime)
        .ok_or("not a valid date/time value of this type")
}

/// `[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*`, the XSD 1.0 pattern libxml2 checks.
fn is_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (1..=8).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_alphanumeric()))
}

fn parse_integer_type(b: Builtin, s: &str) -> LexResult {
    use Builtin::*;
    let unsigned = matches!(b, UnsignedLong | UnsignedInt | UnsignedShort | UnsignedByte);
    if unsigned && (s.starts_with('+') || s.starts_with('-')) {
        return Err("not an unsigned integer");
    }
    let d = decimal::parse_integer(s).ok_or("not an integer")?;
    let (lo, hi): (Option<i128>, Option<i128>) = match b {
        NonPositiveInteger => (None, Some(0)),
        NegativeInteger => (None, Some(-1)),
        NonNegativeInteger => (Some(0), None),
        PositiveInteger => (Some(1), None),
        Long => (Some(i128::from(i64::MIN)), Some(i128::from(i64::MAX))),
        Int => (Some(i128::from(i32::MIN)), Some(i128::from(i32::MAX))),
        Short => (Some(i128::from(i16::MIN)), Some(i128::from(i16::MAX))),
        Byte => (Some(i128::from(i8::MIN)), Some(i128::from(i8::MAX))),
        UnsignedLong => (Some(0), Some(i128::from(u64::MAX))),
        UnsignedInt => (Some(0), Some(i128::from(u32::MAX))),
        UnsignedShort => (Some(0), Some(i128::from(u16::MAX))),
        UnsignedByte => (Some(0), Some(i128::from(u8::MAX))),
        _ => (None, None),
    };
    let out_of_range = || Err("outside the range of the type");
    // 24 digits fit in i128, so a failed conversion cannot happen for parsed integers.
    let v = d.to_i128().ok_or("not an integer")?;
    if lo.is_some_and(|lo| v < lo) || hi.is_some_and(|hi| v > hi) {
        return out_of_range();
    }
    Ok(Value::Decimal(d))
}

/// libxml2's float syntax: `NaN`, `-?INF`, or `[+-]?digits?(.digits?)?([eE][+-]?digits?)?` with
/// at least one mantissa digit (an exponent may be empty, as in `1e`).
fn parse_float(s: &str) -> Result<f64, &'static str> {
    const ERR: &str = "not a floating-point number";
    match s {
        "NaN" => return Ok(f64::NAN),
        "INF" => return Ok(f64::INFINITY),
        "-INF" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int = s.get(int_start..i).ok_or(ERR)?;
    let mut frac = "";
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        frac = s.get(start..i).ok_or(ERR)?;
    }
    if int.is_empty() && frac.is_empty() {
        return Err(ERR);
    }
    let mut exp = String::new();
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if let Some(&c @ (b'+' | b'-')) = b.get(i) {
            exp.push(char::from(c));
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        exp.push_str(s.get(start..i).ok_or(ERR)?);
    }
    if i != b.len() {
        return Err(ERR);
    }
    let exp = if exp.bytes().any(|c| c.is_ascii_digit()) {
        exp
    } else {
        "0".into()
    };
    let text = format!(
        "{}{}.{}e{}",
        if neg { "-" } else { "" },
        if int.is_empty() { "0" } else { int },
        if frac.is_empty() { "0" } else { frac },
        exp
    );
    text.parse::<f64>().map_err(|_| ERR)
}

fn parse_qname(s: &str, scope: &dyn NamespaceScope) -> LexResult {
    let (prefix, local) = xmlchar::split_qname(s).ok_or("not a QName")?;
    let ns = match prefix {
        Some("xml") => crate::names::XML.to_owned(),
        Some(p) => scope
            .resolve(Some(p))
            .ok_or("a QName whose prefix is not bound")?
            .to_owned(),
        None => scope.resolve(None).unwrap_or("").to_owned(),
    };
    Ok(Value::QName {
        ns: ns.into(),
        local: local.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoScope;
    impl NamespaceScope for NoScope {
        fn resolve(&self, _prefix: Option<&str>) -> Option<&str> {
            None
        }
        fn for_each_binding(&self, _f: &mut dyn FnMut(Option<&str>, &str)) {}
    }

    fn ok(b: Builtin, s: &str) -> bool {
        parse_atomic(b, s, &NoScope).is_ok()
    }

    #[test]
    fn floats_follow_libxml2_syntax() {
        for good in [
            "1.5", "INF", "-INF", "NaN", "1e", "1e+", "1E-", "1.e5", ".5e-3", "+.5", "+1", "00001",
            "-0", "-.0e-0", "1e400",
        ] {
            assert!(ok(Builtin::Double, good), "{good}");
        }
        for bad in [
            "+INF", "nan", "-NaN", "1.5e3.5", ".", "e5", "-e5", "0x10", "1,5", ".e1", "",
        ] {
            assert!(!ok(Builtin::Double, bad), "{bad}");
        }
    }

    #[test]
    fn integer_types_check_sign_and_range() {
        assert!(ok(Builtin::Byte, "-128"));
        assert!(!ok(Builtin::Byte, "128"));
        assert!(ok(Builtin::UnsignedLong, "18446744073709551615"));
        assert!(!ok(Builtin::UnsignedLong, "18446744073709551616"));
        assert!(!ok(Builtin::UnsignedInt, "+5"));
        assert!(!ok(Builtin::UnsignedInt, "-0"));
        assert!(ok(Builtin::NonNegativeInteger, "-0"));
        assert!(!ok(Builtin::NegativeInteger, "-0"));
        assert!(!ok(Builtin::PositiveInteger, "0"));
        assert!(!ok(Builtin::Integer, "1.0"));
    }

    #[test]
    fn languages_follow_the_xsd_pattern() {
        for good in ["a", "de-DE-1996", "x-klingon", "abcdefgh", "de-419"] {
            assert!(ok(Builtin::Language, good), "{good}");
        }
        for bad in ["123", "a-", "-a", "abcdefghi", "en-US-abcdefghi", ""] {
            assert!(!ok(Builtin::Language, bad), "{bad}");
        }
    }

    #[test]
    fn qnames_need_bound_prefixes_except_xml() {
        assert!(ok(Builtin::QName, "b"));
        assert!(ok(Builtin::QName, "xml:a"));
        assert!(!ok(Builtin::QName, "a:b"));
        assert!(!ok(Builtin::QName, "xmlns:a"));
        assert!(!ok(Builtin::QName, "1b"));
    }
}
