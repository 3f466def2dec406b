# wasmgate as a container, e.g. a Hugging Face Space with the Docker SDK
# (docs/deploy.md). Every build step is in scripts/build-dist, which CI runs
# and tests (host/tests/deployment.rs); keep this file to copying its output.
#
#   docker build -t wasmgate .
#   docker run --rm -p 7860:7860 -e GEMINI_API_KEYS=key1,key2 -e API_KEY=sk-mine wasmgate

# ── build ─────────────────────────────────────────────────────────────────────
# Debian 12 (bookworm) to match the runtime's glibc below.
FROM rust:1.95-bookworm AS builder
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
# -> /dist/{wasmgate, plugins/*.wasm, cache/, plugins.toml}, the image's /app.
RUN scripts/build-dist /dist \
    && mkdir -p /home-skeleton/user/data

# ── runtime ───────────────────────────────────────────────────────────────────
# glibc and libgcc only, no shell, no package manager. TLS roots are bundled
# in the binary, so no CA store is needed.
FROM gcr.io/distroless/cc-debian12
# Read-only to the server: owned by root, it runs as uid 1000.
COPY --from=builder /dist /app
# The one writable place: ./data in the working directory, used for state
# unless HF persistent storage is mounted at /data.
COPY --from=builder --chown=1000:1000 /home-skeleton /home
ENV HOME=/home/user \
    PORT=7860 \
    WASMGATE_CONFIG=/app/plugins.toml \
    WASMGATE_PLUGINS_DIR=/app/plugins \
    WASMGATE_CACHE_DIR=/app/cache
WORKDIR /home/user
USER 1000
EXPOSE 7860
CMD ["/app/wasmgate"]
