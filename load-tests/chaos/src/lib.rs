//! Router-level proofs of guaranteed delivery against the real `xoev-router` binary.
//!
//! Each scenario starts the router as a child process on loopback ports with its own data
//! directory and development PKI, runs mock authorities in this process, drives the router with
//! pre-signed XWasser messages over HTTPS, breaks something (SIGKILL, a power cut or failing
//! `fsync` on a FUSE disk, an authority outage, a full disk, a full destination queue) and then
//! checks, message by message, that every `202` ended in exactly the delivery it promised.
//!
//! Invariants the harness itself keeps, so a pass means something:
//! - a message counts as accepted only when its `202` answer arrived and named its id; a
//!   request that failed at the transport level is *in doubt* and is resubmitted with the same
//!   bytes until it gets a definite answer;
//! - every check compares against what the harness sent (SHA-256 of the exact bytes), never
//!   against what the router says about itself; the router's status API is checked in addition;
//! - each scenario returns its findings; any finding fails the run (exit status 1).
#![forbid(unsafe_code)]

pub mod checks;
pub mod client;
pub mod config;
pub mod corpus;
pub mod error;
pub mod ledger;
pub mod load;
pub mod locate;
pub mod powercut;
pub mod proc_status;
pub mod report;
pub mod router;
pub mod scenario;
pub mod world;

pub use error::ChaosError;
