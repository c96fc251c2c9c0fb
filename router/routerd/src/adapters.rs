//! Builds the adapter of every pushed destination from its configuration.

use std::collections::HashMap;
use std::sync::Arc;

use xoev_adapter_file::FileAdapter;
use xoev_adapter_http::HttpAdapter;
use xoev_core::Adapter;

use crate::config::{AdapterKind, Config, DestinationConfig};
use crate::tls;

pub fn build(config: &Config) -> Result<HashMap<String, Arc<dyn Adapter>>, String> {
    let mut out: HashMap<String, Arc<dyn Adapter>> = HashMap::new();
    for d in &config.destinations {
        let err = |m: String| format!("destination '{}': {m}", d.id);
        let adapter: Arc<dyn Adapter> = match d.adapter {
            AdapterKind::Http => Arc::new(http_adapter(config, d, "http").map_err(err)?),
            AdapterKind::Peer => Arc::new(http_adapter(config, d, "peer").map_err(err)?),
            AdapterKind::File => {
                let dir = config.resolve(d.dir.as_deref().unwrap_or(std::path::Path::new(".")));
                Arc::new(
                    FileAdapter::new(&dir)
                        .map_err(|e| err(format!("drop directory {}: {e}", dir.display())))?,
                )
            }
            AdapterKind::Mailbox => continue,
        };
        out.insert(d.id.clone(), adapter);
    }
    Ok(out)
}

fn http_adapter(
    config: &Config,
    d: &DestinationConfig,
    kind: &'static str,
) -> Result<HttpAdapter, String> {
    let url = d.url.as_deref().unwrap_or_default();
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
    HttpAdapter::with_kind(url, tls, kind).map_err(|e| e.to_string())
}
