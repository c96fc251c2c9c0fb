//! The reloadable part of the configuration: directory, senders, schemas.
//!
//! Built completely before it replaces the running one, so a reload either applies whole or
//! not at all; requests in flight finish on the snapshot they started with.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use xoev_xsd::Catalogue;

use crate::config::{AdapterKind, Config, DestinationConfig};
use crate::directory::Directory;
use crate::senders::SenderRegistry;
use crate::tls::{fingerprint, load_certs};

pub struct Runtime {
    pub directory: Directory,
    pub senders: SenderRegistry,
    pub schemas: Catalogue,
    pub destinations: BTreeMap<String, DestinationConfig>,
    /// Mailbox destinations by the kennung they are addressed with.
    pub mailboxes: HashMap<String, Mailbox>,
}

/// A pull destination and who owns it.
pub struct Mailbox {
    pub destination: String,
    owner_certificates: HashSet<[u8; 32]>,
    owner_token_sha256: Option<[u8; 32]>,
    pub visibility_timeout: Duration,
}

impl Mailbox {
    /// Whether the caller (TLS client certificate or bearer token) owns this mailbox.
    pub fn is_owner(&self, client_cert: Option<&[u8]>, bearer: Option<&str>) -> bool {
        if let Some(der) = client_cert
            && self.owner_certificates.contains(&fingerprint(der))
        {
            return true;
        }
        match (bearer, &self.owner_token_sha256) {
            (Some(token), Some(want)) => {
                let got = fingerprint(token.as_bytes());
                // Compared without early exit; only hashes are compared, never the token.
                got.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
            }
            _ => false,
        }
    }
}

/// Default visibility timeout of fetched, unclosed mailbox messages.
pub const DEFAULT_VISIBILITY: Duration = Duration::from_secs(300);

fn mailboxes(config: &Config) -> Result<HashMap<String, Mailbox>, String> {
    let mut out = HashMap::new();
    for d in config
        .destinations
        .iter()
        .filter(|d| d.adapter == AdapterKind::Mailbox)
    {
        let mut owners = HashSet::new();
        for p in &d.owner_certificates {
            for der in load_certs(&config.resolve(p))
                .map_err(|e| format!("destination '{}': {e}", d.id))?
            {
                owners.insert(fingerprint(&der));
            }
        }
        let token = match &d.owner_token_sha256 {
            Some(h) => Some(unhex32(h).ok_or_else(|| {
                format!(
                    "destination '{}': owner_token_sha256 is not 64 hex digits",
                    d.id
                )
            })?),
            None => None,
        };
        let kennung = d.kennung.clone().unwrap_or_default();
        out.insert(
            kennung,
            Mailbox {
                destination: d.id.clone(),
                owner_certificates: owners,
                owner_token_sha256: token,
                visibility_timeout: d.visibility_timeout.unwrap_or(DEFAULT_VISIBILITY),
            },
        );
    }
    Ok(out)
}

fn unhex32(h: &str) -> Option<[u8; 32]> {
    crate::tls::unhex(h)?.try_into().ok()
}

impl Runtime {
    /// Builds everything reloadable from `config`; `catalogue` is the resolved schema catalogue.
    pub fn build(config: &Config, catalogue: &Path) -> Result<Runtime, String> {
        let directory = Directory::build(&config.routes, &config.destinations)
            .map_err(|e| format!("{}: {e}", config.origin))?;
        let senders =
            SenderRegistry::build(config).map_err(|e| format!("{}: {e}", config.origin))?;
        let schemas = Catalogue::load(catalogue)
            .map_err(|e| format!("schemas {}: {e}", catalogue.display()))?;
        let destinations = config
            .destinations
            .iter()
            .map(|d| (d.id.clone(), d.clone()))
            .collect();
        let mailboxes = mailboxes(config).map_err(|e| format!("{}: {e}", config.origin))?;
        Ok(Runtime {
            directory,
            senders,
            schemas,
            destinations,
            mailboxes,
        })
    }
}

/// The current runtime, swapped whole on reload.
pub struct RuntimeCell(RwLock<Arc<Runtime>>);

impl RuntimeCell {
    pub fn new(r: Runtime) -> Self {
        RuntimeCell(RwLock::new(Arc::new(r)))
    }

    pub fn get(&self) -> Arc<Runtime> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, r: Runtime) {
        match self.0.write() {
            Ok(mut g) => *g = Arc::new(r),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(r),
        }
    }
}
