//! The load generator: N workers, each with its own keep-alive connection, POST pre-signed
//! messages at a steady total rate and record every answer in the ledger.
//!
//! A send without an answer (the router was killed, the connection was refused or reset) and a
//! `503` are not failures of the router: the message goes back into a resend queue and is
//! sent again with the same bytes, as a real portal would. Resends come before new messages,
//! so every message eventually gets a definite answer.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::client::Http;
use crate::corpus::Msg;
use crate::ledger::{Ledger, Outcome, classify};

/// How to drive the router.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// `https://…/v1/messages`.
    pub url: String,
    /// Concurrent workers (connections).
    pub concurrency: usize,
    /// Messages per second over all workers (resends included); 0 = as fast as answers come.
    pub rate: u32,
    /// Deadline of one request.
    pub timeout: Duration,
}

/// State shared by the workers and the scenario.
pub struct Shared {
    ledger: Mutex<Ledger>,
    resend: Mutex<VecDeque<Msg>>,
    corpus: tokio::sync::Mutex<mpsc::Receiver<Msg>>,
    in_flight: AtomicUsize,
    sends: AtomicU64,
    last_transport_error: Mutex<String>,
}

impl Shared {
    /// The ledger (never hold it across an await).
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn resend(&self) -> MutexGuard<'_, VecDeque<Msg>> {
        self.resend.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Requests sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Requests sent so far.
    pub fn sends(&self) -> u64 {
        self.sends.load(Ordering::Relaxed)
    }

    /// Messages waiting to be sent again.
    pub fn pending_resends(&self) -> usize {
        self.resend().len()
    }

    /// The text of the last transport failure (for the report).
    pub fn last_transport_error(&self) -> String {
        self.last_transport_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A running generator.
pub struct Generator {
    shared: Arc<Shared>,
    http: Http,
    url: String,
    timeout: Duration,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Generator {
    /// Starts `spec.concurrency` workers taking new messages from `corpus`.
    pub fn start(http: Http, spec: &LoadSpec, corpus: mpsc::Receiver<Msg>) -> Generator {
        let shared = Arc::new(Shared {
            ledger: Mutex::default(),
            resend: Mutex::default(),
            corpus: tokio::sync::Mutex::new(corpus),
            in_flight: AtomicUsize::new(0),
            sends: AtomicU64::new(0),
            last_transport_error: Mutex::default(),
        });
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let permits = (spec.rate > 0).then(|| Arc::new(Semaphore::new(0)));
        if let Some(p) = &permits {
            tasks.spawn(ticker(
                p.clone(),
                spec.rate,
                spec.concurrency,
                stop_rx.clone(),
            ));
        }
        for _ in 0..spec.concurrency.max(1) {
            tasks.spawn(worker(
                shared.clone(),
                http.clone(),
                spec.clone(),
                permits.clone(),
                stop_rx.clone(),
            ));
        }
        Generator {
            shared,
            http,
            url: spec.url.clone(),
            timeout: spec.timeout,
            stop,
            tasks,
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops the workers (each finishes its current request) and returns the shared state.
    pub async fn stop(mut self) -> Stopped {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        Stopped {
            shared: self.shared,
            http: self.http,
            url: self.url,
            timeout: self.timeout,
        }
    }
}

/// A stopped generator: its ledger and the messages still without a definite answer.
pub struct Stopped {
    pub shared: Arc<Shared>,
    http: Http,
    url: String,
    timeout: Duration,
}

impl Stopped {
    /// Sends every message still in the resend queue again until each has a definite answer
    /// or `deadline` passes. Returns how many are still without one.
    pub async fn settle(&self, deadline: Duration) -> usize {
        let end = tokio::time::Instant::now() + deadline;
        loop {
            let next = self.shared.resend().pop_front();
            let Some(msg) = next else { return 0 };
            if tokio::time::Instant::now() >= end {
                self.shared.resend().push_front(msg);
                return self.shared.pending_resends();
            }
            send_one(&self.shared, &self.http, &self.url, self.timeout, msg).await;
        }
    }
}

/// Sends `msg` once, records the outcome, and queues it again if it has no definite answer.
pub async fn send_one(
    shared: &Shared,
    http: &Http,
    url: &str,
    timeout: Duration,
    mut msg: Msg,
) -> Outcome {
    msg.first_sent.get_or_insert_with(SystemTime::now);
    msg.sends += 1;
    shared.sends.fetch_add(1, Ordering::Relaxed);
    shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let answer = http.post_xml(url, msg.bytes.clone(), timeout).await;
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    let outcome = classify(&msg, answer);
    match &outcome {
        Outcome::Accepted { duplicate } => {
            shared.ledger().accept(&msg, *duplicate, SystemTime::now());
        }
        Outcome::Refused(r) => shared.ledger().refused.push(r.clone()),
        Outcome::BackPressure(r) => {
            *shared
                .ledger()
                .back_pressure
                .entry(r.kind.clone())
                .or_default() += 1;
            shared.resend().push_back(msg);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Outcome::InDoubt(t) => {
            shared.ledger().in_doubt += 1;
            *shared
                .last_transport_error
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = t.to_string();
            shared.resend().push_back(msg);
            // The router is probably restarting: do not spin on refused connections.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    outcome
}

async fn worker(
    shared: Arc<Shared>,
    http: Http,
    spec: LoadSpec,
    permits: Option<Arc<Semaphore>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        if let Some(p) = &permits {
            tokio::select! {
                permit = p.acquire() => match permit {
                    Ok(permit) => permit.forget(),
                    Err(_) => return,
                },
                _ = stop.changed() => return,
            }
        }
        let resend = shared.resend().pop_front();
        let msg = match resend {
            Some(m) => m,
            None => {
                let next = tokio::select! {
                    m = async { shared.corpus.lock().await.recv().await } => m,
                    _ = stop.changed() => return,
                };
                match next {
                    Some(m) => m,
                    None => return,
                }
            }
        };
        send_one(&shared, &http, &spec.url, spec.timeout, msg).await;
    }
}

/// Adds one permit per `1/rate` seconds, never more than `burst` waiting.
async fn ticker(permits: Arc<Semaphore>, rate: u32, burst: usize, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                if permits.available_permits() < burst.max(1) {
                    permits.add_permits(1);
                }
            }
            _ = stop.changed() => {
                permits.close();
                return;
            }
        }
    }
}
