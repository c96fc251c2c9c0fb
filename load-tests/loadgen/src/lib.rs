//! Load tools for xoev-router (issue 7): a pre-signed corpus of XWasser messages, an HTTPS load
//! generator (HTTP/1.1 and HTTP/2, flat out or at a fixed rate with coordinated-omission
//! correction), the scenario runner with its table, the HTTP and crypto ceilings, and the CI
//! smoke run. The mock authority (`xoev-mock-authority`) keeps the end-to-end ledger.
//!
//! Layout: `template` + `spread` + `pki` → `corpus`; `client` + `stats` + `announce` →
//! `drive` → `report`; `procs` + `router_config` + `world` → `scenario` and `smoke`;
//! `ceiling` holds the two ceilings. See `load-tests/README.md` for use.
#![forbid(unsafe_code)]

pub mod announce;
pub mod ceiling;
pub mod client;
pub mod corpus;
pub mod cpu;
pub mod drive;
pub mod error;
pub mod http_util;
pub mod pki;
pub mod procs;
pub mod report;
pub mod router_config;
pub mod rss;
pub mod scenario;
pub mod smoke;
pub mod spread;
pub mod stats;
pub mod template;
pub mod units;
pub mod world;

pub use error::LoadgenError;
