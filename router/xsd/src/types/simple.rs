//! Compiled simple types and the validation of a string against one: whitespace handling,
//! lexical parsing, list and union varieties, and facets.

use std::borrow::Cow;

use super::builtin::{Builtin, RawWhitespace, WhiteSpace};
use super::datetime;
use super::value::{Value, parse_atomic};
use crate::NamespaceScope;
use crate::model::{Derivations, SimpleTypeId};
use crate::names::QName;
use crate::regex::Pattern;

/// The variety of a simple type.
#[derive(Debug, Clone)]
pub(crate) enum Variety {
    Atomic,
    List(SimpleTypeId),
    Union(Vec<SimpleTypeId>),
}

/// A facet value together with the lexical form it was written as (for messages).
#[derive(Debug, Clone)]
pub(crate) struct FacetValue {
    pub(crate) value: Value,
    pub(crate) lexical: Box<str>,
}

/// The effective facets of a simple type (its own and those inherited from its bases).
#[derive(Debug, Clone, Default)]
pub(crate) struct Facets {
    pub(crate) length: Option<usize>,
    pub(crate) min_length: Option<usize>,
    pub(crate) max_length: Option<usize>,
    /// One entry per derivation step that has patterns: the value must match at least one
    /// pattern of every step.
    pub(crate) patterns: Vec<Vec<Pattern>>,
    pub(crate) enumeration: Option<Vec<FacetValue>>,
    pub(crate) min_inclusive: Option<FacetValue>,
    pub(crate) min_exclusive: Option<FacetValue>,
    pub(crate) max_inclusive: Option<FacetValue>,
    pub(crate) max_exclusive: Option<FacetValue>,
    pub(crate) total_digits: Option<usize>,
    pub(crate) fraction_digits: Option<usize>,
}

/// A compiled simple type definition.
#[derive(Debug, Clone)]
pub(crate) struct SimpleType {
    pub(crate) name: Option<QName>,
    /// The base type; None only for anySimpleType (whose base is anyType).
    pub(crate) base: Option<SimpleTypeId>,
    pub(crate) variety: Variety,
    /// The nearest built-in ancestor: decides lexical parsing of atomic types.
    pub(crate) builtin: Builtin,
    pub(crate) whitespace: WhiteSpace,
    pub(crate) facets: Facets,
    pub(crate) final_: Derivations,
    /// libxml2 normalises whitespace before parsing only for user-derived types that carry a
    /// pattern or enumeration facet (in their own or an inherited derivation step).
    pub(crate) prenormalize: bool,
}

/// Why a value does not fit a simple type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SimpleError {
    pub(crate) message: String,
    pub(crate) expected: Option<String>,
}

impl SimpleError {
    fn new(message: String, expected: Option<String>) -> Self {
        SimpleError { message, expected }
    }
}

pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `whiteSpace="replace"`.
pub(crate) fn replace_ws(s: &str) -> Cow<'_, str> {
    if s.contains(['\t', '\n', '\r']) {
        Cow::Owned(s.replace(['\t', '\n', '\r'], " "))
    } else {
        Cow::Borrowed(s)
    }
}

