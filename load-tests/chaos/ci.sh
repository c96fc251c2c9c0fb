#!/usr/bin/env bash
# CI for xoev-chaos: the router-level proofs of guaranteed delivery at their CI size.
# Run from anywhere: bash load-tests/chaos/ci.sh
#  1. plain tests of the harness (its verdict functions must catch loss, corruption, disorder);
#  2. builds the router and the harness (debug profile, one cargo invocation);
#  3. xoev-chaos ci: crash (CHAOS_KILLS SIGKILLs under load, default 20), outage,
#     disk-full and destination-limit, against the real binary on loopback ports.
# Needs only the Rust toolchain and the `kill` command (procps, present on Debian); no root.
# CHAOS_TMPFS=1 (root with mount permission) also runs disk-full --tmpfs.
# Writes the reports to target/chaos-ci.json. A failing scenario keeps its work directory
# (router log, data, configs) under $TMPDIR and prints where.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
kills=${CHAOS_KILLS:-20}
cd "$root"

if [ "${SKIP_PLAIN_TESTS:-0}" != 1 ]; then
  echo "== plain tests"
  cargo test -p xoev-chaos
fi
echo "== build router and harness"
cargo build -p xoev-routerd -p xoev-chaos
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
echo "== scenarios (crash with $kills kills, outage, disk-full, destination-limit)"
"$target/debug/xoev-chaos" --router "$target/debug/xoev-router" \
  --json "$target/chaos-ci.json" ci --kills "$kills"
if [ "${CHAOS_TMPFS:-0}" = 1 ]; then
  echo "== disk-full on a real tmpfs"
  "$target/debug/xoev-chaos" --router "$target/debug/xoev-router" disk-full --tmpfs
fi
