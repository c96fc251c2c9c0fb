//! Namespace interning and qualified names of schema components.
//!
//! Every namespace URI that a schema mentions gets a small integer ([`NsId`]); instance names are
//! matched by comparing that integer and the local name. A namespace the schema never mentions
//! maps to [`NsId::FOREIGN`], which only wildcards can match.

use std::collections::HashMap;
use std::fmt;

/// The XML Schema namespace.
pub(crate) const XS: &str = "http://www.w3.org/2001/XMLSchema";
/// The XML Schema instance namespace (`xsi:type`, `xsi:nil`, ...).
pub(crate) const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The `xml:` prefix namespace.
pub(crate) const XML: &str = "http://www.w3.org/XML/1998/namespace";

/// An interned namespace name. `NONE` is "no namespace"; `FOREIGN` is any namespace the schema
/// does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct NsId(pub(crate) u32);

impl NsId {
    pub(crate) const NONE: NsId = NsId(0);
    pub(crate) const FOREIGN: NsId = NsId(1);
}

/// The namespace table of a compiled schema set.
#[derive(Debug, Default)]
pub(crate) struct NsTable {
    uris: Vec<Box<str>>,
    ids: HashMap<Box<str>, NsId>,
}

impl NsTable {
    pub(crate) fn new() -> Self {
        NsTable {
            // Index 0 and 1 are reserved for NONE and FOREIGN.
            uris: vec!["".into(), "#foreign".into()],
            ids: HashMap::new(),
        }
    }

    /// The id of `uri`, adding it when new. The empty string is "no namespace".
    pub(crate) fn intern(&mut self, uri: &str) -> NsId {
        if uri.is_empty() {
            return NsId::NONE;
        }
        if let Some(id) = self.ids.get(uri) {
            return *id;
        }
        let id = NsId(u32::try_from(self.uris.len()).unwrap_or(u32::MAX));
        self.uris.push(uri.into());
        self.ids.insert(uri.into(), id);
        id
    }

    /// The id of an instance namespace: `NONE` for none, `FOREIGN` when the schema never uses it.
    pub(crate) fn lookup(&self, uri: Option<&str>) -> NsId {
        match uri {
            None | Some("") => NsId::NONE,
            Some(u) => self.ids.get(u).copied().unwrap_or(NsId::FOREIGN),
        }
    }

    pub(crate) fn uri(&self, id: NsId) -> &str {
        self.uris.get(id.0 as usize).map(|s| &**s).unwrap_or("")
    }
}

/// A component name: namespace and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct QName {
    pub(crate) ns: NsId,
    pub(crate) local: Box<str>,
}

impl QName {
    pub(crate) fn new(ns: NsId, local: &str) -> Self {
        QName {
            ns,
            local: local.into(),
        }
    }
}

/// Renders a name as `{uri}local` (or `local` without namespace), for error messages.
pub(crate) struct Clark<'a>(pub(crate) &'a NsTable, pub(crate) &'a QName);

impl fmt::Display for Clark<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1.ns == NsId::NONE {
            write!(f, "{}", self.1.local)
        } else {
            write!(f, "{{{}}}{}", self.0.uri(self.1.ns), self.1.local)
        }
    }
}
