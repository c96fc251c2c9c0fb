//! The router process on a generated configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::client::{Proto, Target, tls_config};
use crate::error::LoadgenError;
use crate::http_util::get_ok;
use crate::procs::{Proc, free_port, wait_http_ok};
use crate::router_config::{RouterConfig, render};
use crate::rss::{self, Rss};

use super::{Depth, Env, parse_depth};

/// Files of one router setup.
#[derive(Clone, Debug)]
pub struct RouterFiles {
    /// The configuration file.
    pub config: PathBuf,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Public listener.
    pub public: SocketAddr,
    /// Admin listener.
    pub admin: SocketAddr,
    /// Log file.
    pub log: PathBuf,
}

impl RouterFiles {
    /// Writes a configuration for a router in `dir` delivering to the authority at `inbox`.
    pub fn write(env: &Env, dir: &Path, inbox: SocketAddr) -> Result<RouterFiles, LoadgenError> {
        let files = RouterFiles {
            config: dir.join("router.toml"),
            data_dir: dir.join("data"),
            public: free_port()?,
            admin: free_port()?,
            log: dir.join("router.log"),
        };
        let text = render(&RouterConfig {
            public: files.public,
            admin: files.admin,
            data_dir: files.data_dir.clone(),
            pki: env.pki.clone(),
            authority: inbox,
        });
        std::fs::write(&files.config, text).map_err(|e| LoadgenError::io(&files.config, e))?;
        Ok(files)
    }
}

/// A running router.
pub struct Router {
    /// The process.
    pub proc: Proc,
    /// Its files and addresses.
    pub files: RouterFiles,
    /// Spawn → `/readyz` 200.
    pub startup: Duration,
}

impl Router {
    /// The router's metrics text.
    pub async fn metrics(&self) -> Result<String, LoadgenError> {
        let body = get_ok(self.files.admin, "/metrics").await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// Starts the router on `files` and waits for `/readyz` (up to `ready_timeout`).
    pub async fn start(
        env: &Env,
        files: &RouterFiles,
        ready_timeout: Duration,
    ) -> Result<Router, LoadgenError> {
        let log_level = std::env::var("XOEV_LOG").unwrap_or_else(|_| "warn".into());
        let cmd = router_command(
            &env.bin("xoev-router"),
            &files.config,
            &log_level,
            &env.router_env,
        );
        let mut proc = Proc::spawn("xoev-router", cmd, &files.log)?;
        let startup = wait_http_ok(&mut proc, files.admin, "/readyz", ready_timeout).await?;
        Ok(Router {
            proc,
            files: files.clone(),
            startup,
        })
    }

    /// Where the generator sends to.
    pub fn target(&self, env: &Env, proto: Proto) -> Result<Target, LoadgenError> {
        Ok(Target {
            addr: self.files.public,
            host: "localhost".into(),
            path: "/v1/messages".into(),
            tls: tls_config(&env.pki.ca_cert(), proto)?,
        })
    }

    /// Memory now and peak.
    pub fn rss(&self) -> Option<Rss> {
        rss::read(self.proc.pid())
    }

    /// Queue depth now.
    pub async fn depth(&self) -> Result<Depth, LoadgenError> {
        let body = get_ok(self.files.admin, "/metrics").await?;
        Ok(parse_depth(&String::from_utf8_lossy(&body)))
    }

    /// Graceful stop (SIGTERM, killed after 60 s).
    pub fn stop(&mut self) -> Result<(), LoadgenError> {
        let status = self.proc.stop("TERM", Duration::from_secs(60))?;
        if status.success() {
            Ok(())
        } else {
            Err(LoadgenError::Process(format!(
                "xoev-router exited with {status} on SIGTERM"
            )))
        }
    }
}

/// The command that starts a router: `serve` on `config`, logging at `log_level`, with the
/// experiment's extra environment (`--router-env`) last, so it can override the level too.
fn router_command(
    bin: &Path,
    config: &Path,
    log_level: &str,
    extra: &[(String, String)],
) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("serve").arg("--config").arg(config);
    cmd.env("XOEV_LOG", log_level);
    cmd.envs(extra.iter().map(|(k, v)| (k, v)));
    cmd
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    fn env_of<'a>(cmd: &'a Command, key: &str) -> Option<&'a OsStr> {
        cmd.get_envs()
            .find(|(k, _)| *k == OsStr::new(key))
            .and_then(|(_, v)| v)
    }

    #[test]
    fn the_router_gets_the_experiment_environment() {
        let extra = vec![
            ("MALLOC_ARENA_MAX".to_string(), "2".to_string()),
            (
                "LD_PRELOAD".to_string(),
                "/usr/lib/libjemalloc.so.2".to_string(),
            ),
        ];
        let cmd = router_command(
            Path::new("xoev-router"),
            Path::new("r.toml"),
            "warn",
            &extra,
        );
        assert_eq!(env_of(&cmd, "MALLOC_ARENA_MAX"), Some(OsStr::new("2")));
        assert_eq!(
            env_of(&cmd, "LD_PRELOAD"),
            Some(OsStr::new("/usr/lib/libjemalloc.so.2"))
        );
        assert_eq!(env_of(&cmd, "XOEV_LOG"), Some(OsStr::new("warn")));
    }

    #[test]
    fn the_experiment_environment_overrides_the_log_level() {
        let extra = vec![("XOEV_LOG".to_string(), "debug".to_string())];
        let cmd = router_command(
            Path::new("xoev-router"),
            Path::new("r.toml"),
            "warn",
            &extra,
        );
        assert_eq!(env_of(&cmd, "XOEV_LOG"), Some(OsStr::new("debug")));
    }
}
