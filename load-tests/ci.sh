#!/usr/bin/env bash
# Smoke run of the load-test tools, called by .ci/run. Proves the tools work; judges no timing.
#
# Builds the router, the mock authority and the load generator (debug profile, shared with the
# workspace tests), then runs `xoev-loadgen smoke`: a few hundred messages (2 KiB … 1 MiB,
# RSA-2048 and P-256, HTTP/1.1 and HTTP/2, flat out and at a fixed rate), tampered messages,
# an authority outage and a router restart with a backlog. It fails if any accepted message
# did not arrive at the mock authority byte-identical, or if a tampered one was accepted.
#
# Needs: a Rust toolchain and openssl (for the RSA-2048 test key; ring cannot generate RSA).
# SKIP_PLAIN_TESTS=1 skips `cargo test` of the two crates (.ci/run runs the workspace tests).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

if ! command -v openssl >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends openssl
fi

if [ -z "${SKIP_PLAIN_TESTS:-}" ]; then
  cargo test -p xoev-mock-authority -p xoev-loadgen
fi

cargo build -p xoev-routerd -p xoev-mock-authority -p xoev-loadgen
started=$(date +%s)
"$target/debug/xoev-loadgen" smoke --bin-dir "$target/debug" --work "$target/loadgen-smoke"
echo "load-tests smoke run took $(( $(date +%s) - started ))s"
