//! A harness over a real mock authority, for adapters that speak HTTP (http, peer).

use bytes::Bytes;
use tokio::sync::Mutex;
use uuid::Uuid;
use xoev_core::Adapter;
use xoev_mock_authority::{MockAuthority, Mode};

use crate::{Behaviour, Harness};

pub struct MockHarness<A> {
    pub adapter: A,
    pub mock: Mutex<MockAuthority>,
    /// What "accept" means: plain 200 (authority) or a router's 202 (peer).
    pub accept: Mode,
}

impl<A: Adapter> MockHarness<A> {
    pub fn new(adapter: A, mock: MockAuthority, accept: Mode) -> Self {
        MockHarness {
            adapter,
            mock: Mutex::new(mock),
            accept,
        }
    }
}

impl<A: Adapter> Harness for MockHarness<A> {
    fn adapter(&self) -> &dyn Adapter {
        &self.adapter
    }

    async fn received(&self, id: Uuid) -> Vec<Bytes> {
        let id = id.to_string();
        let m = self.mock.lock().await;
        m.inbox
            .log()
            .into_iter()
            .filter(|r| r.id == id)
            .map(|r| r.body)
            .collect()
    }

    async fn set(&self, b: Behaviour) -> bool {
        let mut m = self.mock.lock().await;
        if b == Behaviour::Unreachable {
            m.stop().await;
            return true;
        }
        if tokio::net::TcpStream::connect(m.addr).await.is_err() {
            // Back up after an outage, on the same port.
            if m.restart().await.is_err() {
                return false;
            }
        }
        m.inbox.set_mode(match b {
            Behaviour::Refuse => Mode::Fail {
                status: 422,
                retry_after: None,
            },
            Behaviour::Overloaded => Mode::Fail {
                status: 503,
                retry_after: Some(1),
            },
            Behaviour::Hang => Mode::Hang,
            Behaviour::Accept | Behaviour::Unreachable => self.accept.clone(),
        });
        true
    }
}
