# syntax=docker/dockerfile:1
#
# reftrail's images. One builder compiles every binary once; each service is a
# target of its own, holding that service and the health-check probe:
#
#   docker build --target ingest -t reftrail-ingest .   (likewise enrich, console, sink, notify)
#
# A target per service rather than one image with every binary: the
# entrypoint is fixed, so an image cannot be started as the wrong service and
# `docker run reftrail-sink` needs no command; BuildKit shares the builder
# stage, so the targets cost one compilation. Without --target, the last
# stage (sink) is built.
#
# The runtime is distroless static (CA certificates, tzdata, /etc/passwd, no
# shell): the binaries are static (CGO_ENABLED=0) and need nothing else.

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so that a source change reuses the downloaded modules.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# Cross-compiled on the build machine's platform for the target's, so a
# multi-platform build (--platform linux/amd64,linux/arm64) runs no emulated
# compiler.
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags='-s -w' -o /out/ ./ingest ./enrich ./console ./sink ./notify ./reftrailctl ./deploy/probe
# ingest's spool directory, owned by the nonroot user: a named volume mounted
# there copies this ownership, so ingest can write to it.
RUN mkdir -p /out/spool

FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/probe /probe
# nonroot by number: Kubernetes' runAsNonRoot can only verify a numeric user.
USER 65532:65532

FROM runtime AS ingest
COPY --from=build /out/ingest /ingest
COPY --from=build --chown=65532:65532 /out/spool /var/lib/reftrail/spool
EXPOSE 8080 9100
ENTRYPOINT ["/ingest"]

FROM runtime AS enrich
COPY --from=build /out/enrich /enrich
EXPOSE 9101
ENTRYPOINT ["/enrich"]

FROM runtime AS console
COPY --from=build /out/console /console
EXPOSE 8090
ENTRYPOINT ["/console"]

FROM runtime AS notify
COPY --from=build /out/notify /notify
EXPOSE 9104
ENTRYPOINT ["/notify"]

# The operator command, for `docker run --rm --env-file ... reftrail-reftrailctl erase ...`
# (docs/operations.md). Not a service: compose does not start it.
FROM runtime AS reftrailctl
COPY --from=build /out/reftrailctl /reftrailctl
ENTRYPOINT ["/reftrailctl"]

# sink stays the last stage: the one built without --target.
FROM runtime AS sink
COPY --from=build /out/sink /sink
EXPOSE 9102
ENTRYPOINT ["/sink"]
