package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/codexion/codexion/platform/postgres/pgtest"
)

func startPool(t *testing.T) *Pool {
	t.Helper()
	p, err := NewPool(pgtest.New(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	return p
}

func TestMigrationsApplyOnceInOrder(t *testing.T) {
	p := startPool(t)
	ctx := context.Background()
	src := Source{Name: "demo", FS: fstest.MapFS{
		"0001_things.sql":     {Data: []byte("CREATE TABLE things (id int PRIMARY KEY)")},
		"0002_thing_name.sql": {Data: []byte("ALTER TABLE things ADD COLUMN name text NOT NULL DEFAULT ''")},
	}}
	applied, err := Up(ctx, p.Pool, []Source{src})
	if err != nil || len(applied) != 2 {
		t.Fatalf("applied %d, err %v", len(applied), err)
	}
	again, err := Up(ctx, p.Pool, []Source{src})
	if err != nil || len(again) != 0 {
		t.Fatalf("second run applied %d, err %v", len(again), err)
	}
	if _, err := p.Exec(ctx, "INSERT INTO things (id, name) VALUES (1, 'a')"); err != nil {
		t.Fatal(err)
	}
	st, err := List(ctx, p.Pool, []Source{src})
	if err != nil || len(st) != 2 || st[0].AppliedAt == nil || st[1].AppliedAt == nil {
		t.Fatalf("status %+v err %v", st, err)
	}
	if err := p.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestChangedMigrationIsRefused(t *testing.T) {
	p := startPool(t)
	ctx := context.Background()
	fs := fstest.MapFS{"0001_things.sql": {Data: []byte("CREATE TABLE things (id int)")}}
	if _, err := Up(ctx, p.Pool, []Source{{Name: "demo", FS: fs}}); err != nil {
		t.Fatal(err)
	}
	fs["0001_things.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE things (id bigint)")}
	_, err := Up(ctx, p.Pool, []Source{{Name: "demo", FS: fs}})
	if err == nil || !strings.Contains(err.Error(), "was changed after it was applied") {
		t.Fatalf("err = %v", err)
	}
}

func TestFailedMigrationRollsBack(t *testing.T) {
	p := startPool(t)
	ctx := context.Background()
	fs := fstest.MapFS{
		"0001_ok.sql":  {Data: []byte("CREATE TABLE ok (id int)")},
		"0002_bad.sql": {Data: []byte("CREATE TABLE half (id int); SELECT * FROM missing_table")},
	}
	_, err := Up(ctx, p.Pool, []Source{{Name: "demo", FS: fs}})
	if err == nil || !strings.Contains(err.Error(), "0002_bad") {
		t.Fatalf("err = %v", err)
	}
	var n int
	if err := p.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("half-applied migration left table: n=%d err=%v", n, err)
	}
}

func TestLoadRejectsGapsAndBadNames(t *testing.T) {
	_, err := Load([]Source{{Name: "d", FS: fstest.MapFS{"0002_x.sql": {Data: []byte("")}}}})
	if err == nil || !strings.Contains(err.Error(), "expected version 0001") {
		t.Fatalf("gap: %v", err)
	}
	_, err = Load([]Source{{Name: "d", FS: fstest.MapFS{"init.sql": {Data: []byte("")}}}})
	if err == nil || !strings.Contains(err.Error(), "NNNN_description.sql") {
		t.Fatalf("name: %v", err)
	}
}

func TestStartFailsClearlyWhenServerIsDown(t *testing.T) {
	p, err := NewPool("postgres://u:p@127.0.0.1:1/db?connect_timeout=2", 1)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "postgres at 127.0.0.1:1 does not answer") {
		t.Fatalf("err = %v", err)
	}
}

// TestUUIDsAreSentAsBytes: a uuid.UUID argument, alone or in an array, is encoded as its 16
// bytes, not through its driver.Valuer as text, and arrives intact.
func TestUUIDsAreSentAsBytes(t *testing.T) {
	p := startPool(t)
	ctx := context.Background()
	c, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	id := uuid.Must(uuid.NewV7())
	plan := c.Conn().TypeMap().PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id)
	if name := fmt.Sprintf("%T", plan); strings.Contains(name, "DriverValuer") || !strings.Contains(name, "UUID") {
		t.Fatalf("a uuid.UUID is encoded by %s", name)
	}
	var one, many string
	if err := c.QueryRow(ctx, `SELECT $1::uuid::text, ($2::uuid[])[2]::text`, id, []uuid.UUID{uuid.Nil, id}).Scan(&one, &many); err != nil {
		t.Fatal(err)
	}
	if one != id.String() || many != id.String() {
		t.Fatalf("sent %s, the server read %s and %s", id, one, many)
	}
}
