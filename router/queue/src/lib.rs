//! The durable message queue of xoev-router.
//!
//! [`MessageStore`] is the contract; [`SledStore`] implements it on sled. `docs/queue.md` holds
//! the invariants, the on-disk format and the durability argument; code and document change
//! together.
#![forbid(unsafe_code)]

mod api;
mod sled_store;

pub use api::*;
pub use sled_store::{ConsistencyReport, OpenReport, QuarantineEntry, SledConfig, SledStore};
