package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/idempotency"
)

// maxTrainingRowsBytes bounds the staged rows of one training set.
const maxTrainingRowsBytes = 512 << 20

// SubmitRows runs a model's rows query in the offline store and submits a training-set job
// for its rows. The query is user SQL: it is checked on DuckDB's parse tree as a pipeline
// transform is (one SELECT that reads only its table, no table functions, no settings) and
// runs in the sandboxed store. The rows go to the job as CSV, written by DuckDB into the
// store's exchange folder and read back, so their types survive as DuckDB wrote them. The
// same key gets the same job, whatever rows a later attempt would pick.
func (t *TrainingSets) SubmitRows(ctx context.Context, req features.TrainingRowsRequest) (string, []string, error) {
	off := t.s.Offline
	if req.MaxRows < 1 {
		return "", nil, platform.Invalid("max rows must be positive")
	}
	if err := off.CheckTransform(ctx, req.SQL); err != nil {
		return "", nil, platform.Invalid("rows.sql: %v", err)
	}
	if _, err := off.Columns(ctx, req.Table); err != nil {
		return "", nil, platform.Invalid("rows.table %s: %v", req.Table, err)
	}
	query := "SELECT * FROM " + offline.WrapTransform(req.SQL, qi(req.Table))
	var n int64
	if err := off.DB().QueryRowContext(ctx, "SELECT count(*) FROM ("+query+")").Scan(&n); err != nil {
		return "", nil, platform.Invalid("rows.sql: %s", duckMessage(err))
	}
	switch {
	case n == 0:
		return "", nil, platform.Invalid("rows.sql picks no rows from %s", req.Table)
	case n > int64(req.MaxRows):
		return "", nil, platform.Invalid("rows.sql picks %d rows; the most is %d (narrow it, or raise rows.max_rows)", n, req.MaxRows)
	}
	dir, err := os.MkdirTemp(off.Exchange(), "training-rows-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(dir) //nolint:errcheck // a temp dir; the OS cleans up what is left
	path := filepath.Join(dir, "rows.csv")
	// In a fixed order: the training set keeps the rows' order, so the same rows give the
	// same bytes and the same digest, which is how a training knows its data did not change.
	if _, err := off.DB().ExecContext(ctx, "COPY ("+query+" ORDER BY ALL) TO "+features.QuoteString(path)+" (HEADER, DELIMITER ',')"); err != nil {
		return "", nil, platform.Invalid("rows.sql: %s", duckMessage(err))
	}
	info, err := os.Stat(path)
	if err != nil {
		return "", nil, err
	}
	if info.Size() > maxTrainingRowsBytes {
		return "", nil, platform.Invalid("the rows are %d bytes as CSV; the most is %d", info.Size(), maxTrainingRowsBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	cols, err := csv.NewReader(bytes.NewReader(data)).Read()
	if err != nil {
		return "", nil, fmt.Errorf("rows header: %w", err)
	}
	key := &idempotency.Key{Scope: idempotency.Scope("codexion-training", "training-set"), Value: req.Key, Hash: sha256.Sum256([]byte(req.Key))}
	job, _, err := t.Submit(ctx, HistoricalRequest{FeatureService: req.FeatureService, TimestampColumn: req.TimestampColumn, Format: "csv"},
		InputCSV, data, req.Actor, key)
	if err != nil {
		return "", nil, err
	}
	return job.ID, cols, nil
}

// TrainingSetState reports a job for a training: its status, failure and lineage.
func (t *TrainingSets) TrainingSetState(ctx context.Context, id string) (string, string, features.TrainingLineage, error) {
	j, err := t.Job(ctx, id)
	if err != nil {
		return "", "", features.TrainingLineage{}, err
	}
	var lin features.TrainingLineage
	if j.Lineage != nil {
		lin = *j.Lineage
	}
	if j.Rows != nil && lin.Rows == 0 {
		lin.Rows = *j.Rows
	}
	return j.Status, j.Error, lin, nil
}
