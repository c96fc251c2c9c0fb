#![forbid(unsafe_code)]

use clap::Parser;

/// glibc's malloc keeps the memory the queue's churn fragments (about 100 MiB while draining
/// 1,000,000 messages, docs/benchmarks.md "An allocator that gives memory back"); jemalloc
/// does not.
#[cfg(all(feature = "jemalloc", target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    xoev_routerd::cli::run(xoev_routerd::cli::Cli::parse())
}
