#!/usr/bin/env bash
# CI for xoev-queue: needs nothing beyond the Rust toolchain (no external tools).
# Runs the plain suite, then longer runs of the crash test and the model test than
# `cargo test` does by default. Tunables (env): XOEV_QUEUE_CRASH_ROUNDS (default here 50),
# PROPTEST_CASES (default here 1000).
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo fmt -p xoev-queue -- --check
cargo clippy -p xoev-queue --all-targets -- -D warnings
cargo test -p xoev-queue

XOEV_QUEUE_CRASH_ROUNDS="${XOEV_QUEUE_CRASH_ROUNDS:-50}" \
  cargo test -p xoev-queue --test crash -- --nocapture
PROPTEST_CASES="${PROPTEST_CASES:-1000}" \
  cargo test -p xoev-queue --test model
