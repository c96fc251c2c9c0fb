#!/usr/bin/env bash
# Runs the standard load scenarios of issue 7 (router + mock authority + generator + ceilings)
# and prints one table. A benchmark, not a test: nothing is judged. Arguments go to
# `xoev-loadgen scenarios` (see load-tests/README.md), e.g. --full, --only 1,ceilings, --perf.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p xoev-routerd -p xoev-mock-authority -p xoev-loadgen
echo "load average before: $(cat /proc/loadavg)"
"$target/release/xoev-loadgen" scenarios --bin-dir "$target/release" --work "$target/loadgen" "$@"
echo "load average after: $(cat /proc/loadavg)"
