//! The http adapter passes the adapter conformance suite against a real mock authority.

use std::sync::Arc;

use xoev_adapter_conformance::mock::MockHarness;
use xoev_adapter_conformance::run;
use xoev_adapter_http::HttpAdapter;
use xoev_mock_authority::{MockAuthority, Mode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_adapter_passes_the_conformance_suite() {
    let mock = MockAuthority::start().await.unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let adapter = HttpAdapter::new(&mock.url(), tls).unwrap();
    let h = MockHarness::new(adapter, mock, Mode::Accept);
    assert!(run(&h).await.is_empty(), "every check applies to http");
}
