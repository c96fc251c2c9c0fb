//! Integration tests: the router really started on loopback, with real peers.
//! One test binary (modules below) keeps link time down.

mod cli;
mod common;
mod end_to_end;
mod example_config;
mod federation;
mod mailbox;
mod mtls;
mod quarantine;
mod receipts;
mod rejections;
mod shutdown;
