package online

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codexion/codexion/internal/testenv"
)

func TestStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "online.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRedis(ctx, testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for name, s := range map[string]Store{"bolt": b, "redis": r} {
		t.Run(name, func(t *testing.T) {
			view := "v_" + strings.ReplaceAll(t.Name(), "/", "_")
			if err := s.Drop(ctx, view); err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			n, err := s.Write(ctx, view, []Record{
				{Key: "acme:1200", EventTime: t0, WrittenAt: t0, Values: map[string]any{"sum": json.Number("12.50"), "n": 3}},
				{Key: "acme:4000", EventTime: t0, WrittenAt: t0, Values: map[string]any{"sum": nil}},
			})
			if err != nil || n != 2 {
				t.Fatalf("write: %d %v", n, err)
			}
			// An older value never replaces a newer one; an equal or newer one does.
			n, err = s.Write(ctx, view, []Record{
				{Key: "acme:1200", EventTime: t0.Add(-time.Second), WrittenAt: t0, Values: map[string]any{"sum": json.Number("1")}},
				{Key: "acme:4000", EventTime: t0, WrittenAt: t0.Add(time.Minute), Values: map[string]any{"sum": json.Number("7")}},
			})
			if err != nil || n != 1 {
				t.Fatalf("second write stored %d (want 1): %v", n, err)
			}
			got, err := s.Read(ctx, view, []string{"acme:1200", "nope", "acme:4000"})
			if err != nil {
				t.Fatal(err)
			}
			if got[1] != nil || got[0] == nil || got[2] == nil {
				t.Fatalf("read: %+v", got)
			}
			if got[0].Values["sum"] != json.Number("12.50") || !got[0].EventTime.Equal(t0) || got[2].Values["sum"] != json.Number("7") {
				t.Fatalf("values: %+v %+v", got[0], got[2])
			}
			// A value read (and kept decoded) is replaced by a newer write.
			if _, err := s.Write(ctx, view, []Record{{Key: "acme:1200", EventTime: t0.Add(time.Hour), WrittenAt: t0, Values: map[string]any{"sum": json.Number("99")}}}); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Read(ctx, view, []string{"acme:1200"}); got[0].Values["sum"] != json.Number("99") {
				t.Fatalf("after a newer write: %+v", got[0])
			}
			if err := s.Drop(ctx, view); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Read(ctx, view, []string{"acme:1200"}); got[0] != nil {
				t.Fatal("drop left a value")
			}
			if _, err := s.Write(ctx, view, []Record{{Key: "k", EventTime: t0, WrittenAt: t0, Values: map[string]any{"x": 1}}}); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The embedded store survives a restart.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.Read(ctx, "v_TestStores_bolt", []string{"k"})
	if err != nil || got[0] == nil {
		t.Fatalf("after reopen: %v %v", got, err)
	}
}
