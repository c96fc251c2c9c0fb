//! Scenario 5: idle RSS and start-up time of a fresh router.

use std::time::Duration;

use serde::Serialize;

use crate::error::LoadgenError;
use crate::world::{Authority, Env, Router, RouterFiles};

/// Idle RSS and start-up of a fresh router (5a).
#[derive(Clone, Debug, Serialize)]
pub struct Idle {
    /// Spawn → ready.
    pub startup_s: f64,
    /// RSS one second after ready (KiB).
    pub rss_kib: u64,
    /// Peak RSS so far (KiB).
    pub hwm_kib: u64,
}

pub(super) async fn idle(env: &Env) -> Result<Idle, LoadgenError> {
    let dir = env.run_dir("5-idle")?;
    let mut authority = Authority::start(env, &dir, false).await?;
    let files = RouterFiles::write(env, &dir, authority.inbox)?;
    let mut router = Router::start(env, &files, Duration::from_secs(120)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let r = router.rss().unwrap_or_default();
    router.stop()?;
    let _ = authority.proc.stop("INT", Duration::from_secs(10));
    Ok(Idle {
        startup_s: router.startup.as_secs_f64(),
        rss_kib: r.rss_kib,
        hwm_kib: r.hwm_kib,
    })
}
