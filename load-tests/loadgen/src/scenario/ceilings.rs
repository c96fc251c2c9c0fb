//! The HTTP ceiling run: the `http-ceiling` process driven exactly like the router.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use super::Options;
use crate::client::{Proto, Target, tls_config};
use crate::corpus::Corpus;
use crate::drive::{DriveOptions, drive};
use crate::error::LoadgenError;
use crate::procs::{Proc, free_port, wait_listening};
use crate::report::RunReport;
use crate::world::Env;

/// Drives the HTTP ceiling server with `corpus`.
pub(super) async fn http_ceiling(
    env: &Env,
    o: &Options,
    name: &str,
    corpus: Arc<Corpus>,
    proto: Proto,
    duration: Duration,
) -> Result<RunReport, LoadgenError> {
    let dir = env.run_dir(name)?;
    let addr = free_port()?;
    let mut cmd = Command::new(env.bin("http-ceiling"));
    cmd.arg("--listen")
        .arg(addr.to_string())
        .arg("--cert")
        .arg(env.pki.router_cert())
        .arg("--key")
        .arg(env.pki.router_key());
    let mut p = Proc::spawn("http-ceiling", cmd, &dir.join("ceiling.log"))?;
    wait_listening(&mut p, addr, Duration::from_secs(20)).await?;
    let (connections, streams) = match proto {
        Proto::H1 => (o.connections, 1),
        Proto::H2 => (o.h2_connections, o.h2_streams),
    };
    let opts = DriveOptions {
        label: name.to_owned(),
        target: Target {
            addr,
            host: "localhost".into(),
            path: "/v1/messages".into(),
            tls: tls_config(&env.pki.ca_cert(), proto)?,
        },
        proto,
        connections,
        streams,
        rate: None,
        warmup: o.warmup,
        duration,
        timeout: Duration::from_secs(60),
        limit: None,
        // The ceiling keeps no state: repeating messages costs it nothing extra.
        cycle: true,
        progress: true,
        authority_control: None,
        watch_pid: Some(p.pid()),
    };
    let run = drive(corpus, &opts, None).await?;
    eprintln!("{}", run.summary());
    let _ = p.stop("TERM", Duration::from_secs(5));
    Ok(run)
}
