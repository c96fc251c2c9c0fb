//! The four canonicalization methods and their URIs.

use crate::algorithms::uri;

/// A canonicalization method of the accepted profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// Canonical XML 1.0 (`REC-xml-c14n-20010315`).
    Inclusive {
        /// Keep comments (`#WithComments`).
        with_comments: bool,
    },
    /// Exclusive XML Canonicalization 1.0 (`xml-exc-c14n#`).
    Exclusive {
        /// Keep comments (`#WithComments`).
        with_comments: bool,
        /// The InclusiveNamespaces PrefixList; `#default` names the default namespace.
        inclusive_prefixes: Vec<String>,
    },
}

/// Why a canonicalization method is not accepted.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum C14nError {
    /// Not one of the four C14N 1.0 methods.
    #[error("unsupported canonicalization method {0}")]
    Unsupported(String),
    /// A PrefixList was given for inclusive canonicalization.
    #[error("InclusiveNamespaces PrefixList is only allowed with exclusive canonicalization")]
    PrefixListNotAllowed,
    /// A PrefixList entry that is neither an NCName nor `#default`.
    #[error("invalid InclusiveNamespaces prefix {0:?}")]
    InvalidPrefix(String),
}

impl Default for Method {
    /// Exclusive C14N without comments: the signing default of the router.
    fn default() -> Self {
        Self::Exclusive {
            with_comments: false,
            inclusive_prefixes: Vec::new(),
        }
    }
}

impl Method {
    /// The method named by `uri`, with the InclusiveNamespaces `PrefixList`
    /// (white-space separated) if the document carried one.
    pub fn from_uri(uri: &str, prefix_list: Option<&str>) -> Result<Self, C14nError> {
        let method = match uri {
            uri::C14N => Self::Inclusive {
                with_comments: false,
            },
            uri::C14N_WITH_COMMENTS => Self::Inclusive {
                with_comments: true,
            },
            uri::EXC_C14N => Self::Exclusive {
                with_comments: false,
                inclusive_prefixes: Vec::new(),
            },
            uri::EXC_C14N_WITH_COMMENTS => Self::Exclusive {
                with_comments: true,
                inclusive_prefixes: Vec::new(),
            },
            other => return Err(C14nError::Unsupported(other.to_owned())),
        };
        match (method, prefix_list) {
            (m, None) => Ok(m),
            (Self::Inclusive { .. }, Some(_)) => Err(C14nError::PrefixListNotAllowed),
            (Self::Exclusive { with_comments, .. }, Some(list)) => {
                let mut inclusive_prefixes = Vec::new();
                for p in list.split_ascii_whitespace() {
                    let valid = p == "#default"
                        || (!p.is_empty()
                            && !p.contains(':')
                            && p.chars().all(|c| !c.is_whitespace()));
                    if !valid {
                        return Err(C14nError::InvalidPrefix(p.to_owned()));
                    }
                    inclusive_prefixes.push(p.to_owned());
                }
                Ok(Self::Exclusive {
                    with_comments,
                    inclusive_prefixes,
                })
            }
        }
    }

    /// The algorithm URI.
    pub fn uri(&self) -> &'static str {
        match self {
            Self::Inclusive {
                with_comments: false,
            } => uri::C14N,
            Self::Inclusive {
                with_comments: true,
            } => uri::C14N_WITH_COMMENTS,
            Self::Exclusive {
                with_comments: false,
                ..
            } => uri::EXC_C14N,
            Self::Exclusive {
                with_comments: true,
                ..
            } => uri::EXC_C14N_WITH_COMMENTS,
        }
    }

    /// Does the method keep comments?
    pub fn with_comments(&self) -> bool {
        match self {
            Self::Inclusive { with_comments } | Self::Exclusive { with_comments, .. } => {
                *with_comments
            }
        }
    }

    /// Is this exclusive canonicalization?
    pub fn is_exclusive(&self) -> bool {
        matches!(self, Self::Exclusive { .. })
    }

    /// Is `prefix` (`""` = default) in the InclusiveNamespaces PrefixList?
    pub(crate) fn includes_prefix(&self, prefix: &str) -> bool {
        match self {
            Self::Inclusive { .. } => true,
            Self::Exclusive {
                inclusive_prefixes, ..
            } => inclusive_prefixes.iter().any(|p| {
                if prefix.is_empty() {
                    p == "#default"
                } else {
                    p == prefix
                }
            }),
        }
    }
}
