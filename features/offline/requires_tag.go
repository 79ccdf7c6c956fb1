//go:build !duckdb_arrow

package offline

// The offline store needs DuckDB's Arrow interface, which duckdb-go builds only with the
// duckdb_arrow tag. The Makefile, CI and Dockerfile set it; by hand, build with
// `go build -tags duckdb_arrow ./...` (or export GOFLAGS=-tags=duckdb_arrow).
var _ = build_with_tag_duckdb_arrow_see_features_offline_requires_tag_go
