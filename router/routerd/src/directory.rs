//! The DVDV-like directory: `(leser kennung, nachrichtentyp)` → destination.
//!
//! Most specific entry wins: an exact kennung beats any prefix pattern, a longer prefix beats a
//! shorter one, any prefix beats the default `*`. Within the same leser pattern, an entry for
//! the exact nachrichtentyp beats one for every type. Two entries with the same leser pattern
//! and the same nachrichtentyp are ambiguous: a start-up (or reload) error, never a coin toss.

use std::collections::{HashMap, HashSet};

use xoev_core::{Kennung, KennungPattern};

use crate::config::{DestinationConfig, RouteConfig};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("route #{index} (leser '{leser}'): {message}")]
    BadPattern {
        index: usize,
        leser: String,
        message: String,
    },
    #[error("route #{index} (leser '{leser}') names unknown destination '{destination}'")]
    UnknownDestination {
        index: usize,
        leser: String,
        destination: String,
    },
    #[error(
        "routes #{first} and #{second} are ambiguous: both map leser '{leser}' and nachrichtentyp '{typ}'"
    )]
    Ambiguous {
        first: usize,
        second: usize,
        leser: String,
        typ: String,
    },
}

/// Entries for one leser pattern: per nachrichtentyp, plus the entry for every type.
#[derive(Debug, Default, Clone)]
struct Slot {
    by_type: HashMap<String, (usize, String)>,
    any_type: Option<(usize, String)>,
}

impl Slot {
    fn insert(
        &mut self,
        index: usize,
        typ: Option<&str>,
        dest: &str,
        leser: &str,
    ) -> Result<(), DirectoryError> {
        let existing = match typ {
            Some(t) => self.by_type.insert(t.to_owned(), (index, dest.to_owned())),
            None => self.any_type.replace((index, dest.to_owned())),
        };
        match existing {
            Some((first, _)) => Err(DirectoryError::Ambiguous {
                first,
                second: index,
                leser: leser.to_owned(),
                typ: typ.unwrap_or("*").to_owned(),
            }),
            None => Ok(()),
        }
    }

    fn get(&self, typ: &str) -> Option<&str> {
        self.by_type
            .get(typ)
            .or(self.any_type.as_ref())
            .map(|(_, d)| d.as_str())
    }
}

#[derive(Debug, Default, Clone)]
pub struct Directory {
    exact: HashMap<String, Slot>,
    prefixes: HashMap<String, Slot>,
    /// Prefix lengths in use, longest first, so a lookup probes only those.
    prefix_lengths: Vec<usize>,
    default: Slot,
    len: usize,
}

impl Directory {
    pub fn build(
        routes: &[RouteConfig],
        destinations: &[DestinationConfig],
    ) -> Result<Directory, DirectoryError> {
        let known: HashSet<&str> = destinations.iter().map(|d| d.id.as_str()).collect();
        let mut dir = Directory::default();
        for (i, r) in routes.iter().enumerate() {
            let index = i + 1;
            let pattern =
                KennungPattern::parse(&r.leser).map_err(|e| DirectoryError::BadPattern {
                    index,
                    leser: r.leser.clone(),
                    message: e.to_string(),
                })?;
            if !known.contains(r.destination.as_str()) {
                return Err(DirectoryError::UnknownDestination {
                    index,
                    leser: r.leser.clone(),
                    destination: r.destination.clone(),
                });
            }
            let typ = r.nachrichtentyp.as_deref().filter(|t| *t != "*");
            let slot = match &pattern {
                KennungPattern::Any => &mut dir.default,
                KennungPattern::Prefix(p) => {
                    if !dir.prefix_lengths.contains(&p.len()) {
                        dir.prefix_lengths.push(p.len());
                    }
                    dir.prefixes.entry(p.clone()).or_default()
                }
                KennungPattern::Exact(e) => dir.exact.entry(e.clone()).or_default(),
            };
            slot.insert(index, typ, &r.destination, &r.leser)?;
            dir.len += 1;
        }
        dir.prefix_lengths.sort_unstable_by(|a, b| b.cmp(a));
        Ok(dir)
    }

