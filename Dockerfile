# syntax=docker/dockerfile:1
#
# The analyzer image: the `image-factory` binary that the generated Kargo AnalysisTemplates run
# (dist/image-factory.k8s.yaml: `command: [image-factory]`, so the binary is on PATH) and that
# scheduled CI jobs can run (`image-factory check && image-factory reconcile`).
#
#   docker build -t ghcr.io/acme/image-factory:0.1.0 .
#
# The image is enrolled in the example factory (image-factory/images.yaml, `image-factory`), so
# the factory watches its own two base images below and rebuilds it when they update.

# --- build ---------------------------------------------------------------------------------
# The workspace's rust-version (Cargo.toml), on the same Debian release as the runtime stage so
# the binary links against the glibc it runs with.
FROM rust:1.89.0-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target directories are BuildKit cache mounts: a rebuild after a source
# change reuses the downloaded and compiled dependencies. The binary is copied out of the
# cached target directory, which is not part of the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p if-cli --bin image-factory \
    && install -D -m 0755 target/release/image-factory /out/image-factory

# --- runtime -------------------------------------------------------------------------------
# debian:bookworm-slim rather than distroless: if-git runs the `git` command for every push and
# for clones over HTTPS/SSH, and distroless images cannot hold git (no package manager, and git
# needs its helpers: git-remote-https, libcurl). Only git and CA certificates (registries,
# forges and git over HTTPS) are added; no recommended packages, apt lists removed.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 nonroot \
    && useradd --uid 65532 --gid 65532 --home-dir /home/nonroot --create-home \
       --shell /usr/sbin/nologin nonroot \
    && install -d -o 65532 -g 65532 /workspace

COPY --from=build /out/image-factory /usr/local/bin/image-factory

LABEL org.opencontainers.image.title="image-factory" \
      org.opencontainers.image.description="Keeps container images fresh: watches base images through Kargo and triggers delayed rebuilds" \
      org.opencontainers.image.source="https://github.com/acme/image-factory" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.vendor="acme"

# The same numeric user the Kargo pods run as (runAsUser/runAsGroup 65532, runAsNonRoot): a
# numeric USER lets Kubernetes verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
ENV HOME=/home/nonroot
WORKDIR /workspace
# Exec form: no shell between the container runtime and the binary (signals reach it).
ENTRYPOINT ["/usr/local/bin/image-factory"]
CMD ["--help"]
