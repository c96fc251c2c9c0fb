//! Delivery: one worker per pushed destination, sharing the retry policy and a circuit
//! breaker per destination. Mailbox destinations have no worker: their owners fetch.

pub mod breaker;
pub mod retry;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use xoev_core::Adapter;

use crate::app::Store;
use crate::config::Config;
use crate::metrics::Metrics;
use breaker::Breaker;
use worker::WorkerCtx;

pub struct DeliveryManager {
    notifiers: HashMap<String, Arc<Notify>>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Option<JoinSet<()>>>,
}

impl DeliveryManager {
    /// Starts a worker for each destination in `adapters`.
    pub fn start(
        config: &Config,
        adapters: HashMap<String, Arc<dyn Adapter>>,
        store: Arc<Store>,
        metrics: Arc<Metrics>,
    ) -> DeliveryManager {
        let (tx, rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut notifiers = HashMap::new();
        for d in &config.destinations {
            let Some(adapter) = adapters.get(&d.id) else {
                continue;
            };
            let notify = Arc::new(Notify::new());
            notifiers.insert(d.id.clone(), notify.clone());
            let ctx = Arc::new(WorkerCtx {
                destination: d.id.clone(),
                router_id: config.router.id.clone(),
                adapter: adapter.clone(),
                store: store.clone(),
                metrics: metrics.clone(),
                retry: config.retry_for(d),
                breaker: Breaker::new(config.delivery.breaker.clone()),
                timeout: d.timeout.unwrap_or(config.delivery.timeout),
                concurrency: d.concurrency.unwrap_or(config.delivery.concurrency).max(1),
                drain_timeout: config.delivery.shutdown_grace,
                notify,
            });
            tasks.spawn(worker::run(ctx, rx.clone()));
        }
        DeliveryManager {
            notifiers,
            shutdown: tx,
            tasks: Mutex::new(Some(tasks)),
        }
    }

    /// Wakes the destination's worker (a message was accepted for it).
    pub fn notify(&self, destination: &str) {
        if let Some(n) = self.notifiers.get(destination) {
            n.notify_one();
        }
    }

    /// Stops leasing, lets attempts finish (bounded), releases the rest.
    pub async fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut tasks) = tasks {
            while tasks.join_next().await.is_some() {}
        }
    }
}
