//! The router configuration a scenario runs with, rendered as the TOML file the binary reads.
//!
//! Paths are relative to the file's directory (the scenario's work directory), which holds
//! `pki/` (from `xoev-router certs`) and `data/` (the queue).

use std::fmt::Write;
use std::net::SocketAddr;

/// One pushed destination.
#[derive(Debug, Clone)]
pub struct DestSpec {
    pub id: String,
    /// The mock authority's inbox URL.
    pub url: String,
    /// The directory pattern routed here, e.g. `ags:08*`.
    pub leser_pattern: String,
    /// Attempts in flight; `None` = the router default.
    pub concurrency: Option<usize>,
}

/// Everything a scenario varies.
#[derive(Debug, Clone)]
pub struct RouterSpec {
    pub public: SocketAddr,
    pub admin: SocketAddr,
    /// `[queue] min_free_disk` (router size syntax).
    pub min_free_disk: String,
    /// `[queue] max_pending_bytes_per_destination`.
    pub max_pending_per_destination: String,
    /// `[queue] sync_timeout`, when not the router's default.
    pub sync_timeout: Option<String>,
    /// `[delivery] timeout`.
    pub delivery_timeout: String,
    /// `[delivery.retry] min_delay` / `max_delay`.
    pub retry_min_delay: String,
    pub retry_max_delay: String,
    /// `[delivery.breaker] open_for` / `max_open_for`.
    pub breaker_open_for: String,
    pub breaker_max_open_for: String,
    pub destinations: Vec<DestSpec>,
}

impl RouterSpec {
    /// Defaults tuned for tests: fast retries (so redelivery after a restart is quick), many
    /// attempts (nothing may become a dead letter just because the router was killed often).
    pub fn new(public: SocketAddr, admin: SocketAddr, destinations: Vec<DestSpec>) -> Self {
        RouterSpec {
            public,
            admin,
            min_free_disk: "64MiB".into(),
            max_pending_per_destination: "4GiB".into(),
            sync_timeout: None,
            delivery_timeout: "5s".into(),
            retry_min_delay: "50ms".into(),
            retry_max_delay: "500ms".into(),
            breaker_open_for: "100ms".into(),
            breaker_max_open_for: "500ms".into(),
            destinations,
        }
    }

    /// The TOML file.
    pub fn to_toml(&self) -> String {
        let mut s = format!(
            r#"# Written by xoev-chaos for one scenario run.
[router]
id = "chaos.router.test"
data_dir = "data"

[public]
listen = "{public}"
cert = "pki/router.crt"
key = "pki/router.key"

[admin]
listen = "{admin}"

[queue]
min_free_disk = "{min_free}"
max_pending_bytes_per_destination = "{max_pending}"
{sync_timeout}
[delivery]
timeout = "{timeout}"
[delivery.retry]
min_delay = "{min_delay}"
max_delay = "{max_delay}"
max_attempts = 100000
max_age = "1d"
[delivery.breaker]
failure_threshold = 5
open_for = "{open_for}"
max_open_for = "{max_open_for}"

[[senders]]
id = "chaos-portal"
signing_certificates = ["pki/sample-portal-signing.crt"]
authors = ["psw:*"]
"#,
            public = self.public,
            admin = self.admin,
            min_free = self.min_free_disk,
            max_pending = self.max_pending_per_destination,
            sync_timeout = self
                .sync_timeout
                .as_ref()
                .map(|t| format!("sync_timeout = \"{t}\"\n"))
                .unwrap_or_default(),
            timeout = self.delivery_timeout,
            min_delay = self.retry_min_delay,
            max_delay = self.retry_max_delay,
            open_for = self.breaker_open_for,
            max_open_for = self.breaker_max_open_for,
        );
        for d in &self.destinations {
            let _ = write!(
                s,
                "\n[[destinations]]\nid = \"{}\"\nadapter = \"http\"\nurl = \"{}\"\n",
                d.id, d.url
            );
            if let Some(c) = d.concurrency {
                let _ = writeln!(s, "concurrency = {c}");
            }
        }
        for d in &self.destinations {
            let _ = write!(
                s,
                "\n[[routes]]\nleser = \"{}\"\ndestination = \"{}\"\n",
                d.leser_pattern, d.id
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_destinations_routes_and_limits_as_valid_toml() {
        let mut spec = RouterSpec::new(
            "127.0.0.1:1000".parse().unwrap(),
            "127.0.0.1:1001".parse().unwrap(),
            vec![
                DestSpec {
                    id: "a".into(),
                    url: "http://127.0.0.1:2000/inbox".into(),
                    leser_pattern: "ags:08*".into(),
                    concurrency: Some(1),
                },
                DestSpec {
                    id: "b".into(),
                    url: "http://127.0.0.1:2001/inbox".into(),
                    leser_pattern: "ags:09*".into(),
                    concurrency: None,
                },
            ],
        );
        assert!(
            !spec.to_toml().contains("sync_timeout"),
            "the router's default"
        );
        spec.min_free_disk = "1048576TiB".into();
        spec.sync_timeout = Some("2s".into());
        let v: toml::Value = toml::from_str(&spec.to_toml()).expect("valid TOML");
        assert_eq!(v["public"]["listen"].as_str(), Some("127.0.0.1:1000"));
        assert_eq!(v["queue"]["min_free_disk"].as_str(), Some("1048576TiB"));
        assert_eq!(v["queue"]["sync_timeout"].as_str(), Some("2s"));
        let dests = v["destinations"].as_array().unwrap();
        assert_eq!(dests.len(), 2);
        assert_eq!(dests[0]["concurrency"].as_integer(), Some(1));
        assert!(dests[1].get("concurrency").is_none());
        let routes = v["routes"].as_array().unwrap();
        assert_eq!(routes[1]["leser"].as_str(), Some("ags:09*"));
        assert_eq!(routes[1]["destination"].as_str(), Some("b"));
    }
}
