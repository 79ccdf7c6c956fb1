package pipelines

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/valyala/fastjson"
)

func TestParseDecimalIsExact(t *testing.T) {
	for in, want := range map[string]string{
		`"119.00"`: "119.000000", `"-0.5"`: "-0.500000", `"0"`: "0.000000", `12`: "12.000000", `"1.1234560"`: "1.123456",
		`"99999999999999999999999999999999.123456"`: "99999999999999999999999999999999.123456",
	} {
		n, err := parseDecimal(fastjson.MustParse(in), 38, 6)
		if err != nil || n.ToString(6) != want {
			t.Errorf("%s: %s %v, want %s", in, n.ToString(6), err, want)
		}
	}
	for _, bad := range []string{`"1.1234567"`, `"abc"`, `"1e5"`, `"."`, `true`, `"999999999999999999999999999999999.1"`, `"1.2.3"`} {
		if _, err := parseDecimal(fastjson.MustParse(bad), 38, 6); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestDecoderRowsAndRefusals(t *testing.T) {
	cols := []Column{{Name: "entry", Path: "id"}, {Name: "hour", Path: "metadata.hour", Type: "INTEGER"},
		{Name: "day", Path: "posting_date", Type: "DATE"}, {Name: "line", Path: "item.line_no", Type: "INTEGER"},
		{Name: "amount", Path: "item.amount", Type: "DECIMAL(18,2)"}, {Name: "ok", Path: "item.ok", Type: "BOOLEAN"}}
	d, err := newDecoder("lines", cols)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := decodedSchema(cols)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	add := func(data string) error {
		return d.appendEvent(b, "ev", "t", time.Unix(0, 0), fastjson.MustParse(data))
	}
	if err := add(`{"id": "e1", "posting_date": "2026-01-31", "lines": [{"line_no": 1, "amount": "1.50", "ok": true}, {"line_no": 2, "amount": "-1.50"}]}`); err != nil {
		t.Fatal(err)
	}
	if err := add(`{"id": "e2", "lines": []}`); err != nil { // nothing to explode: no rows
		t.Fatal(err)
	}
	for data, says := range map[string]string{
		`{"id": "e3", "lines": [{"line_no": 1, "amount": "1.5"}, {"line_no": "two"}]}`: "data.line_no (line)",
		`{"id": "e4", "lines": [{"line_no": 1, "amount": "1.505"}]}`:                   "more than 2 decimal places",
		`{"id": "e5", "posting_date": "31/01/2026", "lines": [{"line_no": 1}]}`:        "data.posting_date (day)",
		`{"id": "e6", "metadata": {"hour": 99999999999}, "lines": [{"line_no": 1}]}`:   "does not fit INTEGER",
		`{"id": "e7", "lines": {"line_no": 1}}`:                                        "not an array",
	} {
		if err := add(data); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v, want it to say %q", data, err, says)
		}
	}
	// A VARCHAR column takes any JSON value, as its text.
	if err := add(`{"id": ["x", {"y": 1}], "lines": [{"line_no": 1}]}`); err != nil {
		t.Fatal(err)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	if rec.NumRows() != 3 { // refused events appended nothing
		t.Fatalf("%d rows", rec.NumRows())
	}
	if got := rec.Column(3).(*array.String).Value(2); got != `["x",{"y":1}]` {
		t.Errorf("VARCHAR of an array: %s", got)
	}
	// Columns: event_id, event_type, event_time, entry, hour, day, line, amount, ok.
	for r := range 2 {
		if got := rec.Column(5).(*array.Date32).Value(r).ToTime().Format(time.DateOnly); got != "2026-01-31" {
			t.Errorf("row %d: day %s (the entry's date repeats on each of its lines)", r, got)
		}
		if !rec.Column(4).IsNull(r) {
			t.Errorf("row %d: a missing hour must be NULL", r)
		}
	}
	if amt := rec.Column(7).(*array.Decimal128).Value(1).ToString(2); amt != "-1.50" {
		t.Errorf("amount %s", amt)
	}
	if !rec.Column(8).IsNull(1) || !rec.Column(8).(*array.Boolean).Value(0) {
		t.Errorf("ok column wrong")
	}
}

func TestSpecColumnsAreChecked(t *testing.T) {
	base := "name: p\nsource: {topic: t, event_types: [x], %s}\ntransform: SELECT * FROM {{batch}}\nsink: {table: t}\n"
	for cols, says := range map[string]string{
		"columns: [{name: a, path: item.x}]":             "source.explode is not set",
		"explode: lines":                                 "needs source.columns",
		"columns: [{name: event_id, path: x}]":           "other than event_id",
		"columns: [{name: a, path: x, type: MONEY}]":     `type "MONEY"`,
		"columns: [{name: a, path: x}], validate: maybe": `source.validate "maybe"`,
	} {
		if _, err := ParseSpec([]byte(strings.Replace(base, "%s", cols, 1))); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v, want %q", cols, err, says)
		}
	}
}
