# The router as a container image: built on the Rust toolchain image, run on a slim Debian.
# `docker-compose up --build` (docker-compose.yml) builds and starts it; README, "Run it in a
# container". Both base images can be replaced (build arguments), e.g. by a local mirror.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# ring and jemalloc build C code: the toolchain image brings gcc and make.
RUN cargo build --release --locked -p xoev-routerd --bin xoev-router \
    && install -m 0755 target/release/xoev-router /usr/local/bin/xoev-router

FROM ${RUNTIME_IMAGE}
# An unprivileged user owns the data directory; a named volume mounted there inherits it.
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/xoev-router xoev \
    && mkdir -p /var/lib/xoev-router \
    && chown xoev:xoev /var/lib/xoev-router
COPY --from=build /usr/local/bin/xoev-router /usr/local/bin/xoev-router
USER xoev
WORKDIR /var/lib/xoev-router
VOLUME ["/var/lib/xoev-router"]
EXPOSE 8443
# Healthy while /readyz says ready (the admin API listens on the container's loopback).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD xoev-router status >/dev/null || exit 1
# SIGTERM is a graceful stop: requests and deliveries in flight finish, the queue is flushed.
STOPSIGNAL SIGTERM
ENTRYPOINT ["xoev-router"]
# The embedded development configuration, reachable from outside the container. Production:
# mount a configuration and run `serve --config /etc/xoev-router/router.toml --listen ...`.
CMD ["serve", "--data-dir", "/var/lib/xoev-router", "--listen", "0.0.0.0:8443"]
