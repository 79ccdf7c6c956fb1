package ingest

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
)

// TestReplayRecordedHistories replays histories recorded from the real dev server
// (CODEXION_RECORD_HISTORY=1 go test ./app -run TestPipelinesOnTemporal) against today's
// workflow code: a change that would break running workflows fails here. Such a change
// needs workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*_history.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories in testdata/: %v", err)
	}
	for _, f := range files {
		r := worker.NewWorkflowReplayer()
		r.RegisterWorkflow(IngestPipeline)
		r.RegisterWorkflow(Materialize)
		r.RegisterWorkflow(Backfill)
		if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
