package pipelines

import (
	"context"
	"slices"

	"github.com/codexion/codexion/features/offline"
)

// CommitSink is told about every batch a pipeline committed to the offline store. It is
// where what follows a commit attaches: the feature store refreshes the online values of
// the entities the batch touched; lineage and drift attach here next. A new consumer of
// committed batches is a new sink given to the engine; the engine is not edited.
//
// Committed runs after the batch is durable, in the pipeline's goroutine and in batch
// order: a slow sink slows its pipeline, so a sink that does real work queues it. A sink
// cannot fail the batch; a batch delivered again after a crash adds no rows and is not
// reported twice.
type CommitSink interface {
	// KeyColumns names the columns of table whose distinct values among each batch's new
	// rows the sink wants (an entity's key columns; the id column for event ids).
	KeyColumns(table string) []string
	Committed(ctx context.Context, b Committed)
}

// Committed is one batch committed to the offline store.
type Committed struct {
	Pipeline string
	Table    string
	Rows     int64 // rows inserted; rows of events ingested before are not counted
	// Keys holds, for each column some sink asked for, the distinct values among the new rows.
	Keys map[string][]string
	// Offsets are where the pipeline resumes after this batch (none for a backfill, which
	// leaves the pipeline's position alone).
	Offsets []offline.Offset
}

// keyColumns is the union of what the sinks ask for, sorted.
func keyColumns(sinks []CommitSink, table string) []string {
	var cols []string
	for _, s := range sinks {
		for _, c := range s.KeyColumns(table) {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
	}
	slices.Sort(cols)
	return cols
}

// notify tells every sink about a batch that inserted rows.
func (e *Engine) notify(ctx context.Context, b offline.Batch, rows int64, keys map[string][]string) {
	if rows == 0 {
		return
	}
	c := Committed{Pipeline: e.Spec.Name, Table: b.Table, Rows: rows, Keys: keys, Offsets: b.Offsets}
	for _, s := range e.Sinks {
		s.Committed(ctx, c)
	}
}
