//! The router's shared state, handed to every request handler.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use uuid::Uuid;
use xoev_adapter_peer::PeerAdapter;
use xoev_queue::LeaseToken;

use crate::config::Config;
use crate::delivery::DeliveryManager;
use crate::metrics::Metrics;
use crate::runtime::RuntimeCell;

/// The queue engine. One alias, so another `MessageStore` can replace sled in one place.
pub type Store = xoev_queue::SledStore;

pub struct App {
    pub config: Config,
    pub runtime: RuntimeCell,
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub delivery: DeliveryManager,
    pub xml_limits: xoev_xml::Limits,
    /// The schema catalogue in use (reloaded with the runtime).
    pub catalogue: PathBuf,
    /// Where the config came from, for reloads (`None`: the embedded default).
    pub config_file: Option<PathBuf>,
    pub ready: AtomicBool,
    /// Peer adapters by destination id, to follow forwarded messages at the peer.
    pub peers: HashMap<String, Arc<PeerAdapter>>,
    /// Signs receipts (Laufzettel).
    pub receipts: crate::receipt::ReceiptSigner,
    /// Leases of mailbox messages fetched and not yet closed (lost on restart: the store then
    /// returns those messages to the mailbox anyway).
    pub mailbox_leases: Mutex<HashMap<Uuid, LeaseToken>>,
    /// Checks of large messages (above the inline size) that may run at once.
    pub heavy_checks: tokio::sync::Semaphore,
}

/// Large-message checks at once: one per core (they are CPU-bound), at least two.
pub fn heavy_check_permits() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2)
}

impl App {
    pub fn xml_limits(config: &Config) -> xoev_xml::Limits {
        let l = &config.limits;
        xoev_xml::Limits {
            max_depth: l.max_depth,
            max_attributes: l.max_attributes,
            max_name_len: l.max_name_len,
            max_nodes: l.max_nodes,
            max_text_len: usize::try_from(l.max_text_len).unwrap_or(usize::MAX),
        }
    }
}
