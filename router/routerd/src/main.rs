#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    xoev_routerd::cli::run(xoev_routerd::cli::Cli::parse())
}