/// `whiteSpace="collapse"`.
///
/// Works on bytes: XML whitespace is ASCII, so cutting at it keeps UTF-8 intact, and a
/// 1 MiB base64 attachment wrapped in lines is collapsed in one pass, its lines copied whole.
pub(crate) fn collapse_ws(s: &str) -> Cow<'_, str> {
    let trimmed = s.trim_matches(is_xml_space);
    if is_collapsed(trimmed.as_bytes()) {
        return Cow::Borrowed(trimmed);
    }
    let mut out = String::with_capacity(trimmed.len());
    let mut rest = trimmed;
    while let Some(i) = rest.bytes().position(is_xml_space_byte) {
        out.push_str(rest.get(..i).unwrap_or_default());
        let word = rest
            .bytes()
            .skip(i)
            .position(|b| !is_xml_space_byte(b))
            .map_or(rest.len(), |j| i + j);
        rest = rest.get(word..).unwrap_or_default();
        out.push(' '); // `trimmed` ends in a non-space, so another word follows
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// No TAB, LF or CR, and no two spaces in a row.
fn is_collapsed(bytes: &[u8]) -> bool {
    let mut after_space = false;
    for &b in bytes {
        match b {
            b'\t' | b'\n' | b'\r' => return false,
            b' ' if after_space => return false,
            b' ' => after_space = true,
            _ => after_space = false,
        }
    }
    true
}

fn is_xml_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Access to the simple types of a schema, for validation.
pub(crate) trait SimpleTypes {
    fn simple(&self, id: SimpleTypeId) -> &SimpleType;
    fn simple_name(&self, id: SimpleTypeId) -> String;
}

/// Validates `raw` against simple type `id`; returns its value.
pub(crate) fn validate(
    types: &dyn SimpleTypes,
    id: SimpleTypeId,
    raw: &str,
    scope: &dyn NamespaceScope,
) -> Result<Value, SimpleError> {
    validate_as(types, id, raw, scope, false)
}

/// Like [`validate`]; with `normalize`, whitespace is normalised before parsing even where
/// libxml2 would not (it does so for attributes that carry a fixed value).
pub(crate) fn validate_as(
    types: &dyn SimpleTypes,
    id: SimpleTypeId,
    raw: &str,
    scope: &dyn NamespaceScope,
    normalize: bool,
) -> Result<Value, SimpleError> {
    let st = types.simple(id);
    let (value, lexical) = match &st.variety {
        Variety::Atomic => {
            let text = atomic_text(st, raw, normalize).ok_or_else(|| invalid(types, id, raw))?;
            let v = parse_atomic(st.builtin, &text, scope).map_err(|_| invalid(types, id, raw))?;
            (v, text)
        }
        Variety::List(item) => {
            let text = collapse_ws(raw);
            let mut items = Vec::new();
            for token in text.split(' ').filter(|t| !t.is_empty()) {
                items.push(
                    validate_as(types, *item, token, scope, normalize).map_err(|e| {
                        SimpleError::new(format!("list item {}", e.message), e.expected)
                    })?,
                );
            }
            (Value::List(items), text)
        }
        Variety::Union(members) => {
            // libxml2 collapses whitespace before trying the member types.
            let text = collapse_ws(raw);
            let mut found = None;
            for m in members {
                if let Ok(v) = validate_as(types, *m, &text, scope, true) {
                    found = Some(v);
                    break;
                }
            }
            let v = found.ok_or_else(|| invalid(types, id, raw))?;
            (v, text)
        }
    };
    check_facets(types, id, &st.facets, &value, &lexical)?;
    Ok(value)
}

/// The text an atomic type parses: normalised as the type's whiteSpace facet says, except that
/// built-in non-string types without pattern/enumeration follow libxml2's tolerance rules.
fn atomic_text<'a>(st: &SimpleType, raw: &'a str, normalize: bool) -> Option<Cow<'a, str>> {
    match st.whitespace {
        WhiteSpace::Preserve => return Some(Cow::Borrowed(raw)),
        WhiteSpace::Replace => return Some(replace_ws(raw)),
        WhiteSpace::Collapse => {}
    }
    if normalize || st.prenormalize || st.builtin.primitive() == Builtin::String {
        return Some(collapse_ws(raw));
    }
    let starts = raw.starts_with(is_xml_space);
    let ends = raw.ends_with(is_xml_space);
    match st.builtin.raw_whitespace() {
        // base64 ignores whitespace while it checks (binary.rs), so collapsing a 1 MiB
        // attachment here would be wasted: types with a pattern or enumeration, which see
        // the lexical form, were collapsed above (`prenormalize`).
        RawWhitespace::Both if st.builtin.primitive() == Builtin::Base64Binary => {
            Some(Cow::Borrowed(raw))
        }
        RawWhitespace::Both => Some(collapse_ws(raw)),
        RawWhitespace::None => (!starts && !ends).then_some(Cow::Borrowed(raw)),
        RawWhitespace::Leading => {
            (!ends).then(|| Cow::Borrowed(raw.trim_start_matches(is_xml_space)))
        }
        RawWhitespace::Float => {
            let value = raw.trim_matches(is_xml_space);
            let special = matches!(value, "NaN" | "INF" | "-INF");
            (!(special && ends)).then_some(Cow::Borrowed(value))
        }
        RawWhitespace::DateTime => {
            let trimmed = raw.trim_end_matches(is_xml_space);
            let ok = !starts && (!ends || datetime::ends_with_timezone(trimmed));
            ok.then_some(Cow::Borrowed(trimmed))
        }
    }
}

