//! When to try again: exponential backoff with full jitter, bounded by attempts and age.
//!
//! The delay before attempt n+1 is drawn uniformly from [min_delay, min(max_delay,
//! min_delay·2^(n-1))], so retries of many messages spread out instead of arriving in waves.
//! A destination's `Retry-After` is a floor. A message that would exceed `max_attempts` or
//! `max_age` goes to the dead letters instead. Only attempts that may say something about the
//! message count against `max_attempts` ([`counts_against_max_attempts`]).

use std::time::Duration;

use rand::Rng;
use xoev_core::FailureKind;
use xoev_queue::Timestamp;

use crate::config::RetryConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    RetryAt(Timestamp),
    GiveUp(String),
}

/// Whether a failed attempt counts against `max_attempts`. A failed probe of an open circuit
/// breaker, or an attempt that could not even connect, says the destination is down and
/// nothing about the message: such failures are bounded by `max_age` only. Otherwise a long
/// outage would dead-letter whichever messages happened to be tried (probes, or the first
/// batch after a restart, whose breaker starts closed).
pub fn counts_against_max_attempts(probe: bool, kind: FailureKind) -> bool {
    !probe && kind != FailureKind::Connect
}

/// `counted`: whether this failure counts against `max_attempts`
/// ([`counts_against_max_attempts`]); `attempts` includes it either way.
pub fn decide(
    cfg: &RetryConfig,
    attempts: u32,
    counted: bool,
    accepted_at: Timestamp,
    now: Timestamp,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Decision {
    if counted && attempts >= cfg.max_attempts {
        return Decision::GiveUp(format!("gave up after {attempts} attempts (max_attempts)"));
    }
    let cap = backoff_cap(cfg, attempts);
    let min = cfg.min_delay.min(cap);
    let mut delay = if cap > min {
        Duration::from_millis(rng.random_range(min.as_millis() as u64..=cap.as_millis() as u64))
    } else {
        min
    };
    if let Some(ra) = retry_after {
        delay = delay.max(ra);
    }
    let at = now.plus(delay);
    let deadline = accepted_at.plus(cfg.max_age);
    if at > deadline {
        return Decision::GiveUp(format!(
            "gave up after {attempts} attempts: the next attempt would be later than max_age {} s after acceptance",
            cfg.max_age.as_secs()
        ));
    }
    Decision::RetryAt(at)
}

/// min_delay · 2^(attempts-1), capped at max_delay.
pub fn backoff_cap(cfg: &RetryConfig, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    cfg.min_delay
        .checked_mul(1u32 << exp)
        .unwrap_or(cfg.max_delay)
        .min(cfg.max_delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn cfg() -> RetryConfig {
        RetryConfig {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_attempts: 10,
            max_age: Duration::from_secs(3600),
        }
    }

    #[test]
    fn cap_doubles_per_attempt_until_max_delay() {
        let c = cfg();
        let caps: Vec<u64> = (1..=9).map(|a| backoff_cap(&c, a).as_secs()).collect();
        assert_eq!(caps, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn delays_stay_within_min_and_cap_and_spread_out() {
        let c = cfg();
        let mut rng = StdRng::seed_from_u64(7);
        let now = Timestamp(1_000_000);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            match decide(&c, 6, true, now, now, None, &mut rng) {
                Decision::RetryAt(t) => {
                    let d = t.0 - now.0;
                    assert!((1_000..=32_000).contains(&d), "{d}");
                    seen.insert(d / 1000);
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(seen.len() > 10, "full jitter spreads delays: {seen:?}");
    }

    #[test]
    fn retry_after_is_a_floor() {
        let mut rng = StdRng::seed_from_u64(1);
        let now = Timestamp(0);
        let d = decide(
            &cfg(),
            1,
            true,
            now,
            now,
            Some(Duration::from_secs(120)),
            &mut rng,
        );
        assert_eq!(d, Decision::RetryAt(Timestamp(120_000)));
    }

    #[test]
    fn gives_up_at_max_attempts() {
        let mut rng = StdRng::seed_from_u64(1);
        let d = decide(&cfg(), 10, true, Timestamp(0), Timestamp(0), None, &mut rng);
        assert_eq!(
            d,
            Decision::GiveUp("gave up after 10 attempts (max_attempts)".into())
        );
    }

    #[test]
    fn gives_up_when_the_next_attempt_would_exceed_max_age() {
        let mut rng = StdRng::seed_from_u64(1);
        let accepted = Timestamp(0);
        let now = Timestamp(3_599_500);
        assert!(matches!(
            decide(&cfg(), 2, true, accepted, now, None, &mut rng),
            Decision::GiveUp(_)
        ));
    }

    #[test]
    fn a_message_that_never_reached_a_down_destination_is_not_dead_lettered_by_max_attempts() {
        let mut rng = StdRng::seed_from_u64(1);
        let cfg = RetryConfig {
            max_attempts: 50,
            ..cfg()
        };
        let now = Timestamp(0);
        let mut decide_for = |probe, kind| {
            let counted = counts_against_max_attempts(probe, kind);
            decide(&cfg, 60, counted, now, now, None, &mut rng)
        };
        // 60 attempts, limit 50: refused connections and failed probes retry.
        assert!(matches!(
            decide_for(false, FailureKind::Connect),
            Decision::RetryAt(_)
        ));
        assert!(matches!(
            decide_for(true, FailureKind::Status(503)),
            Decision::RetryAt(_)
        ));
        // A destination that answers 503 to this message for the 60th time: give up.
        assert_eq!(
            decide_for(false, FailureKind::Status(503)),
            Decision::GiveUp("gave up after 60 attempts (max_attempts)".into())
        );
        assert!(matches!(
            decide_for(false, FailureKind::Timeout),
            Decision::GiveUp(_)
        ));
    }
}
