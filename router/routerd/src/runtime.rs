//! The reloadable part of the configuration: directory, senders, schemas.
//!
//! Built completely before it replaces the running one, so a reload either applies whole or
//! not at all; requests in flight finish on the snapshot they started with.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use xoev_xsd::Catalogue;

use crate::config::{Config, DestinationConfig};
use crate::directory::Directory;
use crate::senders::SenderRegistry;

pub struct Runtime {
    pub directory: Directory,
    pub senders: SenderRegistry,
    pub schemas: Catalogue,
    pub destinations: BTreeMap<String, DestinationConfig>,
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
        Ok(Runtime {
            directory,
            senders,
            schemas,
            destinations,
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
