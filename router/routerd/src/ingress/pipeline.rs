//! The checks every message passes before it may be stored, in order:
//!
//! 1. safe parse (no DTD/entities, limits)      → malformed-xml, forbidden-xml-construct
//! 2. XML signature against the sender registry  → signature-invalid, signer-untrusted
//! 3. header from the signed element only        → invalid-header
//! 4. transport identity = signing identity      → sender-mismatch (mutual TLS only)
//! 5. signer may author as `autor`               → author-not-allowed
//! 6. schema of the message type                 → schema-invalid
//! 7. directory                                  → unroutable
//!
//! Each stage reads only what the previous one proved. The signature stage is not optional:
//! there is no configuration that skips it.

use std::time::Instant;

use rustls_pki_types::{CertificateDer, UnixTime};
use serde::{Deserialize, Serialize};
use xoev_core::{Header, Problem, ProblemType};
use xoev_dsig::{TrustAnchor, VerifyErrorKind, VerifyOptions};
use xoev_xml::{Element, Limits, Node, NodeId, XmlErrorCategory};
use xoev_xsd::{AttributeEvent, NamespaceScope, Selection, StartElement, Validator, Violation};

use super::header;
use crate::metrics::Metrics;
use crate::runtime::Runtime;
use crate::tls::{fingerprint, hex};

/// Who signed, as recorded with the message and shown in receipts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerSummary {
    pub subject: String,
    pub fingerprint_sha256: String,
    pub algorithm: String,
    /// `pinned` or `ca`.
    pub trust: String,
}

/// A message that passed every check.
#[derive(Debug)]
pub struct Checked {
    pub header: Header,
    pub sender: String,
    pub signer: SignerSummary,
    pub destination: String,
    /// Schema name, or `None` when the catalogue lists the type as accepted without schema.
    pub schema: Option<String>,
    relayed_by: Option<String>,
}

pub struct Transport<'a> {
    /// The verified TLS client certificate, when mutual TLS is on.
    pub client_cert: Option<&'a CertificateDer<'static>>,
}

impl Checked {
    /// Set when a peer router relayed the message (its TLS identity), `None` for a portal.
    pub fn relayed_by(&self) -> Option<&str> {
        self.relayed_by.as_deref()
    }
}

/// How old (or how far in the future) a message may be dated.
#[derive(Debug, Clone, Copy)]
pub struct AgeLimits {
    pub max_age: std::time::Duration,
    pub max_future: std::time::Duration,
}

pub fn check(
    rt: &Runtime,
    limits: &Limits,
    limits_age: AgeLimits,
    body: &bytes::Bytes,
    transport: &Transport<'_>,
    metrics: &Metrics,
) -> Result<Checked, Problem> {
    let started = Instant::now();
    let doc = xoev_xml::parse_shared(body.clone(), limits).map_err(xml_problem)?;

    let opts = VerifyOptions::new(UnixTime::now());
    let verified = xoev_dsig::verify(&doc, &rt.senders.trust, &opts).map_err(|e| {
        let kind = match e.kind() {
            VerifyErrorKind::SignerUntrusted => ProblemType::SignerUntrusted,
            _ => ProblemType::SignatureInvalid,
        };
        Problem::new(kind, e.to_string())
    })?;
    metrics
        .dsig_verify_duration
        .observe(started.elapsed().as_secs_f64());
    let signed = verified.signed_element();
    let signer = verified.signer();

    let header = header::extract(signed)?;
    check_age(&header, limits_age)?;

    let sender = rt.senders.for_signer(signer).ok_or_else(|| {
        Problem::new(
            ProblemType::SignerUntrusted,
            format!(
                "certificate '{}' is trusted but belongs to no registered sender",
                signer.subject
            ),
        )
    })?;
    let mut relayed_by = None;
    if let Some(cert) = transport.client_cert {
        match rt.senders.for_tls_certificate(cert) {
            Some(tls_sender) if tls_sender.id == sender.id => {}
            Some(tls_sender) => {
                return Err(Problem::new(
                    ProblemType::SenderMismatch,
                    format!(
                        "the TLS client is sender '{}' but the message is signed by sender '{}'",
                        tls_sender.id, sender.id
                    ),
                ));
            }
            // A peer router relays messages of other senders; the portal's signature (checked
            // above against this router's registry) still identifies the sender.
            None if rt.senders.peer_for_tls_certificate(cert).is_some() => {
                relayed_by = rt.senders.peer_for_tls_certificate(cert).map(str::to_owned);
            }
            None => {
                return Err(Problem::new(
                    ProblemType::SenderMismatch,
                    format!(
                        "the TLS client certificate {} is not registered for any sender; the message is signed by sender '{}'",
                        hex(&fingerprint(cert)),
                        sender.id
                    ),
                ));
            }
        }
    }
    if !sender.may_author(&header.autor) {
        return Err(Problem::new(
            ProblemType::AuthorNotAllowed,
            format!(
                "sender '{}' may not author messages as '{}'",
                sender.id, header.autor
            ),
        )
        .with("autor", header.autor.as_str()));
    }

    // The schema sees what the signature covers: the enveloped ds:Signature is transport
    // evidence, removed by its own transform, not content the author wrote. Where the
    // message type declares a slot for it (XWasser: only 2010), it is validated there too.
    let schema = validate(
        rt,
        signed,
        verified.signature_element().id(),
        &header,
        metrics,
    )?;

    let destination = rt
        .directory
        .resolve(&header.leser, &header.nachrichtentyp)
        .ok_or_else(|| {
            Problem::new(
                ProblemType::Unroutable,
                format!(
                    "no directory entry for leser '{}' and nachrichtentyp '{}'",
                    header.leser, header.nachrichtentyp
                ),
            )
            .with("leser", header.leser.as_str())
            .with("nachrichtentyp", header.nachrichtentyp.as_str())
        })?
        .to_owned();

    Ok(Checked {
        signer: SignerSummary {
            subject: signer.subject.clone(),
            fingerprint_sha256: hex(&signer.fingerprint_sha256),
            algorithm: format!("{:?}", signer.algorithm),
            trust: match signer.anchor {
                TrustAnchor::Pinned { .. } => "pinned".into(),
                TrustAnchor::Ca { .. } => "ca".into(),
            },
        },
        sender: sender.id.clone(),
        header,
        destination,
        schema,
        relayed_by,
    })
}

