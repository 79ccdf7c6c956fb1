package outbox

import (
	"context"
	"testing"

	"github.com/codexion/codexion/platform"
)

// Replay marks exactly the range for publishing again, dead letters included, and refuses
// ids that are not outbox ids.
func TestReplayMarksTheRangeAgain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.write(10, "r")
	var ids []string
	rows, err := e.db.Query(ctx, `SELECT id::text FROM codexion_outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if _, err := e.db.Exec(ctx, `UPDATE codexion_outbox SET published_at = now()`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(ctx, `UPDATE codexion_outbox SET dead_letter_reason = 'schema' WHERE id = $1::uuid`, ids[4]); err != nil {
		t.Fatal(err)
	}
	unpublished := func() (n int) {
		if err := e.db.QueryRow(ctx, `SELECT count(*) FROM codexion_outbox WHERE published_at IS NULL AND dead_letter_reason IS NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n, err := Replay(ctx, e.db.Pool, ids[3], ids[5]); err != nil || n != 3 || unpublished() != 3 {
		t.Fatalf("replay 3..5: %d marked (%v), %d unpublished", n, err, unpublished())
	}
	if n, err := Replay(ctx, e.db.Pool, ids[8], ""); err != nil || n != 2 || unpublished() != 5 {
		t.Fatalf("replay from 8 on: %d marked (%v), %d unpublished", n, err, unpublished())
	}
	for _, bad := range [][2]string{{"yesterday", ""}, {ids[0], "'; DROP TABLE codexion_outbox; --"}} {
		if _, err := Replay(ctx, e.db.Pool, bad[0], bad[1]); platform.KindOf(err) != platform.KindInvalid {
			t.Errorf("replay %q..%q: %v, want a 400 naming the id", bad[0], bad[1], err)
		}
	}
}
