#!/usr/bin/env bash
# Builds the image with docker-compose.yml, starts it, and checks the README's container
# flow: healthy, the signed sample answered 202 through the published port, delivered to the
# drop directory, a graceful stop (exit 0), and the message still known after a restart.
#
# Needs a running Docker daemon and docker-compose (1.29 or the v2 plugin). Not part of
# .ci/run: a fresh CI machine has neither a daemon nor a registry to pull the base images.
#
#   .ci/compose-check.sh               # base images from the registry
#   LOCAL_BASE=1 .ci/compose-check.sh  # no registry: builds local stand-ins first
#
# LOCAL_BASE=1 makes the two base images from what this machine has: Debian bookworm by
# debootstrap (from Debian's mirror) and the host's Rust toolchain on top of it, tagged
# xoev-local/debian:bookworm-slim and xoev-local/rust:1.95-bookworm.
set -euo pipefail
cd "$(dirname "$0")/.."

compose() {
    if docker compose version >/dev/null 2>&1; then
        docker compose -p xoev-compose-check "$@"
    else
        docker-compose -p xoev-compose-check "$@"
    fi
}

if [[ "${LOCAL_BASE:-0}" == 1 ]]; then
    work=$(mktemp -d /tmp/xoev-compose-base.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    if ! docker image inspect xoev-local/debian:bookworm-slim >/dev/null 2>&1; then
        debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
        tar -C "$work/rootfs" -c . | docker import - xoev-local/debian:bookworm-slim >/dev/null
    fi
    if ! docker image inspect xoev-local/rust:1.95-bookworm >/dev/null 2>&1; then
        toolchain=$(rustc --print sysroot)
        mkdir -p "$work/rust"
        cp -a "$toolchain" "$work/rust/toolchain"
        rm -rf "$work/rust/toolchain/share/doc"
        # This machine's trust store: a registry proxy here may present its own CA.
        cp /etc/ssl/certs/ca-certificates.crt "$work/rust/host-ca.crt"
        cat >"$work/rust/Dockerfile" <<'DOCKERFILE'
FROM xoev-local/debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY host-ca.crt /etc/ssl/certs/ca-certificates.crt
COPY toolchain /usr/local/rust
ENV PATH=/usr/local/rust/bin:$PATH
DOCKERFILE
        docker build -q -t xoev-local/rust:1.95-bookworm "$work/rust" >/dev/null
    fi
    export RUST_IMAGE=xoev-local/rust:1.95-bookworm RUNTIME_IMAGE=xoev-local/debian:bookworm-slim
fi

out=$(mktemp -d /tmp/xoev-compose-check.XXXXXX)
cleanup() {
    compose down -v >/dev/null 2>&1 || true
    rm -rf "$out"
}
trap 'cleanup; rm -rf "${work:-}"' EXIT

fail() {
    echo "compose-check: FAIL: $*" >&2
    compose logs --no-color router 2>&1 | tail -n 20 >&2 || true
    exit 1
}

echo "== build and start"
compose up -d --build
container=$(compose ps -q router)

# Waits up to 90 s for the container's health check to pass.
wait_healthy() {
    local health
    for _ in $(seq 1 90); do
        health=$(docker inspect --format '{{.State.Health.Status}}' "$container")
        [[ "$health" == healthy ]] && return 0
        sleep 1
    done
    fail "container health is '$health' after 90 s ($1)"
}

echo "== healthy (xoev-router status inside the container)"
wait_healthy "first start"

echo "== the README's flow from the host"
compose exec -T router cat /var/lib/xoev-router/pki/ca.crt >"$out/ca.crt"
compose exec -T router cat /var/lib/xoev-router/samples/sample-message.xml >"$out/sample.xml"
code=$(curl -sS -o "$out/answer.json" -w '%{http_code}' --cacert "$out/ca.crt" \
    -H 'Content-Type: application/xml' --data-binary @"$out/sample.xml" \
    https://127.0.0.1:8443/v1/messages || true)
[[ "$code" == 202 ]] || fail "POST answered $code: $(cat "$out/answer.json")"
id=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' "$out/answer.json")
[[ -n "$id" ]] || fail "no id in $(cat "$out/answer.json")"
for _ in $(seq 1 50); do
    state=$( (curl -sS --cacert "$out/ca.crt" "https://127.0.0.1:8443/v1/messages/$id" || true) |
        sed -n 's/.*"state": *"\([^"]*\)".*/\1/p' | head -n 1)
    [[ "$state" == delivered ]] && break
    sleep 0.2
done
[[ "$state" == delivered ]] || fail "message $id is '$state', not delivered"
compose exec -T router sh -c 'cat /var/lib/xoev-router/drop/sample-authority/*' >"$out/dropped" ||
    fail "the drop directory cannot be read"
grep -q "$id" "$out/dropped" || fail "the drop directory does not hold message $id"
echo "   202, delivered, in the drop directory: $id"

echo "== graceful stop, restart on the same volume"
compose stop router
exit_code=$(docker inspect --format '{{.State.ExitCode}}' "$container")
[[ "$exit_code" == 0 ]] || fail "the router exited $exit_code on SIGTERM"
compose start router
wait_healthy "after the restart"
again=$(curl -sS -o "$out/again.json" -w '%{http_code}' --cacert "$out/ca.crt" \
    -H 'Content-Type: application/xml' --data-binary @"$out/sample.xml" \
    https://127.0.0.1:8443/v1/messages || true)
grep -q '"duplicate": *true' "$out/again.json" ||
    fail "resubmission after the restart answered $again: $(cat "$out/again.json")"
echo "   exit 0; after the restart the resubmission is a duplicate ($again)"
echo "compose-check: PASS"
