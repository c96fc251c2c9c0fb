//! The two ceilings the router's rate is compared with: a minimal HTTPS server that reads and
//! discards the same bodies (HTTP ceiling), and raw ring signature verification with the same
//! key on the same cores (crypto ceiling).

pub mod crypto;
pub mod http;
