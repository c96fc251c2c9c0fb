#!/usr/bin/env bash
# CI for xoev-xml and xoev-dsig. Run from anywhere: bash router/dsig/ci.sh
#  1. plain tests of both crates (no external tools needed);
#  2. the ignored tool-based tests: C14N equals `xmllint --c14n/--exc-c14n` byte for byte,
#     documents signed here verify with `xmlsec1 --verify` and with the JDK;
#  3. a short cargo-fuzz run of each target (parse, c14n, verify) on stable (`-s none`).
# Tools (Debian): xmlsec1, libxml2-utils, a JDK 17+ (openjdk-17-jdk-headless or
# default-jdk-headless), cargo-fuzz; missing ones are installed when running as root.
# FUZZ_SECONDS (default 60) sets the time per fuzz target; FUZZ_SECONDS=0 skips fuzzing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fuzz_seconds=${FUZZ_SECONDS:-60}

need=()
command -v xmlsec1 >/dev/null 2>&1 || need+=(xmlsec1)
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
if [ ${#need[@]} -gt 0 ] || ! command -v java >/dev/null 2>&1; then
  apt-get update -qq
  [ ${#need[@]} -gt 0 ] && apt-get install -y -qq "${need[@]}"
  if ! command -v java >/dev/null 2>&1; then
    apt-get install -y -qq openjdk-17-jdk-headless || apt-get install -y -qq default-jdk-headless
  fi
fi

cd "$root"
if [ "${SKIP_PLAIN_TESTS:-0}" != 1 ]; then
  echo "== plain tests"
  cargo test -p xoev-xml
  cargo test -p xoev-dsig
fi
echo "== xmllint / xmlsec1 / JDK"
cargo test -p xoev-dsig --test external -- --ignored --nocapture

if [ "$fuzz_seconds" != 0 ]; then
  echo "== fuzzing, ${fuzz_seconds}s per target"
  cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
  cd "$here/fuzz"
  for target in parse c14n verify; do
    corpus=$(mktemp -d)
    # The first directory collects new inputs; the others seed it (read only).
    cargo fuzz run -s none "$target" "$corpus" \
      "$here/tests/data/c14n-corpus" "$here/tests/data/interop" "$here/tests/data/fuzz-regressions" \
      -- -max_total_time="$fuzz_seconds" -timeout=10 -max_len=65536
    rm -rf "$corpus"
  done
  echo "fuzzing found no crash (a crash stops this script; keep its artifact in tests/data/fuzz-regressions/)"
fi
