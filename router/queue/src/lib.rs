//! The durable message queue of xoev-router.
//!
//! [`MessageStore`] is the contract; `docs/queue.md` holds its invariants and on-disk format.
#![forbid(unsafe_code)]

mod api;

pub use api::*;
