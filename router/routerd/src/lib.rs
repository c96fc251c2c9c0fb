//! xoev-router: the interstate secure message router for signed XÖV messages.
//!
//! Portals POST signed XML; the router checks it (safe XML, XML signature, signer, author,
//! schema), routes it through a DVDV-like directory, stores it durably before answering 202,
//! and delivers it through adapters with retries, dead letters and receipts.
//! `docs/architecture.md` describes the pieces and how they fit.
#![forbid(unsafe_code)]

pub mod adapters;
pub mod app;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod directory;
pub mod http;
pub mod ingress;
pub mod metrics;
pub mod pki;
pub mod receipt;
pub mod runtime;
pub mod senders;
pub mod serve;
pub mod stall;
pub mod status;
pub mod tls;

pub use serve::{Listeners, Prepared, Router, StartError, prepare, start};
