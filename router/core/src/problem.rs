//! RFC 9457 problem details with the router's stable `type` slugs.
//!
//! The slug is the contract: clients branch on `type`, never on `title` or `detail`. A new
//! rejection reason gets a new slug; an existing slug never changes meaning or status.

use serde::Serialize;
use serde_json::{Map, Value};

/// Every way the router can refuse a request, with its HTTP status.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemType {
    /// Not well-formed XML (or not UTF-8).
    MalformedXml,
    /// DOCTYPE, entity declarations or references, or a parser limit (depth, attributes, ...).
    ForbiddenXmlConstruct,
    /// Body larger than the configured limit.
    TooLarge,
    UnsupportedMediaType,
    /// The XÖV header is missing or one of its fields is invalid (the detail names the field).
    InvalidHeader,
    /// Unsigned, or the signature does not verify, or it is outside the signature profile.
    SignatureInvalid,
    /// The signing certificate is not registered (or not valid now).
    SignerUntrusted,
    /// The TLS client certificate and the signing certificate belong to different senders.
    SenderMismatch,
    /// The signer may not author messages as this `autor`.
    AuthorNotAllowed,
    /// Not valid against the schema of its message type.
    SchemaInvalid,
    /// No directory entry for this reader and message type.
    Unroutable,
    /// `erstellungszeitpunkt` lies before the deduplication window (a replay could not be
    /// recognised) or too far in the future.
    StaleMessage,
    /// The message id is known with different content.
    DuplicateConflict,
    /// A queue limit is reached; retry later.
    Overloaded,
    /// The store cannot take writes now (disk full, I/O failure); retry later.
    StorageUnavailable,
    /// The message already passed this router, or too many routers (federation loop guard).
    LoopDetected,
    /// The caller is not allowed to see or act on this resource.
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// A request to the admin or operator API that does not make sense (e.g. replaying a
    /// delivered message).
    Conflict,
    BadRequest,
    /// The router failed; not the client's fault.
    Internal,
}

