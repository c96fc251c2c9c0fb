//! HTTP: the accept loop, the public API and the admin API.

pub mod admin;
pub mod public;
pub mod response;
pub mod server;