    /// The destination for a message, or `None` when nothing matches (unroutable).
    pub fn resolve(&self, leser: &Kennung, nachrichtentyp: &str) -> Option<&str> {
        let text = leser.as_str();
        if let Some(d) = self.exact.get(text).and_then(|s| s.get(nachrichtentyp)) {
            return Some(d);
        }
        for &len in &self.prefix_lengths {
            if let Some(prefix) = text.get(..len)
                && let Some(d) = self
                    .prefixes
                    .get(prefix)
                    .and_then(|s| s.get(nachrichtentyp))
            {
                return Some(d);
            }
        }
        self.default.get(nachrichtentyp)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AdapterKind;

    fn dest(id: &str) -> DestinationConfig {
        DestinationConfig {
            id: id.into(),
            adapter: AdapterKind::File,
            url: None,
            ca: vec![],
            client_cert: None,
            client_key: None,
            dir: Some("x".into()),
            kennung: None,
            owner_certificates: vec![],
            owner_token_sha256: None,
            visibility_timeout: None,
            timeout: None,
            concurrency: None,
            retry: None,
        }
    }

    fn route(leser: &str, typ: Option<&str>, d: &str) -> RouteConfig {
        RouteConfig {
            leser: leser.into(),
            nachrichtentyp: typ.map(Into::into),
            destination: d.into(),
        }
    }

    fn dir(routes: &[RouteConfig]) -> Result<Directory, DirectoryError> {
        let dests: Vec<_> = ["a", "b", "c", "d", "e"].iter().map(|d| dest(d)).collect();
        Directory::build(routes, &dests)
    }

    fn k(s: &str) -> Kennung {
        Kennung::parse(s).unwrap()
    }

    #[test]
    fn exact_key_beats_prefix_beats_default() {
        let d = dir(&[
            route("*", None, "a"),
            route("ags:08*", None, "b"),
            route("ags:08111000", None, "c"),
        ])
        .unwrap();
        assert_eq!(d.resolve(&k("ags:08111000"), "2010"), Some("c"));
        assert_eq!(d.resolve(&k("ags:08222000"), "2010"), Some("b"));
        assert_eq!(d.resolve(&k("ags:09162000"), "2010"), Some("a"));
    }

    #[test]
    fn longest_prefix_wins() {
        let d = dir(&[route("ags:08*", None, "a"), route("ags:0811*", None, "b")]).unwrap();
        assert_eq!(d.resolve(&k("ags:08111000"), "x"), Some("b"));
        assert_eq!(d.resolve(&k("ags:08211000"), "x"), Some("a"));
    }

    #[test]
    fn specific_type_beats_any_type_for_the_same_leser_pattern() {
        let d = dir(&[
            route("ags:08*", None, "a"),
            route("ags:08*", Some("2010"), "b"),
        ])
        .unwrap();
        assert_eq!(d.resolve(&k("ags:08111000"), "2010"), Some("b"));
        assert_eq!(d.resolve(&k("ags:08111000"), "2030"), Some("a"));
    }

    #[test]
    fn more_specific_leser_beats_specific_type() {
        let d = dir(&[
            route("ags:08*", Some("2010"), "a"),
            route("ags:08111000", None, "b"),
        ])
        .unwrap();
        assert_eq!(d.resolve(&k("ags:08111000"), "2010"), Some("b"));
    }

    #[test]
    fn falls_through_to_a_shorter_prefix_when_the_type_does_not_match() {
        let d = dir(&[
            route("ags:0811*", Some("2010"), "a"),
            route("ags:08*", None, "b"),
        ])
        .unwrap();
        assert_eq!(d.resolve(&k("ags:08111000"), "2030"), Some("b"));
    }

    #[test]
    fn unmatched_reader_is_unroutable() {
        let d = dir(&[route("ags:08*", None, "a")]).unwrap();
        assert_eq!(d.resolve(&k("ags:14612000"), "2010"), None);
        assert_eq!(d.resolve(&k("psw:08111000"), "2010"), None);
    }

    #[test]
    fn rejects_two_entries_for_the_same_pattern_and_type_as_ambiguous() {
        let e = dir(&[
            route("ags:08*", Some("2010"), "a"),
            route("ags:08*", Some("2010"), "b"),
        ])
        .unwrap_err();
        assert_eq!(
            e,
            DirectoryError::Ambiguous {
                first: 1,
                second: 2,
                leser: "ags:08*".into(),
                typ: "2010".into()
            }
        );
        let e = dir(&[route("*", None, "a"), route("*", Some("*"), "b")]).unwrap_err();
        assert!(matches!(e, DirectoryError::Ambiguous { .. }));
    }

    #[test]
    fn rejects_routes_to_unknown_destinations() {
        let e = dir(&[route("ags:08*", None, "zz")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "route #1 (leser 'ags:08*') names unknown destination 'zz'"
        );
    }

    #[test]
    fn rejects_bad_patterns() {
        let e = dir(&[route("ags:0*8", None, "a")]).unwrap_err();
        assert!(matches!(e, DirectoryError::BadPattern { index: 1, .. }));
    }
}
