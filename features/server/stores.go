package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/features/online"
)

// FileStores opens the offline store from a DuckDB file and the online store embedded
// (bbolt) or in Redis.
type FileStores struct {
	OfflinePath string
	FileRoots   []string // where file-source pipelines may read
	Online      string   // "redis" or embedded
	OnlinePath  string
	RedisURL    string
}

// Open opens both stores; on failure nothing stays open.
func (f FileStores) Open(ctx context.Context) (*offline.Store, online.Store, error) {
	if err := os.MkdirAll(filepath.Dir(f.OfflinePath), 0o755); err != nil {
		return nil, nil, err
	}
	off, err := offline.Open(ctx, f.OfflinePath, offline.FileRoots(f.FileRoots...))
	if err != nil {
		return nil, nil, fmt.Errorf("features.offline_path: %w (is another Codexion process using it?)", err)
	}
	var on online.Store
	if f.Online == "redis" {
		on, err = online.OpenRedis(ctx, f.RedisURL)
	} else {
		on, err = online.OpenBolt(f.OnlinePath)
	}
	if err != nil {
		off.Close() //nolint:errcheck // not used yet
		return nil, nil, err
	}
	return off, on, nil
}
