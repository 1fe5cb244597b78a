# syntax=docker/dockerfile:1
#
# The kfp-gitops image: the `kfp-gitops` binary on a small Debian base with git (pipeline sources
# from git remotes), ssh (git over ssh) and CA certificates, running as a non-root user.
#
# Build:   docker build -t kfp-gitops:dev .
#          docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/kfp-gitops:VERSION --push .
# Run:     docker run --rm kfp-gitops:dev --help
#
# Deployed by deploy/kubernetes (the `watch` daemon), or used as a CI job container.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
# The cache mounts keep downloaded crates and build artefacts between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --package kfp-gitops \
    && install -D -m 0755 target/release/kfp-gitops /out/kfp-gitops

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# No apt version pins (hadolint DL3008): Debian's stable release replaces a package's version with
# each security update and drops the old one, so pinned versions would break the build within weeks.
# The release is pinned (DEBIAN_RELEASE); the image takes its current, patched packages.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends ca-certificates git openssh-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/kfp-gitops /usr/local/bin/kfp-gitops
# A fixed numeric user (no /etc/passwd entry needed): Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
ENV HOME=/tmp
WORKDIR /tmp
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/kfp-gitops"]
CMD ["--help"]
