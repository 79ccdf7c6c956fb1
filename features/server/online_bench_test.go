package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/online"
)

// BenchmarkGetOnline: one lookup of 1 entity x 20 features from the embedded online
// store, encoded as the HTTP handler encodes it (no network).
func BenchmarkGetOnline(b *testing.B) {
	ctx := context.Background()
	on, err := online.OpenBolt(filepath.Join(b.TempDir(), "online.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer on.Close()
	v := features.View{Name: "account_activity", Entity: "account", Source: features.ViewSource{Table: "t", EntityColumn: "k", TimestampColumn: "ts"}}
	vals := map[string]any{}
	var names []string
	for i := range 20 {
		n := fmt.Sprintf("f%d", i)
		v.Features = append(v.Features, features.Feature{Name: n, Column: "x", Aggregation: "sum", Window: features.Duration(time.Hour)})
		vals[n] = json.Number("12345.678")
		names = append(names, "account_activity:"+n)
	}
	if _, err := on.Write(ctx, v.Name, []online.Record{{Key: "acme:1200", EventTime: time.Now(), WrittenAt: time.Now(), Values: vals}}); err != nil {
		b.Fatal(err)
	}
	snap := features.CatalogOf(catalog.NewSnapshot(nil))
	snap.Entities["account"] = catalog.Versioned[features.Entity]{Spec: features.Entity{Name: "account", JoinKey: "account"}}
	snap.Views[v.Name] = catalog.Versioned[features.View]{Spec: v}
	s := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.OnlineStore = on // what Start opens
	s.snap.Store(snap)
	req := features.OnlineRequest{Features: names, Entities: map[string][]any{"account": {"acme:1200"}}}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := s.Online().GetOnline(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := resp.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOnlineResponseJSON: the hand-written encoding is what encoding/json writes.
func TestOnlineResponseJSON(t *testing.T) {
	r := &features.OnlineResponse{Results: []features.OnlineColumn{
		{Values: []any{"acme:1200", "a\"b<c>", nil}, Statuses: []string{features.Present, features.NotFound, features.Present}, EventTimestamps: []string{epoch, epoch, epoch}},
		{Values: []any{json.Number("12.50"), 3.25, int64(7)}, Statuses: []string{features.Present, features.NullValue, features.OutsideMaxAge}, EventTimestamps: []string{"2026-01-01T00:00:00Z", "é", ""}},
		{Values: []any{true, float64(1e21), map[string]any{"x": 1}}, Statuses: []string{}, EventTimestamps: []string{}},
	}}
	r.Metadata.FeatureNames = []string{"account", "balance", "x\u2028y"}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	type plain features.OnlineResponse // no MarshalJSON
	want, _ := json.Marshal((*plain)(r))
	if string(got) != string(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
