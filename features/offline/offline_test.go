//go:build duckdb_arrow

package offline

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func record(ids []string, amounts []float64) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "event_id", Type: arrow.BinaryTypes.String}, {Name: "amount", Type: arrow.PrimitiveTypes.Float64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(ids, nil)
	b.Field(1).(*array.Float64Builder).AppendValues(amounts, nil)
	return b.NewRecordBatch()
}

func TestAppendIsExactlyOnceAndDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "offline.duckdb")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	rec := record([]string{"e1", "e2", "e3"}, []float64{1, 2, 3})
	defer rec.Release()
	n, err := s.Append(ctx, Batch{Consumer: "lines", Table: "raw_lines", Record: rec, IDColumn: "event_id",
		Offsets: []Offset{{Topic: "t", Partition: 0, Next: 3}}})
	if err != nil || n != 3 {
		t.Fatalf("first append: %d %v", n, err)
	}
	// The same events again (a redelivery) plus one new: only the new one lands.
	rec2 := record([]string{"e2", "e3", "e4"}, []float64{2, 3, 4})
	defer rec2.Release()
	n, err = s.Append(ctx, Batch{Consumer: "lines", Table: "raw_lines", Record: rec2, IDColumn: "event_id",
		Offsets: []Offset{{Topic: "t", Partition: 0, Next: 4}}})
	if err != nil || n != 1 {
		t.Fatalf("redelivery: %d %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path) // what was committed survives a restart
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var count int
	var sum float64
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*), sum(amount) FROM raw_lines`).Scan(&count, &sum); err != nil || count != 4 || sum != 10 {
		t.Fatalf("rows %d sum %v (%v)", count, sum, err)
	}
	offs, err := s.Offsets(ctx, "lines")
	if err != nil || len(offs) != 1 || offs[0].Next != 4 {
		t.Fatalf("offsets %+v %v", offs, err)
	}
	reset, err := s.ResetForCluster(ctx, "lines", "cluster-a")
	if err != nil || reset {
		t.Fatalf("first cluster: reset=%v %v", reset, err)
	}
	reset, err = s.ResetForCluster(ctx, "lines", "cluster-b")
	if err != nil || !reset {
		t.Fatalf("new cluster: reset=%v %v", reset, err)
	}
	if offs, _ := s.Offsets(ctx, "lines"); len(offs) != 0 {
		t.Fatalf("offsets kept after a cluster change: %+v", offs)
	}
}

func TestAppendRefusesBadNames(t *testing.T) {
	s, err := Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := record([]string{"e1"}, []float64{1})
	defer rec.Release()
	if _, err := s.Append(context.Background(), Batch{Consumer: "c", Table: "x; DROP TABLE y", Record: rec, IDColumn: "event_id"}); err == nil {
		t.Fatal("accepted a table name that is not an identifier")
	}
	if _, err := s.Append(context.Background(), Batch{Consumer: "c", Table: "t", Record: rec, IDColumn: "missing"}); err == nil {
		t.Fatal("accepted a batch without its id column")
	}
}
