//! Builds the adapter of every pushed destination from its configuration.

use std::collections::HashMap;
use std::sync::Arc;

use xoev_adapter_file::FileAdapter;
use xoev_adapter_http::HttpAdapter;
use xoev_adapter_peer::PeerAdapter;
use xoev_core::Adapter;

use crate::config::{AdapterKind, Config, DestinationConfig};
use crate::tls;

/// The adapters of pushed destinations, and the peer adapters again by destination (the
/// status API follows forwarded messages at the peer).
pub struct Built {
    pub adapters: HashMap<String, Arc<dyn Adapter>>,
    pub peers: HashMap<String, Arc<PeerAdapter>>,
}

pub fn build(config: &Config) -> Result<Built, String> {
    let mut adapters: HashMap<String, Arc<dyn Adapter>> = HashMap::new();
    let mut peers = HashMap::new();
    for d in &config.destinations {
        let err = |m: String| format!("destination '{}': {m}", d.id);
        let adapter: Arc<dyn Adapter> = match d.adapter {
            AdapterKind::Http => {
                let (url, tls) = tls_for(config, d).map_err(err)?;
                Arc::new(HttpAdapter::new(&url, tls).map_err(|e| err(e.to_string()))?)
            }
            AdapterKind::Peer => {
                let (url, tls) = tls_for(config, d).map_err(err)?;
                let peer = Arc::new(PeerAdapter::new(&url, tls).map_err(|e| err(e.to_string()))?);
                peers.insert(d.id.clone(), peer.clone());
                peer
            }
            AdapterKind::File => {
                let dir = config.resolve(d.dir.as_deref().unwrap_or(std::path::Path::new(".")));
                Arc::new(
                    FileAdapter::new(&dir)
                        .map_err(|e| err(format!("drop directory {}: {e}", dir.display())))?,
                )
            }
            AdapterKind::Mailbox => continue,
        };
        adapters.insert(d.id.clone(), adapter);
    }
    Ok(Built { adapters, peers })
}

/// The URL and the rustls client configuration of an http or peer destination.
fn tls_for(
    config: &Config,
    d: &DestinationConfig,
) -> Result<(String, rustls::ClientConfig), String> {
    let url = d.url.clone().unwrap_or_default();
    if url.starts_with("https://") && d.ca.is_empty() {
        return Err(
            "an https url needs `ca`: the router trusts only the CAs configured per destination"
                .into(),
        );
    }
    let ca: Vec<_> = d.ca.iter().map(|p| config.resolve(p)).collect();
    let cert = d.client_cert.as_ref().map(|p| config.resolve(p));
    let key = d.client_key.as_ref().map(|p| config.resolve(p));
    let client = cert.as_deref().zip(key.as_deref());
    let tls = tls::client_config(&ca, client).map_err(|e| e.to_string())?;
    Ok((url, tls))
}