impl ProblemType {
    pub const ALL: &'static [ProblemType] = &[
        ProblemType::MalformedXml,
        ProblemType::ForbiddenXmlConstruct,
        ProblemType::TooLarge,
        ProblemType::UnsupportedMediaType,
        ProblemType::InvalidHeader,
        ProblemType::SignatureInvalid,
        ProblemType::SignerUntrusted,
        ProblemType::SenderMismatch,
        ProblemType::AuthorNotAllowed,
        ProblemType::SchemaInvalid,
        ProblemType::Unroutable,
        ProblemType::StaleMessage,
        ProblemType::DuplicateConflict,
        ProblemType::Overloaded,
        ProblemType::StorageUnavailable,
        ProblemType::LoopDetected,
        ProblemType::Forbidden,
        ProblemType::NotFound,
        ProblemType::MethodNotAllowed,
        ProblemType::Conflict,
        ProblemType::BadRequest,
        ProblemType::Internal,
    ];

    /// The stable slug, used as the problem `type` and as a metric label.
    pub fn slug(self) -> &'static str {
        match self {
            ProblemType::MalformedXml => "malformed-xml",
            ProblemType::ForbiddenXmlConstruct => "forbidden-xml-construct",
            ProblemType::TooLarge => "too-large",
            ProblemType::UnsupportedMediaType => "unsupported-media-type",
            ProblemType::InvalidHeader => "invalid-header",
            ProblemType::SignatureInvalid => "signature-invalid",
            ProblemType::SignerUntrusted => "signer-untrusted",
            ProblemType::SenderMismatch => "sender-mismatch",
            ProblemType::AuthorNotAllowed => "author-not-allowed",
            ProblemType::SchemaInvalid => "schema-invalid",
            ProblemType::Unroutable => "unroutable",
            ProblemType::StaleMessage => "stale-message",
            ProblemType::DuplicateConflict => "duplicate-conflict",
            ProblemType::Overloaded => "overloaded",
            ProblemType::StorageUnavailable => "storage-unavailable",
            ProblemType::LoopDetected => "loop-detected",
            ProblemType::Forbidden => "forbidden",
            ProblemType::NotFound => "not-found",
            ProblemType::MethodNotAllowed => "method-not-allowed",
            ProblemType::Conflict => "conflict",
            ProblemType::BadRequest => "bad-request",
            ProblemType::Internal => "internal",
        }
    }

    pub fn from_slug(slug: &str) -> Option<ProblemType> {
        ProblemType::ALL.iter().copied().find(|p| p.slug() == slug)
    }

    pub fn status(self) -> u16 {
        match self {
            ProblemType::MalformedXml
            | ProblemType::ForbiddenXmlConstruct
            | ProblemType::InvalidHeader
            | ProblemType::SignatureInvalid
            | ProblemType::BadRequest => 400,
            ProblemType::SignerUntrusted
            | ProblemType::SenderMismatch
            | ProblemType::AuthorNotAllowed
            | ProblemType::Forbidden => 403,
            ProblemType::NotFound => 404,
            ProblemType::MethodNotAllowed => 405,
            ProblemType::DuplicateConflict | ProblemType::Conflict => 409,
            ProblemType::TooLarge => 413,
            ProblemType::UnsupportedMediaType => 415,
            ProblemType::SchemaInvalid | ProblemType::Unroutable | ProblemType::StaleMessage => 422,
            ProblemType::LoopDetected => 508,
            ProblemType::Internal => 500,
            ProblemType::Overloaded | ProblemType::StorageUnavailable => 503,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ProblemType::MalformedXml => "The body is not well-formed XML",
            ProblemType::ForbiddenXmlConstruct => "The XML uses a construct the router refuses",
            ProblemType::TooLarge => "The body is larger than the router accepts",
            ProblemType::UnsupportedMediaType => "The body must be application/xml",
            ProblemType::InvalidHeader => "The XÖV message header is missing or invalid",
            ProblemType::SignatureInvalid => "The XML signature is missing or invalid",
            ProblemType::SignerUntrusted => "The signing certificate is not trusted",
            ProblemType::SenderMismatch => "The TLS client and the signer are different senders",
            ProblemType::AuthorNotAllowed => "The signer may not author messages as this autor",
            ProblemType::SchemaInvalid => "The message is not valid against its schema",
            ProblemType::Unroutable => "No destination is known for this reader and message type",
            ProblemType::StaleMessage => "The message is too old or dated in the future",
            ProblemType::DuplicateConflict => {
                "A message with this nachrichtenUUID and different content exists"
            }
            ProblemType::Overloaded => "The router is overloaded; retry later",
            ProblemType::StorageUnavailable => "The router cannot store messages now; retry later",
            ProblemType::LoopDetected => "The message already passed this router",
            ProblemType::Forbidden => "Not allowed",
            ProblemType::NotFound => "Not found",
            ProblemType::MethodNotAllowed => "Method not allowed",
            ProblemType::Conflict => "The request conflicts with the resource's state",
            ProblemType::BadRequest => "Bad request",
            ProblemType::Internal => "The router failed to process the request",
        }
    }

    /// Whether the same request may succeed later without change (so clients retry).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ProblemType::Overloaded | ProblemType::StorageUnavailable | ProblemType::Internal
        )
    }
}

/// One RFC 9457 problem document (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    #[serde(rename = "type", serialize_with = "ser_slug")]
    pub kind: ProblemType,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Extension members (e.g. `field`, `line`, `column`), flattened into the document.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
    /// Seconds for a `Retry-After` header (not part of the JSON body).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

fn ser_slug<S: serde::Serializer>(kind: &ProblemType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.slug())
}

impl Problem {
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            title: kind.title(),
            status: kind.status(),
            detail: detail.into(),
            instance: None,
            extensions: Map::new(),
            retry_after: None,
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Serializing a map of strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.kind.slug(), self.status, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for p in ProblemType::ALL {
            assert!(seen.insert(p.slug()), "duplicate slug {}", p.slug());
            assert_eq!(ProblemType::from_slug(p.slug()), Some(*p));
        }
    }

    #[test]
    fn problem_json_has_type_slug_status_and_extensions() {
        let p = Problem::new(ProblemType::InvalidHeader, "nachrichtenUUID is not a UUID")
            .with("field", "nachrichtenUUID");
        let v: Value = serde_json::from_slice(&p.to_json()).unwrap();
        assert_eq!(v["type"], "invalid-header");
        assert_eq!(v["status"], 400);
        assert_eq!(v["field"], "nachrichtenUUID");
        assert_eq!(v["detail"], "nachrichtenUUID is not a UUID");
    }
}
