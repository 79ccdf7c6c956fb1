# Codexion image: multi-stage, runs as a non-root user. cgo and glibc are kept because the
# feature store uses DuckDB through cgo. Not built in CI yet (no Docker engine there).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=1 go build -trimpath -tags duckdb_arrow \
      -ldflags "-s -w -X github.com/codexion/codexion/platform/buildinfo.Version=${VERSION} -X github.com/codexion/codexion/platform/buildinfo.Commit=${COMMIT}" \
      -o /out/codexion ./cmd/codexion

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/codexion --create-home codexion
COPY --from=build /out/codexion /usr/local/bin/codexion
USER 10001:10001
WORKDIR /var/lib/codexion
ENV CODEXION_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/codexion"]
CMD ["serve"]
