package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/platform"
)

// MaxArtifactBytes bounds one artifact upload: the artifact routes carry this bound in
// place of the server's JSON body bound.
const MaxArtifactBytes = 2 << 30

// FileInfo is an entry of an artifact listing, as MLflow answers it.
type FileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize int64  `json:"file_size,omitempty"`
}

// Artifact is a stored artifact's record: what it held when it was stored.
type Artifact struct {
	Path      string
	SHA256    string
	SizeBytes int64
}

// immutable reports whether the artifact at p belongs to a registered model version or a
// finalized logged model: those bytes are what a version was registered with, and
// replacing them would change a model behind its version number.
func (s *Store) immutable(ctx context.Context, p string) (bool, error) {
	uri := ArtifactScheme + "/" + p
	var frozen bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM models_versions WHERE deleted_time_ms IS NULL AND storage_location LIKE 'mlflow-artifacts:%'
			AND ($1 = storage_location OR starts_with($1, storage_location || '/')))
		OR EXISTS (SELECT 1 FROM models_logged_models WHERE status = 'LOGGED_MODEL_READY' AND starts_with($1, artifact_location || '/'))`, uri).Scan(&frozen)
	return frozen, err
}

// PutArtifact stores the bytes of r at p (relative to the artifact root), recording their
// digest. Storing the same bytes again is a no-op answer, so a retried upload is safe;
// other bytes at a path that a registered version or finalized logged model holds are refused.
func (s *Store) PutArtifact(ctx context.Context, p string, r io.Reader, sizeBytes int64, contentType string) (Artifact, error) {
	key, err := artifactKey(p)
	if err != nil {
		return Artifact{}, err
	}
	rel := strings.TrimPrefix(key, artifactPrefix)
	frozen, err := s.immutable(ctx, rel)
	if err != nil {
		return Artifact{}, err
	}
	if frozen {
		// The same bytes again (a retry) are accepted without touching storage.
		h := sha256.New()
		n, err := io.Copy(h, r)
		if err != nil {
			return Artifact{}, fmt.Errorf("read artifact %s: %w", rel, err)
		}
		var rec Artifact
		err = s.db.QueryRow(ctx, `SELECT path, sha256, size_bytes FROM models_artifacts WHERE path = $1`, rel).Scan(&rec.Path, &rec.SHA256, &rec.SizeBytes)
		if err == nil && rec.SHA256 == hex.EncodeToString(h.Sum(nil)) && rec.SizeBytes == n {
			return rec, nil
		}
		return Artifact{}, CodeArtifactFrozen.New("artifact %s belongs to a registered model version or a finalized logged model; its bytes cannot change (log a new model instead)", rel)
	}
	stored, err := s.objects.PutHashed(ctx, key, r, sizeBytes, contentType)
	if err != nil {
		return Artifact{}, err
	}
	a := Artifact{Path: rel, SHA256: stored.SHA256, SizeBytes: stored.SizeBytes}
	if _, err := s.db.Exec(ctx, `INSERT INTO models_artifacts (path, sha256, size_bytes, stored_time_ms) VALUES ($1, $2, $3, $4)
		ON CONFLICT (path) DO UPDATE SET sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes, stored_time_ms = EXCLUDED.stored_time_ms`,
		a.Path, a.SHA256, a.SizeBytes, s.nowMS()); err != nil {
		return Artifact{}, fmt.Errorf("record artifact %s: %w", rel, err)
	}
	return a, nil
}

// VerifiedReader streams an artifact and checks it against the digest recorded when it was
// stored. It never hands out the object's last byte before the whole object has been
// hashed, so a reader that got every byte knows they were the stored ones; on a mismatch
// Read returns an error of code artifact_tampered instead of the end of the object.
type VerifiedReader struct {
	src  io.ReadCloser
	want string
	h    hash.Hash
	held []byte
	eof  bool
	err  error
	// SizeBytes is the size recorded when the artifact was stored.
	SizeBytes int64
}

const verifyChunkBytes = 64 << 10

// Read implements io.Reader.
func (v *VerifiedReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for !v.eof && v.err == nil && len(v.held) <= len(p) {
		chunk := make([]byte, verifyChunkBytes)
		n, err := io.ReadFull(v.src, chunk)
		v.h.Write(chunk[:n])
		v.held = append(v.held, chunk[:n]...)
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			v.eof = true
			if hex.EncodeToString(v.h.Sum(nil)) != v.want {
				v.held = nil
				v.err = CodeArtifactTampered.New("the artifact in storage does not match the sha256 %s recorded when it was stored; it is not served", v.want)
			}
		case err != nil:
			v.err = fmt.Errorf("read artifact: %w", err)
		}
	}
	if v.err != nil {
		return 0, v.err
	}
	avail := len(v.held)
	if !v.eof {
		avail-- // the last byte waits for the digest
	}
	if avail == 0 {
		return 0, io.EOF
	}
	n := copy(p, v.held[:avail])
	v.held = v.held[n:]
	return n, nil
}

// Close closes the object.
func (v *VerifiedReader) Close() error { return v.src.Close() }

// OpenArtifact opens the artifact at p for reading through a VerifiedReader. An object in
// storage that Codexion has no record of, or whose size differs from the record, is refused
// at once.
func (s *Store) OpenArtifact(ctx context.Context, p string) (*VerifiedReader, error) {
	key, err := artifactKey(p)
	if err != nil {
		return nil, err
	}
	rel := strings.TrimPrefix(key, artifactPrefix)
	var rec Artifact
	err = s.db.QueryRow(ctx, `SELECT path, sha256, size_bytes FROM models_artifacts WHERE path = $1`, rel).Scan(&rec.Path, &rec.SHA256, &rec.SizeBytes)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, statErr := s.objects.Stat(ctx, key); statErr == nil {
			return nil, CodeArtifactTampered.New("artifact %s is in storage but was not stored through Codexion (no digest is recorded); it is not served", rel)
		}
		return nil, CodeArtifactNotFound.New("No artifact at path %s", rel)
	}
	if err != nil {
		return nil, err
	}
	obj, err := s.objects.Stat(ctx, key)
	if platform.KindOf(err) == platform.KindNotFound {
		return nil, CodeArtifactTampered.New("artifact %s was recorded (sha256 %s) but is gone from storage", rel, rec.SHA256)
	}
	if err != nil {
		return nil, err
	}
	if obj.SizeBytes != rec.SizeBytes {
		return nil, CodeArtifactTampered.New("artifact %s is %d bytes in storage but %d were stored; it is not served", rel, obj.SizeBytes, rec.SizeBytes)
	}
	src, err := s.objects.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return &VerifiedReader{src: src, want: rec.SHA256, h: sha256.New(), SizeBytes: rec.SizeBytes}, nil
}

// ListArtifacts lists the direct children of the artifact directory dir ("" is the root),
// with paths relative to dir as MLflow's artifact listing gives them.
func (s *Store) ListArtifacts(ctx context.Context, dir string) ([]FileInfo, error) {
	prefix := artifactPrefix
	if strings.Trim(dir, "/") != "" {
		key, err := artifactKey(dir)
		if err != nil {
			return nil, err
		}
		prefix = key + "/"
	}
	objs, err := s.objects.List(ctx, prefix, false)
	if err != nil {
		return nil, err
	}
	out := make([]FileInfo, 0, len(objs))
	for _, o := range objs {
		name := strings.TrimPrefix(o.Key, prefix)
		if strings.HasSuffix(name, "/") {
			out = append(out, FileInfo{Path: strings.TrimSuffix(name, "/"), IsDir: true})
			continue
		}
		out = append(out, FileInfo{Path: path.Base(name), FileSize: o.SizeBytes})
	}
	return out, nil
}

// DeleteArtifacts deletes the artifact at p and everything under it, refusing what a
// registered version or finalized logged model holds.
func (s *Store) DeleteArtifacts(ctx context.Context, p string) error {
	key, err := artifactKey(p)
	if err != nil {
		return err
	}
	rel := strings.TrimPrefix(key, artifactPrefix)
	frozen, err := s.immutable(ctx, rel)
	if err != nil {
		return err
	}
	if !frozen {
		// A directory holding a frozen artifact is frozen too.
		err = s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM models_versions WHERE deleted_time_ms IS NULL
			AND starts_with(storage_location, $1)) OR EXISTS (SELECT 1 FROM models_logged_models WHERE status = 'LOGGED_MODEL_READY'
			AND starts_with(artifact_location, $1))`, ArtifactScheme+"/"+rel+"/").Scan(&frozen)
		if err != nil {
			return err
		}
	}
	if frozen {
		return CodeArtifactFrozen.New("artifacts under %s belong to a registered model version or a finalized logged model; they cannot be deleted", rel)
	}
	if err := s.objects.Delete(ctx, key); err != nil {
		return err
	}
	if _, err := s.objects.DeletePrefix(ctx, key+"/"); err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `DELETE FROM models_artifacts WHERE path = $1 OR starts_with(path, $2)`, rel, rel+"/")
	return err
}