/// Replay defence beyond deduplication: a message dated before the deduplication window could
/// be a replay the queue no longer recognises.
fn check_age(header: &Header, limits: AgeLimits) -> Result<(), Problem> {
    let Some(created) = xoev_core::header::parse_xs_datetime(&header.erstellungszeitpunkt) else {
        return Ok(()); // header::extract already refused unparsable timestamps
    };
    let now = time::OffsetDateTime::now_utc();
    let stale = |detail: String| {
        Err(Problem::new(ProblemType::StaleMessage, detail)
            .with("field", "erstellungszeitpunkt")
            .with("erstellungszeitpunkt", header.erstellungszeitpunkt.as_str()))
    };
    if created < now - limits.max_age {
        return stale(format!(
            "erstellungszeitpunkt {} is older than {} days; resubmit it as a new message",
            header.erstellungszeitpunkt,
            limits.max_age.as_secs() / 86400
        ));
    }
    if created > now + limits.max_future {
        return stale(format!(
            "erstellungszeitpunkt {} lies more than {} hours in the future",
            header.erstellungszeitpunkt,
            limits.max_future.as_secs() / 3600
        ));
    }
    Ok(())
}

pub fn xml_problem(e: xoev_xml::XmlError) -> Problem {
    let kind = match e.category() {
        XmlErrorCategory::Malformed => ProblemType::MalformedXml,
        _ => ProblemType::ForbiddenXmlConstruct,
    };
    let mut p = Problem::new(kind, e.to_string());
    if let Some(pos) = e.position() {
        p = p.with("line", pos.line).with("column", pos.column);
    }
    p
}

fn validate(
    rt: &Runtime,
    root: Element<'_>,
    skip: NodeId,
    header: &Header,
    metrics: &Metrics,
) -> Result<Option<String>, Problem> {
    let started = Instant::now();
    let result = match rt.schemas.select(
        root.namespace(),
        root.local_name(),
        Some(&header.nachrichtentyp),
    ) {
        Selection::Validate { schema, name } => {
            let mut v = Validator::new(schema);
            walk(&mut v, root, skip)
                .and_then(|()| v.finish())
                .map_err(schema_problem)?;
            Ok(Some(name.to_owned()))
        }
        Selection::Unvalidated { .. } => Ok(None),
        Selection::Unknown => Err(Problem::new(
            ProblemType::SchemaInvalid,
            format!(
                "no schema is registered for root element {{{}}}{} (nachrichtentyp {}); the schema catalogue must list every accepted message type",
                root.namespace().unwrap_or(""),
                root.local_name(),
                header.nachrichtentyp
            ),
        )),
    };
    metrics
        .schema_duration
        .observe(started.elapsed().as_secs_f64());
    result
}

fn schema_problem(v: Violation) -> Problem {
    let mut p = Problem::new(ProblemType::SchemaInvalid, v.to_string())
        .with("violation", v.kind.label())
        .with("path", v.path.as_str())
        .with("line", v.line)
        .with("column", v.column);
    if let Some(e) = &v.expected {
        p = p.with("expected", e.as_str());
    }
    p
}

struct Scope<'d>(Element<'d>);

impl NamespaceScope for Scope<'_> {
    fn resolve(&self, prefix: Option<&str>) -> Option<&str> {
        self.0.lookup_namespace(prefix)
    }

    fn for_each_binding(&self, f: &mut dyn FnMut(Option<&str>, &str)) {
        let mut chain = Vec::new();
        let mut cur = Some(self.0);
        while let Some(e) = cur {
            chain.push(e);
            cur = e.parent();
        }
        for e in chain.iter().rev() {
            for (prefix, uri) in e.namespace_declarations() {
                f(prefix, uri);
            }
        }
    }
}

/// Feeds the tree to the validator in document order. The subtree `skip` (the verified
/// enveloped signature) is fed only where the content model accepts it. Depth is bounded by the
/// parse limits.
fn walk(v: &mut Validator<'_>, el: Element<'_>, skip: NodeId) -> Result<(), Violation> {
    let attrs: Vec<AttributeEvent<'_>> = el
        .attributes()
        .map(|a| AttributeEvent {
            namespace: a.namespace,
            local_name: a.local_name,
            value: a.value,
        })
        .collect();
    let pos = el.position();
    let scope = Scope(el);
    v.start_element(&StartElement {
        namespace: el.namespace(),
        local_name: el.local_name(),
        attributes: &attrs,
        namespaces: &scope,
        line: pos.line,
        column: pos.column,
    })?;
    for child in el.children() {
        match child {
            Node::Element(c)
                if c.id() == skip && !v.accepts_child(c.namespace(), c.local_name()) => {}
            Node::Element(c) => walk(v, c, skip)?,
            Node::Text(t) => v.text(t)?,
            _ => {}
        }
    }
    v.end_element()
}
