//! A per-destination circuit breaker, so a dead authority is probed, not hammered.
//!
//! Closed: attempts flow; `failure_threshold` consecutive retryable failures open it.
//! Open: no attempts until `open_for` has passed; then one probe (half-open). A successful
//! probe closes it; a failed probe opens it again for twice as long (up to `max_open_for`).
//! Permanent refusals do not count: the destination answered, it is alive.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::BreakerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Closed: as many attempts as there is capacity for.
    All,
    /// Half-open: exactly one probe attempt.
    Probe,
    /// Open until the given instant.
    Wait(Instant),
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant, open_for: Duration },
    HalfOpen { open_for: Duration, probing: bool },
}

#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(cfg: BreakerConfig) -> Self {
        Breaker {
            cfg,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many attempts may start now. Taking a probe marks it in flight.
    pub fn admit(&self, now: Instant) -> Admit {
        let mut s = self.lock();
        match *s {
            State::Closed { .. } => Admit::All,
            State::Open { until, open_for } => {
                if now >= until {
                    *s = State::HalfOpen {
                        open_for,
                        probing: true,
                    };
                    Admit::Probe
                } else {
                    Admit::Wait(until)
                }
            }
            State::HalfOpen { open_for, probing } => {
                if probing {
                    Admit::Wait(now + Duration::from_millis(100))
                } else {
                    *s = State::HalfOpen {
                        open_for,
                        probing: true,
                    };
                    Admit::Probe
                }
            }
        }
    }

    pub fn on_success(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    /// A probe that ended without a verdict (e.g. shutdown) may be retried.
    pub fn on_abandoned(&self) {
        let mut s = self.lock();
        if let State::HalfOpen { open_for, .. } = *s {
            *s = State::HalfOpen {
                open_for,
                probing: false,
            };
        }
    }

    pub fn on_failure(&self, now: Instant) {
        let mut s = self.lock();
        *s = match *s {
            State::Closed { failures } if failures + 1 >= self.cfg.failure_threshold => {
                State::Open {
                    until: now + self.cfg.open_for,
                    open_for: self.cfg.open_for,
                }
            }
            State::Closed { failures } => State::Closed {
                failures: failures + 1,
            },
            State::HalfOpen { open_for, .. } => {
                let next = (open_for * 2).min(self.cfg.max_open_for);
                State::Open {
                    until: now + next,
                    open_for: next,
                }
            }
            State::Open { until, open_for } => State::Open { until, open_for },
        };
    }

    pub fn is_open(&self) -> bool {
        !matches!(*self.lock(), State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(10),
            max_open_for: Duration::from_secs(25),
        })
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let b = breaker();
        let t = Instant::now();
        b.on_failure(t);
        b.on_failure(t);
        assert_eq!(b.admit(t), Admit::All);
        b.on_failure(t);
        assert_eq!(b.admit(t), Admit::Wait(t + Duration::from_secs(10)));
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let b = breaker();
        let t = Instant::now();
        b.on_failure(t);
        b.on_failure(t);
        b.on_success();
        b.on_failure(t);
        assert_eq!(b.admit(t), Admit::All);
    }

    #[test]
    fn allows_one_probe_after_open_for_and_closes_on_success() {
        let b = breaker();
        let t = Instant::now();
        (0..3).for_each(|_| b.on_failure(t));
        let later = t + Duration::from_secs(11);
        assert_eq!(b.admit(later), Admit::Probe);
        assert!(
            matches!(b.admit(later), Admit::Wait(_)),
            "only one probe at a time"
        );
        b.on_success();
        assert_eq!(b.admit(later), Admit::All);
    }

    #[test]
    fn a_failed_probe_doubles_the_open_time_up_to_the_maximum() {
        let b = breaker();
        let t = Instant::now();
        (0..3).for_each(|_| b.on_failure(t));
        let t1 = t + Duration::from_secs(11);
        assert_eq!(b.admit(t1), Admit::Probe);
        b.on_failure(t1);
        assert_eq!(b.admit(t1), Admit::Wait(t1 + Duration::from_secs(20)));
        let t2 = t1 + Duration::from_secs(21);
        assert_eq!(b.admit(t2), Admit::Probe);
        b.on_failure(t2);
        assert_eq!(b.admit(t2), Admit::Wait(t2 + Duration::from_secs(25)));
    }
}
