package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/logging"
)

// A non-atomic batch answers 200 with each entry's outcome. An entry that failed for a
// reason the client cannot fix says only "internal error" and the request id, as an error
// response does; the database's words go to the log.
func TestBatchBodyKeepsUnexpectedErrorsToTheLog(t *testing.T) {
	ctx := logging.WithRequestID(context.Background(), "req-42")
	dbErr := fmt.Errorf("write lines: %w", &pgconn.PgError{Code: "23505",
		Message: `duplicate key value violates unique constraint "ledger_lines_pkey"`})
	res := &BatchResult{Results: []BatchItem{
		batchFailure(ctx, 0, dbErr),
		batchFailure(ctx, 1, &platform.Error{Kind: platform.KindInternal, Message: "balance row 17 is missing"}),
		batchFailure(ctx, 2, &platform.Error{Kind: platform.KindInvalid, Code: "invalid_entry", Message: "lines: fewer than 2",
			Fields: []platform.FieldError{{Field: "lines", Message: "fewer than 2"}}}),
		batchFailure(ctx, 3, platform.Invalid("book: acme does not exist")),
	}}

	body, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"ledger_lines_pkey", "23505", "balance row"} {
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("body carries %q: %s", secret, body)
		}
	}
	want := []BatchError{
		{Code: "internal", Detail: "internal error; report request id req-42"},
		{Code: "internal", Detail: "internal error; report request id req-42"},
		{Code: "invalid_entry", Detail: "lines: fewer than 2", Errors: []platform.FieldError{{Field: "lines", Message: "fewer than 2"}}},
		{Code: "invalid_argument", Detail: "book: acme does not exist"},
	}
	for i, it := range res.Results {
		if got := *it.Error; fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Errorf("entry %d: %+v, want %+v", i, got, want[i])
		}
	}

	var log bytes.Buffer
	h := NewHandler(nil, slog.New(slog.NewTextHandler(&log, nil)))
	h.logFailures(ctx, res)
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "ledger_lines_pkey") || !strings.Contains(lines[0], "index=0") ||
		!strings.Contains(lines[1], "balance row 17") || !strings.Contains(lines[1], "index=1") {
		t.Errorf("log holds the unexpected causes, one line each:\n%s", log.String())
	}
}
