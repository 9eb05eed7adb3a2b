# Build: docker build -t crier .
# Run:   docker run -v crier-data:/data -p 8080:8080 -e MASTODON_TOKEN=... crier
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# modernc.org/sqlite is pure Go, so the binary is fully static.
# `docker build --build-arg VERSION=v1.2.3 .` names the build in `crier --version`.
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/crier ./cmd/crier && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/crier /usr/local/bin/crier
COPY config.yaml /app/config.yaml
COPY posts /app/posts
COPY feeds /app/feeds
# The database, the outbox and generated keys live here, owned by the
# non-root user so a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME /data
ENV CRIER_CONFIG=/app/config.yaml CRIER_DATA_DIR=/data CRIER_LISTEN=0.0.0.0:8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/crier"]
# CRIER_DATA_DIR and CRIER_LISTEN (above) point the shipped config at the volume and all interfaces.
CMD ["run"]
