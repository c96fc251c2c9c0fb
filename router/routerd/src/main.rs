#![forbid(unsafe_code)]

use clap::Parser;

/// Measured against glibc's malloc: about 30 % more messages/s flat out and 100 MiB less at a
/// 1,000,000-message drain (docs/benchmarks.md, "An allocator that gives memory back").
#[cfg(all(feature = "jemalloc", target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    xoev_routerd::cli::run(xoev_routerd::cli::Cli::parse())
}
