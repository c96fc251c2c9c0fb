//! Shared types of xoev-router: message identity, the XÖV header, the directory key syntax,
//! RFC 9457 problems, and the contract between the router and its delivery adapters.
//!
//! Nothing here does I/O. The router binary wires these types to the network and the queue;
//! adapters depend on this crate only.
#![forbid(unsafe_code)]

pub mod adapter;
pub mod header;
pub mod kennung;
pub mod problem;

pub use adapter::{Adapter, Delivered, Delivery, DeliveryError, FailureKind, Retry};
pub use header::Header;
pub use kennung::{Kennung, KennungError, KennungPattern};
pub use problem::{Problem, ProblemType};
