//! `kennung` values (`prefix:key`, e.g. `ags:08111000`) and the directory's patterns over them.

use std::fmt;
use std::str::FromStr;

/// An authority identifier as used in XÖV headers and the DVDV: `prefix:key`.
///
/// The prefix names the key space (`ags` municipality key, `psw` civil status, ...) and is
/// lowercase ASCII letters and digits; the key is non-empty and has no whitespace or control
/// characters. The parsed form is the exact text: nothing is trimmed or case-folded here, so a
/// router never routes by a value other than the one that was signed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kennung {
    text: String,
    colon: usize,
}

#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KennungError {
    #[error("'{0}' is not of the form prefix:key (no ':')")]
    MissingColon(String),
    #[error("'{0}' has an empty or invalid prefix (want lowercase letters and digits before ':')")]
    BadPrefix(String),
    #[error("'{0}' has an empty key or a key with whitespace or control characters")]
    BadKey(String),
}

const MAX_PREFIX: usize = 16;
const MAX_KEY: usize = 128;

impl Kennung {
    pub fn parse(text: &str) -> Result<Self, KennungError> {
        let colon = text
            .find(':')
            .ok_or_else(|| KennungError::MissingColon(text.to_owned()))?;
        let (prefix, key) = (&text[..colon], &text[colon + 1..]);
        let prefix_ok = !prefix.is_empty()
            && prefix.len() <= MAX_PREFIX
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !prefix_ok {
            return Err(KennungError::BadPrefix(text.to_owned()));
        }
        let key_ok = !key.is_empty()
            && key.len() <= MAX_KEY
            && !key.chars().any(|c| c.is_whitespace() || c.is_control());
        if !key_ok {
            return Err(KennungError::BadKey(text.to_owned()));
        }
        Ok(Kennung {
            text: text.to_owned(),
            colon,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn prefix(&self) -> &str {
        &self.text[..self.colon]
    }

    pub fn key(&self) -> &str {
        &self.text[self.colon + 1..]
    }
}

impl fmt::Display for Kennung {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Kennung {
    type Err = KennungError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kennung::parse(s)
    }
}

/// A pattern over kennungen, used by the directory and the sender registry.
///
/// * `*` matches every kennung (a default entry);
/// * `ags:08*` matches every kennung starting with `ags:08` (prefix pattern);
/// * `ags:08111000` matches exactly that kennung.
///
/// Patterns order by specificity: exact beats any prefix, a longer prefix beats a shorter one,
/// and any prefix beats the default.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KennungPattern {
    Any,
    Prefix(String),
    Exact(String),
}

impl KennungPattern {
    pub fn parse(text: &str) -> Result<Self, KennungError> {
        if text == "*" {
            return Ok(KennungPattern::Any);
        }
        if let Some(prefix) = text.strip_suffix('*') {
            if prefix.contains('*') {
                return Err(KennungError::BadKey(text.to_owned()));
            }
            // `ags:*` and `ags:08*` are fine; the part before ':' must be a valid prefix.
            match prefix.find(':') {
                Some(_) => {
                    let probe = format!("{prefix}x");
                    Kennung::parse(&probe).map_err(|_| KennungError::BadPrefix(text.to_owned()))?;
                }
                None => {
                    let ok = !prefix.is_empty()
                        && prefix
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                    if !ok {
                        return Err(KennungError::BadPrefix(text.to_owned()));
                    }
                }
            }
            return Ok(KennungPattern::Prefix(prefix.to_owned()));
        }
        if text.contains('*') {
            return Err(KennungError::BadKey(text.to_owned()));
        }
        Kennung::parse(text).map(|k| KennungPattern::Exact(k.text))
    }

    pub fn matches(&self, kennung: &Kennung) -> bool {
        match self {
            KennungPattern::Any => true,
            KennungPattern::Prefix(p) => kennung.as_str().starts_with(p.as_str()),
            KennungPattern::Exact(e) => kennung.as_str() == e,
        }
    }

    /// Higher is more specific: `Any` < shorter prefix < longer prefix < exact.
    pub fn specificity(&self) -> usize {
        match self {
            KennungPattern::Any => 0,
            KennungPattern::Prefix(p) => 1 + p.len(),
            KennungPattern::Exact(_) => usize::MAX,
        }
    }
}

impl fmt::Display for KennungPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KennungPattern::Any => f.write_str("*"),
            KennungPattern::Prefix(p) => write!(f, "{p}*"),
            KennungPattern::Exact(e) => f.write_str(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefix_and_key() {
        let k = Kennung::parse("ags:08111000").unwrap();
        assert_eq!((k.prefix(), k.key()), ("ags", "08111000"));
    }

    #[test]
    fn rejects_kennung_without_colon() {
        assert_eq!(
            Kennung::parse("ags08111000"),
            Err(KennungError::MissingColon("ags08111000".into()))
        );
    }

    #[test]
    fn rejects_uppercase_or_empty_prefix() {
        assert!(matches!(
            Kennung::parse("AGS:1"),
            Err(KennungError::BadPrefix(_))
        ));
        assert!(matches!(
            Kennung::parse(":1"),
            Err(KennungError::BadPrefix(_))
        ));
    }

    #[test]
    fn rejects_key_with_whitespace() {
        assert!(matches!(
            Kennung::parse("ags:0811 1000"),
            Err(KennungError::BadKey(_))
        ));
        assert!(matches!(
            Kennung::parse("ags: 08111000"),
            Err(KennungError::BadKey(_))
        ));
        assert!(matches!(
            Kennung::parse("ags:"),
            Err(KennungError::BadKey(_))
        ));
    }

    #[test]
    fn prefix_pattern_matches_by_text_prefix() {
        let p = KennungPattern::parse("ags:08*").unwrap();
        assert!(p.matches(&Kennung::parse("ags:08111000").unwrap()));
        assert!(!p.matches(&Kennung::parse("ags:09162000").unwrap()));
        assert!(!p.matches(&Kennung::parse("psw:08111000").unwrap()));
    }

    #[test]
    fn specificity_orders_exact_over_long_prefix_over_short_prefix_over_any() {
        let s = |t: &str| KennungPattern::parse(t).unwrap().specificity();
        assert!(s("ags:08111000") > s("ags:0811*"));
        assert!(s("ags:0811*") > s("ags:08*"));
        assert!(s("ags:08*") > s("ags:*"));
        assert!(s("ags:*") > s("*"));
    }

    #[test]
    fn rejects_patterns_with_inner_wildcards() {
        assert!(KennungPattern::parse("ags:0*1").is_err());
        assert!(KennungPattern::parse("a*s:*").is_err());
    }
}
