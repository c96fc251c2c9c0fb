//! The router's configuration: one TOML file, or the embedded development default.
//!
//! Every field has a default that is safe for a development machine; `docs/configuration.md`
//! is the reference. Relative paths resolve against the config file's directory (for the
//! embedded default: against the data directory).

pub mod duration;
pub mod size;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The configuration the router runs with when no `--config` is given.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../assets/default-config.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("config {origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub router: RouterSection,
    #[serde(default)]
    pub public: PublicSection,
    #[serde(default)]
    pub admin: AdminSection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub queue: QueueSection,
    #[serde(default)]
    pub delivery: DeliverySection,
    #[serde(default)]
    pub schemas: SchemasSection,
    #[serde(default)]
    pub senders: Vec<SenderConfig>,
    #[serde(default)]
    pub destinations: Vec<DestinationConfig>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Routers of other states allowed to relay messages to this one.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    #[serde(default)]
    pub receipts: ReceiptsSection,
    #[serde(default)]
    pub federation: FederationSection,
    /// Where relative paths resolve from. Not part of the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Where this configuration came from, for messages ("embedded default" or a path).
    #[serde(skip)]
    pub origin: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterSection {
    /// This router's identity: in receipts, delivery headers and federation traces.
    pub id: String,
    /// Queue, PKI and file drops live here. Created on first start.
    pub data_dir: PathBuf,
    /// Generate a development PKI (router TLS certificate, sample portal and authority keys)
    /// into `<data_dir>/pki` when the configured files are missing. Never enable in production.
    pub dev_pki: bool,
}

impl Default for RouterSection {
    fn default() -> Self {
        RouterSection {
            id: "xoev-router.local".into(),
            data_dir: "xoev-data".into(),
            dev_pki: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// No client certificates; the XML signature alone identifies the sender.
    None,
    /// Client certificates are verified when presented.
    Optional,
    /// Every connection must present a client certificate that chains to `client_ca`.
    Required,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicSection {
    pub listen: SocketAddr,
    /// PEM certificate chain of the public listener (leaf first).
    pub cert: PathBuf,
    /// PEM PKCS#8 private key of the public listener.
    pub key: PathBuf,
    pub client_auth: ClientAuth,
    /// PEM CA certificates that client certificates must chain to (mutual TLS).
    pub client_ca: Vec<PathBuf>,
    /// Upper bound for reading one request (slow clients are cut off).
    #[serde(deserialize_with = "duration::deserialize")]
    pub request_timeout: Duration,
    /// TLS handshake deadline per connection.
    #[serde(deserialize_with = "duration::deserialize")]
    pub handshake_timeout: Duration,
    /// Open connections beyond this wait in the kernel's accept backlog.
    pub max_connections: usize,
}

impl Default for PublicSection {
    fn default() -> Self {
        PublicSection {
            listen: "127.0.0.1:8443".parse().expect("static address"),
            cert: "pki/router.crt".into(),
            key: "pki/router.key".into(),
            client_auth: ClientAuth::None,
            client_ca: Vec::new(),
            request_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 4096,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Plain HTTP, so it must be a loopback address.
    pub listen: SocketAddr,
}

impl Default for AdminSection {
    fn default() -> Self {
        AdminSection {
            listen: "127.0.0.1:9464".parse().expect("static address"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Largest accepted message body.
    #[serde(deserialize_with = "size::deserialize")]
    pub max_body_bytes: u64,
    pub max_depth: usize,
    pub max_attributes: usize,
    pub max_name_len: usize,
    #[serde(deserialize_with = "size::deserialize")]
    pub max_text_len: u64,
    pub max_nodes: usize,
    /// Messages whose `erstellungszeitpunkt` is older are refused (`stale-message`): beyond the
    /// deduplication window a replayed message could not be recognised. At most
    /// `queue.record_retention`.
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_message_age: Duration,
    /// Messages dated further in the future are refused (clock skew; XÖV timestamps without
    /// offset are read as UTC, so local German time is up to 2 h ahead).
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_future_skew: Duration,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_body_bytes: 16 << 20,
            max_depth: 64,
            max_attributes: 64,
            max_name_len: 256,
            max_text_len: 16 << 20,
            max_nodes: 1_000_000,
            max_message_age: Duration::from_secs(30 * 86400),
            max_future_skew: Duration::from_secs(86400),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSection {
    /// Refuse new messages (503 storage-unavailable) below this much free disk.
    #[serde(deserialize_with = "size::deserialize")]
    pub min_free_disk: u64,
    /// Refuse new messages for a destination (503 overloaded) beyond this many pending bytes.
    #[serde(deserialize_with = "size::deserialize")]
    pub max_pending_bytes_per_destination: u64,
    /// Payloads of delivered messages are kept this long, then purged.
    #[serde(deserialize_with = "duration::deserialize")]
    pub payload_retention: Duration,
    /// Metadata (status, receipt, deduplication) of delivered messages is kept this long.
    #[serde(deserialize_with = "duration::deserialize")]
    pub record_retention: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub purge_interval: Duration,
    /// Memory sled may use for its page cache. Bounds the router's memory under a large
    /// backlog (the payloads themselves live on disk). 32 MiB: the 1,000,000 backlog peaked
    /// at 265 MiB instead of 297 and drained no slower (docs/benchmarks.md, round 19).
    #[serde(deserialize_with = "size::deserialize")]
    pub cache_size: u64,
    /// How long the queue's writer may hold a small round open for more operations while the
    /// router is busy (fewer, larger transactions; docs/queue.md §14). `0ms` turns it off.
    #[serde(deserialize_with = "duration::deserialize")]
    pub round_linger: Duration,
    /// How long a request waits for the queue's disk to confirm a write. Past it the request
    /// gets 503 storage-unavailable, and while a sync has been running this long the router
    /// reports not ready and refuses new messages (docs/queue.md §5.7).
    #[serde(deserialize_with = "duration::deserialize")]
    pub sync_timeout: Duration,
}

/// A sync timeout below this would take an ordinary slow `fsync` for a hung disk.
const MIN_SYNC_TIMEOUT: Duration = Duration::from_secs(1);

/// A linger above this would make every enqueue and lease wait noticeably.
const MAX_ROUND_LINGER: Duration = Duration::from_millis(100);

impl Default for QueueSection {
    fn default() -> Self {
        QueueSection {
            min_free_disk: 256 << 20,
            max_pending_bytes_per_destination: 4 << 30,
            payload_retention: Duration::from_secs(30 * 86400),
            record_retention: Duration::from_secs(30 * 86400),
            purge_interval: Duration::from_secs(600),
            cache_size: 32 << 20,
            round_linger: Duration::from_millis(1),
            sync_timeout: Duration::from_secs(20),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySection {
    /// Deadline of one delivery attempt.
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    /// Concurrent attempts per destination.
    pub concurrency: usize,
    pub retry: RetryConfig,
    pub breaker: BreakerConfig,
    /// At shutdown, attempts in flight get this long to finish; the rest are released back to
    /// the queue (the attempt does not count).
    #[serde(deserialize_with = "duration::deserialize")]
    pub shutdown_grace: Duration,
}

impl Default for DeliverySection {
    fn default() -> Self {
        DeliverySection {
            timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            concurrency: 8,
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    #[serde(deserialize_with = "duration::deserialize")]
    pub min_delay: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_delay: Duration,
    /// Attempts in total (the first one included) before a message goes to the dead letters.
    pub max_attempts: u32,
    /// A message older than this goes to the dead letters instead of being retried.
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_age: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            max_attempts: 50,
            max_age: Duration::from_secs(7 * 86400),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open the circuit.
    pub failure_threshold: u32,
    /// How long an open circuit waits before one probe attempt; doubles while probes fail.
    #[serde(deserialize_with = "duration::deserialize")]
    pub open_for: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_for: Duration::from_secs(5),
            max_open_for: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemasSection {
    /// The message-type catalogue (`schemas/catalogue.toml`). When empty, the schemas built
    /// into the binary are written to `<data_dir>/schemas` and used.
    pub catalogue: Option<PathBuf>,
}

#[allow(clippy::derivable_impls)]
impl Default for SchemasSection {
    fn default() -> Self {
        SchemasSection { catalogue: None }
    }
}

/// A portal (or other sending system) and what it may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderConfig {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// PEM certificates whose keys sign this sender's messages (pinned, exact match).
    #[serde(default)]
    pub signing_certificates: Vec<PathBuf>,
    /// PEM CA certificates: any valid certificate issued under one of them signs for this sender.
    #[serde(default)]
    pub signing_ca: Vec<PathBuf>,
    /// PEM TLS client certificates of this sender (pinned), checked when mutual TLS is on.
    #[serde(default)]
    pub tls_certificates: Vec<PathBuf>,
    /// `autor` kennung patterns this sender may use (`psw:*`, `ags:08111000`, `*`).
    pub authors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterKind {
    Http,
    File,
    Mailbox,
    Peer,
}

impl AdapterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterKind::Http => "http",
            AdapterKind::File => "file",
            AdapterKind::Mailbox => "mailbox",
            AdapterKind::Peer => "peer",
        }
    }
}

/// Another state's router that may relay messages to this one over mutual TLS. Its TLS
/// client certificate identifies it; the messages it relays are still verified against this
/// router's sender registry (the original portal signature travels unchanged).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's `router.id`.
    pub id: String,
    /// PEM TLS client certificates the peer connects with (pinned).
    pub tls_certificates: Vec<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiptsSection {
    /// PKCS#8 key that signs receipts (Laufzettel).
    pub key: PathBuf,
    /// Its certificate, put into each receipt's KeyInfo.
    pub cert: PathBuf,
}

impl Default for ReceiptsSection {
    fn default() -> Self {
        ReceiptsSection {
            key: "pki/router-receipts.key".into(),
            cert: "pki/router-receipts.crt".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationSection {
    /// Routers a message may pass before it is refused (`loop-detected`).
    pub max_hops: usize,
}

impl Default for FederationSection {
    fn default() -> Self {
        FederationSection { max_hops: 8 }
    }
}

/// A place messages are delivered to. Which fields apply depends on `adapter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    pub id: String,
    pub adapter: AdapterKind,
    /// http, peer: the endpoint (`https://host/path`; for a peer router its base URL).
    #[serde(default)]
    pub url: Option<String>,
    /// http, peer: PEM CA certificates to trust for the endpoint (pinned CA). Required for https.
    #[serde(default)]
    pub ca: Vec<PathBuf>,
    /// http, peer: client certificate chain and key for mutual TLS.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// file: the drop directory.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// mailbox: the kennung of the authority that owns the mailbox (its address in the API).
    #[serde(default)]
    pub kennung: Option<String>,
    /// mailbox: PEM TLS client certificates of the authority that owns the mailbox.
    #[serde(default)]
    pub owner_certificates: Vec<PathBuf>,
    /// mailbox: SHA-256 (hex) of a bearer token the owner may use instead of mutual TLS.
    #[serde(default)]
    pub owner_token_sha256: Option<String>,
    /// mailbox: how long a fetched but unclosed message stays invisible.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub visibility_timeout: Option<Duration>,
    /// Overrides of the `[delivery]` defaults.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub concurrency: Option<usize>,
    #[serde(default)]
    pub retry: Option<RetryConfig>,
}

/// One directory entry: `(leser, nachrichtentyp)` → destination.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Kennung pattern: exact (`ags:08111000`), prefix (`ags:08*`) or default (`*`).
    pub leser: String,
    /// A nachrichtentyp code, or absent/`*` for every type.
    #[serde(default)]
    pub nachrichtentyp: Option<String>,
    pub destination: String,
}

impl Config {
    /// Parses TOML. `base_dir` is where relative paths resolve from.
    pub fn from_toml(text: &str, origin: &str, base_dir: PathBuf) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: one_line(&e.to_string()),
        })?;
        config.origin = origin.to_owned();
        config.base_dir = base_dir;
        config.check()?;
        Ok(config)
    }

    /// Reads a config file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Config::from_toml(&text, &path.display().to_string(), base)
    }

    /// The embedded development configuration; paths resolve inside the data directory.
    pub fn embedded(data_dir: Option<&Path>) -> Result<Config, ConfigError> {
        let mut c = Config::from_toml(EMBEDDED_DEFAULT, "embedded default", PathBuf::new())?;
        if let Some(d) = data_dir {
            c.router.data_dir = d.to_owned();
        }
        c.base_dir = c.router.data_dir.clone();
        Ok(c)
    }

    /// A path from the config, resolved against `base_dir`.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }

    pub fn invalid(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.clone(),
            message: message.into(),
        }
    }

    /// Checks that need no files: listener rules, ids, adapter fields. The directory and the
    /// sender registry check the rest when they are built.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if !self.admin.listen.ip().is_loopback() {
            return Err(self.invalid(format!(
                "admin.listen {} is not a loopback address; the admin API is plain HTTP and must stay on the machine",
                self.admin.listen
            )));
        }
        if self.router.id.trim().is_empty() || self.router.id.contains(char::is_whitespace) {
            return Err(self.invalid("router.id must be non-empty without whitespace"));
        }
        if self.limits.max_message_age > self.queue.record_retention {
            return Err(self.invalid(format!(
                "limits.max_message_age ({} s) exceeds queue.record_retention ({} s): replays older than the retention could not be recognised",
                self.limits.max_message_age.as_secs(),
                self.queue.record_retention.as_secs()
            )));
        }
        if self.queue.round_linger > MAX_ROUND_LINGER {
            return Err(self.invalid(format!(
                "queue.round_linger ({} ms) is above {} ms: every state change could wait that long",
                self.queue.round_linger.as_millis(),
                MAX_ROUND_LINGER.as_millis()
            )));
        }
        if self.queue.sync_timeout < MIN_SYNC_TIMEOUT {
            return Err(self.invalid(format!(
                "queue.sync_timeout ({} ms) is below {} ms: a busy but healthy disk would be taken for a hung one",
                self.queue.sync_timeout.as_millis(),
                MIN_SYNC_TIMEOUT.as_millis()
            )));
        }
        if self.public.client_auth != ClientAuth::None && self.public.client_ca.is_empty() {
            return Err(self.invalid(
                "public.client_auth needs public.client_ca (the CAs client certificates chain to)",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.senders {
            if !seen.insert(("sender", s.id.as_str())) {
                return Err(self.invalid(format!("sender '{}' is defined twice", s.id)));
            }
            if s.signing_certificates.is_empty() && s.signing_ca.is_empty() {
                return Err(self.invalid(format!(
                    "sender '{}' has neither signing_certificates nor signing_ca",
                    s.id
                )));
            }
        }
        for p in &self.peers {
            if !seen.insert(("peer", p.id.as_str())) {
                return Err(self.invalid(format!("peer '{}' is defined twice", p.id)));
            }
            if p.id == self.router.id {
                return Err(self.invalid(format!("peer '{}' has this router's own id", p.id)));
            }
        }
        let mut mailboxes = std::collections::HashSet::new();
        for d in self
            .destinations
            .iter()
            .filter(|d| d.adapter == AdapterKind::Mailbox)
        {
            if let Some(k) = &d.kennung
                && !mailboxes.insert(k.as_str())
            {
                return Err(self.invalid(format!("two mailboxes have kennung '{k}'")));
            }
        }
        for d in &self.destinations {
            if !seen.insert(("destination", d.id.as_str())) {
                return Err(self.invalid(format!("destination '{}' is defined twice", d.id)));
            }
            self.check_destination(d)?;
        }
        Ok(())
    }

    fn check_destination(&self, d: &DestinationConfig) -> Result<(), ConfigError> {
        let kind = d.adapter.as_str();
        let only = |field: &str, set: bool, allowed: &[AdapterKind]| {
            if set && !allowed.contains(&d.adapter) {
                Err(self.invalid(format!(
                    "destination '{}': `{field}` does not apply to adapter '{kind}'",
                    d.id
                )))
            } else {
                Ok(())
            }
        };
        use AdapterKind::*;
        only("url", d.url.is_some(), &[Http, Peer])?;
        only("ca", !d.ca.is_empty(), &[Http, Peer])?;
        only("client_cert", d.client_cert.is_some(), &[Http, Peer])?;
        only("client_key", d.client_key.is_some(), &[Http, Peer])?;
        only("dir", d.dir.is_some(), &[File])?;
        only(
            "owner_certificates",
            !d.owner_certificates.is_empty(),
            &[Mailbox],
        )?;
        only(
            "owner_token_sha256",
            d.owner_token_sha256.is_some(),
            &[Mailbox],
        )?;
        only(
            "visibility_timeout",
            d.visibility_timeout.is_some(),
            &[Mailbox],
        )?;
        let need = |field: &str, set: bool| {
            if set {
                Ok(())
            } else {
                Err(self.invalid(format!(
                    "destination '{}': adapter '{kind}' needs `{field}`",
                    d.id
                )))
            }
        };
        match d.adapter {
            Http | Peer => {
                need("url", d.url.is_some())?;
                if d.client_cert.is_some() != d.client_key.is_some() {
                    return Err(self.invalid(format!(
                        "destination '{}': client_cert and client_key go together",
                        d.id
                    )));
                }
            }
            File => need("dir", d.dir.is_some())?,
            Mailbox => {
                need("kennung", d.kennung.is_some())?;
                need(
                    "owner_certificates or owner_token_sha256",
                    !d.owner_certificates.is_empty() || d.owner_token_sha256.is_some(),
                )?;
                if let Some(k) = &d.kennung {
                    xoev_core::Kennung::parse(k).map_err(|e| {
                        self.invalid(format!("destination '{}': kennung: {e}", d.id))
                    })?;
                }
                if let Some(h) = &d.owner_token_sha256
                    && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    return Err(self.invalid(format!(
                        "destination '{}': owner_token_sha256 must be 64 hex digits",
                        d.id
                    )));
                }
            }
        }
        Ok(())
    }

    /// The effective retry policy of a destination.
    pub fn retry_for(&self, d: &DestinationConfig) -> RetryConfig {
        d.retry
            .clone()
            .unwrap_or_else(|| self.delivery.retry.clone())
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, "test", PathBuf::from("/base"))
    }

    #[test]
    fn embedded_default_parses_and_resolves_into_the_data_dir() {
        let c = Config::embedded(Some(Path::new("/tmp/d"))).unwrap();
        assert!(c.router.dev_pki);
        assert_eq!(
            c.resolve(Path::new("pki/router.crt")),
            PathBuf::from("/tmp/d/pki/router.crt")
        );
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.public.listen.port(), 8443);
        assert_eq!(c.limits.max_body_bytes, 16 << 20);
    }

    #[test]
    fn rejects_unknown_keys_naming_them() {
        let e = parse("[public]\nlisten_on = \"1.2.3.4:1\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen_on"), "{e}");
    }

    #[test]
    fn rejects_admin_listener_off_loopback() {
        let e = parse("[admin]\nlisten = \"0.0.0.0:9464\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a loopback address"), "{e}");
    }

    #[test]
    fn rejects_adapter_fields_that_do_not_apply() {
        let e = parse(
            "[[destinations]]\nid = \"a\"\nadapter = \"file\"\ndir = \"x\"\nurl = \"https://x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("destination 'a': `url` does not apply to adapter 'file'"),
            "{e}"
        );
    }

    #[test]
    fn rejects_http_destination_without_url() {
        let e = parse("[[destinations]]\nid = \"a\"\nadapter = \"http\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("adapter 'http' needs `url`"), "{e}");
    }

    #[test]
    fn rejects_a_round_linger_above_100_ms_and_takes_one_below() {
        let e = parse("[queue]\nround_linger = \"1s\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("queue.round_linger (1000 ms) is above 100 ms"),
            "{e}"
        );
        match parse("[queue]\nround_linger = \"0ms\"\n") {
            Ok(c) => assert_eq!(c.queue.round_linger, Duration::ZERO),
            Err(e) => panic!("{e}"),
        }
        match parse("") {
            Ok(c) => assert_eq!(c.queue.round_linger, Duration::from_millis(1)),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn rejects_a_sync_timeout_below_one_second_and_defaults_to_twenty() {
        let e = parse("[queue]\nsync_timeout = \"500ms\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("queue.sync_timeout (500 ms) is below 1000 ms"),
            "{e}"
        );
        match parse("[queue]\nsync_timeout = \"2s\"\n") {
            Ok(c) => assert_eq!(c.queue.sync_timeout, Duration::from_secs(2)),
            Err(e) => panic!("{e}"),
        }
        match parse("") {
            Ok(c) => assert_eq!(c.queue.sync_timeout, Duration::from_secs(20)),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn rejects_a_message_age_beyond_the_deduplication_window() {
        let e = parse("[limits]\nmax_message_age = \"60d\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("exceeds queue.record_retention"), "{e}");
        assert!(
            parse("[limits]\nmax_message_age = \"60d\"\n[queue]\nrecord_retention = \"90d\"\n")
                .is_ok()
        );
    }

    #[test]
    fn rejects_mutual_tls_without_client_ca() {
        let e = parse("[public]\nclient_auth = \"required\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs public.client_ca"), "{e}");
    }

    #[test]
    fn reads_human_sizes_and_durations() {
        let c =
            parse("[limits]\nmax_body_bytes = \"1MiB\"\n[delivery]\ntimeout = \"5s\"\n").unwrap();
        assert_eq!(c.limits.max_body_bytes, 1 << 20);
        assert_eq!(c.delivery.timeout, Duration::from_secs(5));
    }
}
