//! The sender registry: which signing certificates and TLS client certificates belong to which
//! portal, and which `autor` kennungen it may use.
//!
//! The XML-DSig trust store is built from this registry only, labelled with sender ids, so a
//! verified signature always maps back to exactly one sender.

use std::collections::HashMap;
use std::sync::Arc;

use xoev_core::{Kennung, KennungPattern};
use xoev_dsig::{Signer, TrustAnchor, TrustStore};

use crate::config::Config;
use crate::tls::{fingerprint, hex, load_certs};

#[derive(Debug)]
pub struct Sender {
    pub id: String,
    pub name: Option<String>,
    authors: Vec<KennungPattern>,
}

impl Sender {
    pub fn may_author(&self, autor: &Kennung) -> bool {
        self.authors.iter().any(|p| p.matches(autor))
    }
}

pub struct SenderRegistry {
    pub trust: TrustStore,
    by_id: HashMap<String, Arc<Sender>>,
    by_tls: HashMap<[u8; 32], Arc<Sender>>,
    /// TLS client certificates of peer routers (federation), by fingerprint → peer id.
    peers: HashMap<[u8; 32], String>,
}

impl SenderRegistry {
    pub fn build(config: &Config) -> Result<SenderRegistry, String> {
        let mut trust = TrustStore::new();
        let mut by_id = HashMap::new();
        let mut by_tls: HashMap<[u8; 32], Arc<Sender>> = HashMap::new();
        let mut signing_owner: HashMap<[u8; 32], String> = HashMap::new();
        for s in &config.senders {
            let authors = s
                .authors
                .iter()
                .map(|a| {
                    KennungPattern::parse(a).map_err(|e| format!("sender '{}': authors: {e}", s.id))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let sender = Arc::new(Sender {
                id: s.id.clone(),
                name: s.name.clone(),
                authors,
            });
            for path in &s.signing_certificates {
                let path = config.resolve(path);
                for der in load_certs(&path).map_err(|e| format!("sender '{}': {e}", s.id))? {
                    let fp = fingerprint(&der);
                    if let Some(other) = signing_owner.insert(fp, s.id.clone()) {
                        return Err(format!(
                            "signing certificate {} is registered for both '{other}' and '{}'",
                            hex(&fp),
                            s.id
                        ));
                    }
                    trust
                        .add_pinned_certificate(der, &s.id)
                        .map_err(|e| format!("sender '{}': {}: {e}", s.id, path.display()))?;
                }
            }
            for path in &s.signing_ca {
                let path = config.resolve(path);
                for der in load_certs(&path).map_err(|e| format!("sender '{}': {e}", s.id))? {
                    trust
                        .add_ca_certificate(der, &s.id)
                        .map_err(|e| format!("sender '{}': {}: {e}", s.id, path.display()))?;
                }
            }
            for path in &s.tls_certificates {
                let path = config.resolve(path);
                for der in load_certs(&path).map_err(|e| format!("sender '{}': {e}", s.id))? {
                    let fp = fingerprint(&der);
                    if let Some(other) = by_tls.insert(fp, sender.clone()) {
                        return Err(format!(
                            "TLS certificate {} is registered for both '{}' and '{}'",
                            hex(&fp),
                            other.id,
                            s.id
                        ));
                    }
                }
            }
            by_id.insert(s.id.clone(), sender);
        }
        let mut peers = HashMap::new();
        for p in &config.peers {
            for path in &p.tls_certificates {
                let path = config.resolve(path);
                for der in load_certs(&path).map_err(|e| format!("peer '{}': {e}", p.id))? {
                    let fp = fingerprint(&der);
                    if by_tls.contains_key(&fp) || peers.insert(fp, p.id.clone()).is_some() {
                        return Err(format!(
                            "TLS certificate {} of peer '{}' is registered more than once",
                            hex(&fp),
                            p.id
                        ));
                    }
                }
            }
        }
        Ok(SenderRegistry {
            trust,
            by_id,
            by_tls,
            peers,
        })
    }

    /// The sender a verified signer belongs to.
    pub fn for_signer(&self, signer: &Signer) -> Option<&Arc<Sender>> {
        let label = match &signer.anchor {
            TrustAnchor::Pinned { label } | TrustAnchor::Ca { label } => label,
        };
        self.by_id.get(label)
    }

    /// The sender a TLS client certificate (DER) belongs to.
    pub fn for_tls_certificate(&self, der: &[u8]) -> Option<&Arc<Sender>> {
        self.by_tls.get(&fingerprint(der))
    }

    /// The peer router a TLS client certificate (DER) belongs to.
    pub fn peer_for_tls_certificate(&self, der: &[u8]) -> Option<&str> {
        self.peers.get(&fingerprint(der)).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
