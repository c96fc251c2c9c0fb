#!/usr/bin/env bash
# What an idle router costs with many destinations: starts each given router binary on a
# configuration with N file-drop destinations (no traffic), waits 2 s after ready, and reports
# the CPU share of one core over S seconds (utime + stime from /proc) and the workers' empty
# leases. Binaries alternate, ROUNDS times. Needs curl and bc; uses ports 18443 and 19464.
#   load-tests/idle-destinations.sh [-n 1000] [-s 20] [-r 3] BIN...
set -euo pipefail
n=1000 secs=20 rounds=3
while getopts "n:s:r:" o; do
  case $o in n) n=$OPTARG ;; s) secs=$OPTARG ;; r) rounds=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-n destinations] [-s seconds] [-r rounds] BIN..." >&2; exit 2; }
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
"$1" certs --out "$work/pki" --router-id localhost >/dev/null
{
  printf '[router]\nid = "idle.test"\ndata_dir = "data"\n\n'
  printf '[public]\nlisten = "127.0.0.1:18443"\ncert = "pki/router.crt"\nkey = "pki/router.key"\n\n'
  printf '[admin]\nlisten = "127.0.0.1:19464"\n\n'
  printf '[receipts]\nkey = "pki/router-receipts.key"\ncert = "pki/router-receipts.crt"\n\n'
  for i in $(seq 0 $((n - 1))); do
    printf '[[destinations]]\nid = "d%d"\nadapter = "file"\ndir = "drop/d%d"\n\n' "$i" "$i"
    printf '[[routes]]\nleser = "ags:%06d*"\ndestination = "d%d"\n\n' "$i" "$i"
  done
} >"$work/router.toml"
hz=$(getconf CLK_TCK)
for _ in $(seq 1 "$rounds"); do
  for bin in "$@"; do
    rm -rf "$work/data"
    "$bin" serve --config "$work/router.toml" >"$work/router.log" 2>&1 &
    pid=$!
    ready=0
    for _ in $(seq 1 300); do
      if curl -sf http://127.0.0.1:19464/readyz >/dev/null; then ready=1; break; fi
      sleep 0.1
    done
    if [ "$ready" != 1 ]; then
      echo "$bin: not ready within 30 s; its log:" >&2
      tail -20 "$work/router.log" >&2
      exit 1
    fi
    sleep 2
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    sleep "$secs"
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    empty=$(curl -s http://127.0.0.1:19464/metrics |
      awk '/^xoev_router_delivery_leases_total/ && /outcome="empty"/ {s += $2} END {print s + 0}')
    kill -TERM "$pid"
    wait "$pid" || true
    pid=
    echo "$bin: $n destinations, ${secs} s idle: cpu $(echo "scale=2; ($t1 - $t0) * 100 / $hz / $secs" | bc) % of a core, empty leases since start $empty"
  done
done
