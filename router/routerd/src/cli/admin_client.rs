//! A tiny HTTP/1.1 client for the loopback admin API.

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Sends one request; returns the status and the body. Errors are one-line causes.
pub fn call(method: Method, url: &str) -> Result<(u16, Bytes), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    rt.block_on(async {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let req = Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("bad admin URL '{url}': {e}"))?;
        let resp = tokio::time::timeout(std::time::Duration::from_secs(30), client.request(req))
            .await
            .map_err(|_| format!("no answer from {url} within 30 s"))?
            .map_err(|e| format!("cannot reach the admin API at {url}: {e} (is the router running? --admin / XOEV_ROUTER_ADMIN)"))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer from {url}: {e}"))?
            .to_bytes();
        Ok((status, body))
    })
}
