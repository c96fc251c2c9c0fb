//! The peer adapter passes the adapter conformance suite against a mock that answers like a
//! router's ingress (the federation tests in routerd use two real routers).

use std::sync::Arc;

use xoev_adapter_conformance::mock::MockHarness;
use xoev_adapter_conformance::run;
use xoev_adapter_peer::PeerAdapter;
use xoev_mock_authority::{MockAuthority, Mode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_adapter_passes_the_conformance_suite() {
    let mock = MockAuthority::start().await.unwrap();
    let base = format!("http://{}", mock.addr);
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let adapter = PeerAdapter::new(&base, tls).unwrap();
    let h = MockHarness::new(adapter, mock, Mode::AcceptAsRouter);
    assert!(run(&h).await.is_empty(), "every check applies to peer");
}