fn invalid(types: &dyn SimpleTypes, id: SimpleTypeId, raw: &str) -> SimpleError {
    SimpleError::new(
        format!(
            "value '{}' is not a valid value of type {}",
            shorten(raw),
            types.simple_name(id)
        ),
        None,
    )
}

/// Cuts long values for messages (messages are one line and bounded).
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= MAX {
        one_line
    } else {
        let cut: String = one_line.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

fn check_facets(
    types: &dyn SimpleTypes,
    id: SimpleTypeId,
    f: &Facets,
    value: &Value,
    lexical: &str,
) -> Result<(), SimpleError> {
    let fail = |facet: &str, expected: String| {
        Err(SimpleError::new(
            format!(
                "value '{}' of type {} violates facet {facet}",
                shorten(lexical),
                types.simple_name(id)
            ),
            Some(expected),
        ))
    };
    if let Some(len) = value.length() {
        if let Some(n) = f.length
            && len != n
        {
            return fail("length", format!("length {n}"));
        }
        if let Some(n) = f.min_length
            && len < n
        {
            return fail("minLength", format!("length at least {n}"));
        }
        if let Some(n) = f.max_length
            && len > n
        {
            return fail("maxLength", format!("length at most {n}"));
        }
    }
    for step in &f.patterns {
        if !step.iter().any(|p| p.is_match(lexical)) {
            let list: Vec<String> = step.iter().map(|p| shorten(&p.source)).collect();
            return fail("pattern", format!("a value matching {}", list.join(" or ")));
        }
    }
    if let Some(values) = &f.enumeration
        && !values.iter().any(|e| e.value.equals(value))
    {
        return fail("enumeration", enumeration_list(values));
    }
    use std::cmp::Ordering::*;
    if let Some(b) = &f.min_inclusive
        && !matches!(value.partial_cmp(&b.value), Some(Greater | Equal))
    {
        return fail("minInclusive", format!("a value >= {}", b.lexical));
    }
    if let Some(b) = &f.min_exclusive
        && value.partial_cmp(&b.value) != Some(Greater)
    {
        return fail("minExclusive", format!("a value > {}", b.lexical));
    }
    if let Some(b) = &f.max_inclusive
        && !matches!(value.partial_cmp(&b.value), Some(Less | Equal))
    {
        return fail("maxInclusive", format!("a value <= {}", b.lexical));
    }
    if let Some(b) = &f.max_exclusive
        && value.partial_cmp(&b.value) != Some(Less)
    {
        return fail("maxExclusive", format!("a value < {}", b.lexical));
    }
    if let Some(d) = value.as_decimal() {
        if let Some(n) = f.total_digits
            && d.total_digits() > n
        {
            return fail("totalDigits", format!("at most {n} digits"));
        }
        if let Some(n) = f.fraction_digits
            && d.fraction_digits() > n
        {
            return fail("fractionDigits", format!("at most {n} fraction digits"));
        }
    }
    Ok(())
}

fn enumeration_list(values: &[FacetValue]) -> String {
    const SHOWN: usize = 12;
    let mut list: Vec<&str> = values.iter().take(SHOWN).map(|v| &*v.lexical).collect();
    if values.len() > SHOWN {
        list.push("...");
    }
    format!("one of: {}", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_and_replace_follow_the_whitespace_facet() {
        assert_eq!(collapse_ws("  a \t\n b  "), "a b");
        assert_eq!(collapse_ws("ab"), "ab");
        assert_eq!(replace_ws("a\tb\n"), "a b ");
        assert_eq!(collapse_ws("a  b"), "a b");
        assert_eq!(collapse_ws("\r\n"), "");
        assert_eq!(collapse_ws("Kö\n\n  ßé €"), "Kö ßé €");
        let borrowed = collapse_ws(" one two ");
        assert!(matches!(borrowed, Cow::Borrowed("one two")));
    }

    proptest::proptest! {
        #[test]
        fn collapse_is_trim_then_words_joined_by_one_space(s in "[a \t\n\rä€]{0,40}") {
            let words: Vec<&str> = s.split(is_xml_space).filter(|w| !w.is_empty()).collect();
            let collapsed = collapse_ws(&s).into_owned();
            proptest::prop_assert_eq!(collapsed, words.join(" "));
        }
    }

    #[test]
    fn shortens_long_values_for_one_line_messages() {
        let long = "x".repeat(200);
        assert_eq!(shorten(&long).chars().count(), 83);
        assert_eq!(shorten("a\nb"), "a b");
    }
}
