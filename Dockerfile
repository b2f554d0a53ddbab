# syntax=docker/dockerfile:1
# layoffwatch: one static binary; every component is a subcommand.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# What `layoffwatch --version` and layoffwatch_build_info say (.git is not
# in the build context): docker-compose passes LAYOFFWATCH_VERSION and
# LAYOFFWATCH_REVISION, e.g. LAYOFFWATCH_REVISION=$(git rev-parse HEAD).
ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" -o /out/layoffwatch ./cmd/layoffwatch \
 && mkdir -p /out/state

# distroless: no shell, non-root (uid 65532), CA certificates and tzdata included.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/layoffwatch /layoffwatch
# A working directory the nonroot user owns (there is no shell to mkdir one):
# a named volume mounted here starts with this owner, so one-shot commands
# such as `simulate --out=...` can write into it.
COPY --from=build --chown=65532:65532 /out/state /var/lib/layoffwatch
WORKDIR /var/lib/layoffwatch
USER nonroot:nonroot
ENTRYPOINT ["/layoffwatch"]
# Checks ingest's readiness on its default metrics address (ClickHouse and
# Kafka reachable); docker-compose.yml gives every other component its own
# URL (`layoffwatch healthcheck http://127.0.0.1:9102/readyz`). A failing
# check names the dependency in the container's health log.
HEALTHCHECK --interval=10s --timeout=4s --retries=3 CMD ["/layoffwatch", "healthcheck"]
