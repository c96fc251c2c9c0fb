#!/usr/bin/env bash
# CI for xoev-chaos: the router-level proofs of guaranteed delivery at their CI size.
# Run from anywhere: bash load-tests/chaos/ci.sh
#  1. plain tests of the harness (its verdict functions must catch loss, corruption, disorder);
#  2. builds the router and the harness (debug profile, one cargo invocation);
#  3. xoev-chaos ci: crash (CHAOS_KILLS SIGKILLs under load, default 20), outage,
#     disk-full and destination-limit, against the real binary on loopback ports.
#  4. where root and /dev/fuse exist: the power-cut disk's own tests, then power-loss
#     (CHAOS_CUTS cuts, default 10), fsync-error and fsync-hang on it. CHAOS_POWER_LOSS=1 makes them
#     required (fail without root or /dev/fuse), =0 skips them.
# Steps 1-3 need only the Rust toolchain and the `kill` command (procps); no root.
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
power_loss=${CHAOS_POWER_LOSS:-auto}
if [ "$power_loss" != 0 ]; then
  # Root and /dev/fuse are not enough in a container without CAP_SYS_ADMIN: try a mount.
  can_mount=0
  if [ -c /dev/fuse ] && [ "$(id -u)" = 0 ]; then
    probe=$(mktemp -d)
    if mount -t tmpfs -o size=1m none "$probe" 2>/dev/null; then can_mount=1; umount "$probe"; fi
    rmdir "$probe"
  fi
  if [ "$can_mount" = 1 ]; then
    # A harness that dies mid-run must not leave its mount behind.
    trap 'rc=$?; grep -o " [^ ]*xoev-chaos-[^ ]*/data fuse" /proc/mounts | while read -r m _; do umount -l "$m"; done || true; exit $rc' EXIT
    echo "== power loss: the power-cut disk itself"
    cargo test -p xoev-chaos --test powercut -- --ignored
    echo "== power loss: ${CHAOS_CUTS:-10} cuts under load"
    "$target/debug/xoev-chaos" --router "$target/debug/xoev-router" \
      --json "$target/chaos-power-loss.json" power-loss --cuts "${CHAOS_CUTS:-10}"
    echo "== fsync fails under load"
    "$target/debug/xoev-chaos" --router "$target/debug/xoev-router" \
      --json "$target/chaos-fsync-error.json" fsync-error
    echo "== fsync hangs under load"
    "$target/debug/xoev-chaos" --router "$target/debug/xoev-router" \
      --json "$target/chaos-fsync-hang.json" fsync-hang
  elif [ "$power_loss" = 1 ]; then
    echo "power loss: needs root, /dev/fuse and mount permission, and CHAOS_POWER_LOSS=1 requires it"; exit 1
  else
    echo "== power loss and fsync-error: NOT RUN on this machine (need root, /dev/fuse and mount permission)"
  fi
fi
if [ "${CHAOS_TMPFS:-0}" = 1 ]; then
  echo "== disk-full on a real tmpfs"
  "$target/debug/xoev-chaos" --router "$target/debug/xoev-router" disk-full --tmpfs
fi
