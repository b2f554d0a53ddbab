# syntax=docker/dockerfile:1
# layoffwatch: one static binary; every component is a subcommand.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/layoffwatch ./cmd/layoffwatch

# distroless: no shell, non-root (uid 65532), CA certificates and tzdata included.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/layoffwatch /layoffwatch
USER nonroot:nonroot
ENTRYPOINT ["/layoffwatch"]
HEALTHCHECK --interval=10s --timeout=4s --retries=3 CMD ["/layoffwatch", "healthcheck"]
