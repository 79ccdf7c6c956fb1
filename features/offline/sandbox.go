//go:build duckdb_arrow

package offline

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Users write SQL that runs in this database (pipeline transforms, feature expressions) and
// name files it reads (file-source pipelines). Out of the box DuckDB reads and writes any
// file a query names, attaches other databases, installs extensions from the network and
// lets a query change its own settings. So every store is sandboxed before its first query:
// external access is off except for the folders listed below, extensions are neither
// installed nor loaded on demand, and the configuration is locked so no later statement can
// undo any of it. The checks in sqlcheck.go refuse user SQL that names any table but its
// own or any table function; this is the second wall behind them.

// Option configures Open.
type Option func(*options)

type options struct {
	fileRoots []string
}

// FileRoots lets the store read files under dirs: the folders file-source pipelines may
// name. Nothing outside them (and the store's exchange folder) can be read or written.
func FileRoots(dirs ...string) Option {
	return func(o *options) {
		for _, d := range dirs {
			if d = strings.TrimSpace(d); d != "" {
				o.fileRoots = append(o.fileRoots, d)
			}
		}
	}
}

// sandbox applies the settings, in the only order DuckDB accepts: the allowed folders while
// external access is still on, then external access off, then the lock.
func sandbox(ctx context.Context, db *sql.DB, dirs []string) error {
	quoted := make([]string, 0, len(dirs))
	for _, d := range dirs {
		abs, err := canonicalDir(d)
		if err != nil {
			return fmt.Errorf("offline store folder %s: %w", d, err)
		}
		quoted = append(quoted, "'"+strings.ReplaceAll(abs, "'", "''")+"'")
	}
	for _, stmt := range []string{
		// Naive TIMESTAMPs are UTC everywhere, whatever the machine's zone.
		"SET GLOBAL TimeZone = 'UTC'",
		"SET GLOBAL allowed_directories = [" + strings.Join(quoted, ", ") + "]",
		"SET GLOBAL enable_external_access = false",
		"SET GLOBAL autoinstall_known_extensions = false",
		"SET GLOBAL autoload_known_extensions = false",
		"SET GLOBAL allow_community_extensions = false",
		"SET GLOBAL lock_configuration = true",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sandbox the offline store (%s): %w", stmt, err)
		}
	}
	return nil
}

// canonicalDir makes dir absolute, resolves its symbolic links (when it exists) and ends it
// with a separator, so that /data/in allows /data/in/x but not /data/inbox.
func canonicalDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return strings.TrimSuffix(abs, string(filepath.Separator)) + string(filepath.Separator), nil
}

// exchangeDir is the folder beside a store's file where it stages files it reads or writes
// for a request (entity rows, training sets); an in-memory store gets a fresh one.
func exchangeDir(path string) (string, error) {
	if path == "" {
		return os.MkdirTemp("", "codexion-duckdb-exchange-")
	}
	dir := path + ".exchange"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("offline store exchange folder: %w", err)
	}
	return dir, nil
}

// Exchange is the folder where the store stages files for requests; make a fresh folder
// under it per request (os.MkdirTemp) and remove it afterwards.
func (s *Store) Exchange() string { return s.exchange }

// FileRoots lists the folders file sources may be read from.
func (s *Store) FileRoots() []string { return append([]string(nil), s.roots...) }

// CheckFileSource says whether pattern (a file or a glob a file source names) lies under
// one of the store's file roots, and returns it absolute and cleaned. Every file it matches
// is checked again when it is read (ReadableFile), since a link may point elsewhere.
func (s *Store) CheckFileSource(pattern string) (string, error) {
	if len(s.roots) == 0 {
		return "", fmt.Errorf("file sources are off: no file roots are configured (features.file_roots)")
	}
	abs, err := filepath.Abs(pattern)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(abs)
	// The folder part of a glob holds no pattern characters: resolve its links.
	if !strings.ContainsAny(dir, `*?[\`) {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			abs = filepath.Join(real, filepath.Base(abs))
		}
	}
	if s.underRoot(abs) {
		return abs, nil
	}
	return "", fmt.Errorf("%s is outside the file roots (%s); put the files under one of them", pattern, strings.Join(s.roots, ", "))
}

// ReadableFile resolves file (a match of a file source's glob) and refuses it unless the
// file it names, after links, lies under a file root.
func (s *Store) ReadableFile(file string) (string, error) {
	real, err := filepath.EvalSymlinks(file)
	if err != nil {
		return "", err
	}
	if real, err = filepath.Abs(real); err != nil {
		return "", err
	}
	if !s.underRoot(real) {
		return "", fmt.Errorf("%s leads outside the file roots (%s)", file, strings.Join(s.roots, ", "))
	}
	return real, nil
}

func (s *Store) underRoot(abs string) bool {
	for _, r := range s.roots {
		root, err := canonicalDir(r)
		if err == nil && strings.HasPrefix(abs, root) {
			return true
		}
	}
	return false
}
