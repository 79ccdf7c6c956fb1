package pipelines

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/valyala/fastjson"
)

// Column is a typed column decoded from each event's data in Go, before the transform:
// path is dot-separated from the data's root, or from the exploded element with "item.".
// Types: VARCHAR (default), INTEGER, BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP, DECIMAL(p,s).
// VARCHAR takes any JSON value: a string as itself, anything else as its JSON text, so a
// column over free-form data (an entry's metadata) never rejects an event.
// A value of the wrong type makes the event malformed (it goes to the dead-letter topic);
// a missing value is NULL.
type Column struct {
	Name string `yaml:"name" json:"name"`
	Path string `yaml:"path" json:"path"`
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
}

var decimalType = regexp.MustCompile(`^DECIMAL\((\d+),\s*(\d+)\)$`)

// decoder extracts a spec's columns from event data into Arrow builders.
type decoder struct {
	explode []string
	cols    []decodedColumn
	parser  fastjson.Parser
	cells   []cell // scratch, reused per event
}

type decodedColumn struct {
	Column
	item        bool     // read from the exploded element
	path        []string // split path
	prec, scale int32
}

// decodedSchema is the Arrow schema of a decoded batch: the envelope's id, type and time,
// then the spec's columns.
func decodedSchema(cols []Column) (*arrow.Schema, error) {
	fields := []arrow.Field{
		{Name: "event_id", Type: arrow.BinaryTypes.String},
		{Name: "event_type", Type: arrow.BinaryTypes.String},
		{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	}
	for _, c := range cols {
		t, err := arrowType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("source.columns %s: %w", c.Name, err)
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: t, Nullable: true})
	}
	return arrow.NewSchema(fields, nil), nil
}

func arrowType(t string) (arrow.DataType, error) {
	switch strings.ToUpper(strings.TrimSpace(t)) {
	case "", "VARCHAR":
		return arrow.BinaryTypes.String, nil
	case "INTEGER":
		return arrow.PrimitiveTypes.Int32, nil
	case "BIGINT":
		return arrow.PrimitiveTypes.Int64, nil
	case "DOUBLE":
		return arrow.PrimitiveTypes.Float64, nil
	case "BOOLEAN":
		return arrow.FixedWidthTypes.Boolean, nil
	case "DATE":
		return arrow.FixedWidthTypes.Date32, nil
	case "TIMESTAMP":
		return &arrow.TimestampType{Unit: arrow.Microsecond}, nil
	}
	if m := decimalType.FindStringSubmatch(strings.ToUpper(t)); m != nil {
		p, _ := strconv.Atoi(m[1])
		s, _ := strconv.Atoi(m[2])
		if p < 1 || p > 38 || s > p {
			return nil, fmt.Errorf("type %s: precision 1 to 38, scale at most the precision", t)
		}
		return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(s)}, nil
	}
	return nil, fmt.Errorf("type %q: use VARCHAR, INTEGER, BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP or DECIMAL(p,s)", t)
}

func newDecoder(explode string, cols []Column) (*decoder, error) {
	d := &decoder{}
	if explode != "" {
		d.explode = strings.Split(explode, ".")
	}
	for _, c := range cols {
		dc := decodedColumn{Column: c}
		p := c.Path
		if rest, ok := strings.CutPrefix(p, "item."); ok {
			if explode == "" {
				return nil, fmt.Errorf("source.columns %s: path %q reads an exploded element, but source.explode is not set", c.Name, p)
			}
			dc.item, p = true, rest
		}
		if p == "" {
			return nil, fmt.Errorf("source.columns %s: path is required", c.Name)
		}
		dc.path = strings.Split(p, ".")
		t, err := arrowType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("source.columns %s: %w", c.Name, err)
		}
		if dt, ok := t.(*arrow.Decimal128Type); ok {
			dc.prec, dc.scale = dt.Precision, dt.Scale
		}
		d.cols = append(d.cols, dc)
	}
	return d, nil
}

// envelope is a structured CloudEvent parsed in place; data points into the parser's
// memory and is valid until the next parse.
type envelope struct {
	id, typ, dataschema string
	time                time.Time
	data                *fastjson.Value
}

// parseEvent reads a structured CloudEvent (one parse for the envelope and its data) and
// checks its required attributes, as schemas.Decode does.
func (d *decoder) parseEvent(msg []byte) (envelope, error) {
	v, err := d.parser.ParseBytes(msg)
	if err != nil {
		return envelope{}, fmt.Errorf("not a CloudEvents JSON document: %w", err)
	}
	var missing []string
	for _, a := range []string{"specversion", "id", "source", "type"} {
		if len(v.GetStringBytes(a)) == 0 {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return envelope{}, fmt.Errorf("CloudEvent lacks %s", strings.Join(missing, ", "))
	}
	if sv := string(v.GetStringBytes("specversion")); sv != "1.0" {
		return envelope{}, fmt.Errorf("CloudEvent specversion %q; this consumer reads 1.0", sv)
	}
	e := envelope{id: string(v.GetStringBytes("id")), typ: string(v.GetStringBytes("type")),
		dataschema: string(v.GetStringBytes("dataschema")), data: v.Get("data")}
	if ts := v.GetStringBytes("time"); len(ts) > 0 {
		if e.time, err = time.Parse(time.RFC3339Nano, string(ts)); err != nil {
			return envelope{}, fmt.Errorf("CloudEvent time %q: %w", ts, err)
		}
	}
	if e.data == nil || e.data.Type() != fastjson.TypeObject {
		return envelope{}, fmt.Errorf("CloudEvent data is not a JSON object")
	}
	return e, nil
}

// appendEvent appends the rows of data (one, or one per exploded element) to b, whose
// first three fields are the envelope's. On error nothing is appended.
func (d *decoder) appendEvent(b *array.RecordBuilder, id, typ string, ts time.Time, root *fastjson.Value) error {
	var err error
	items := []*fastjson.Value{nil}
	if d.explode != nil {
		arr := root.Get(d.explode...)
		if arr == nil || arr.Type() == fastjson.TypeNull {
			return nil // nothing to explode: no rows
		}
		if items, err = arr.Array(); err != nil {
			return fmt.Errorf("data.%s is not an array", strings.Join(d.explode, "."))
		}
	}
	// Parse every value first, so that a bad event appends nothing.
	d.cells = d.cells[:0]
	for _, it := range items {
		for i := range d.cols {
			c := &d.cols[i]
			src := root
			if c.item {
				src = it
			}
			v := src.Get(c.path...)
			if v != nil && v.Type() == fastjson.TypeNull {
				v = nil
			}
			p, err := parseCell(c, v)
			if err != nil {
				return fmt.Errorf("data.%s (%s): %w", strings.Join(c.path, "."), c.Name, err)
			}
			d.cells = append(d.cells, p)
		}
	}
	micros := ts.UnixMicro()
	for r := range items {
		b.Field(0).(*array.StringBuilder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(typ)
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(micros))
		for i := range d.cols {
			appendCell(b.Field(3+i), d.cells[r*len(d.cols)+i])
		}
	}
	return nil
}

// cell is one parsed value.
type cell struct {
	null bool
	str  []byte // VARCHAR (points into the parser's memory until the next parse)
	i    int64  // INTEGER, BIGINT, BOOLEAN (0/1), DATE (days), TIMESTAMP (µs)
	f    float64
	num  decimal128.Num
}

func parseCell(c *decodedColumn, v *fastjson.Value) (cell, error) {
	if v == nil {
		return cell{null: true}, nil
	}
	var p cell
	var err error
	switch t := v.Type(); strings.ToUpper(c.Type) {
	case "", "VARCHAR":
		switch t {
		case fastjson.TypeString:
			p.str = v.GetStringBytes()
		default: // a number, boolean, object or array reads as its JSON text
			p.str = v.MarshalTo(nil)
		}
	case "INTEGER":
		var n int
		n, err = v.Int()
		if err == nil && (n < -1<<31 || n >= 1<<31) {
			err = fmt.Errorf("%d does not fit INTEGER", n)
		}
		p.i = int64(n)
	case "BIGINT":
		p.i, err = v.Int64()
	case "DOUBLE":
		p.f, err = v.Float64()
	case "BOOLEAN":
		var b bool
		b, err = v.Bool()
		if b {
			p.i = 1
		}
	case "DATE":
		var tm time.Time
		tm, err = time.Parse(time.DateOnly, string(v.GetStringBytes()))
		p.i = int64(arrow.Date32FromTime(tm))
	case "TIMESTAMP":
		var tm time.Time
		tm, err = time.Parse(time.RFC3339Nano, string(v.GetStringBytes()))
		p.i = tm.UnixMicro()
	default: // DECIMAL
		p.num, err = parseDecimal(v, c.prec, c.scale)
	}
	return p, err
}

// appendCell appends a parsed value to its column's builder.
func appendCell(fb array.Builder, p cell) {
	if p.null {
		fb.AppendNull()
		return
	}
	switch b := fb.(type) {
	case *array.StringBuilder:
		b.BinaryBuilder.Append(p.str)
	case *array.Int32Builder:
		b.Append(int32(p.i))
	case *array.Int64Builder:
		b.Append(p.i)
	case *array.Float64Builder:
		b.Append(p.f)
	case *array.BooleanBuilder:
		b.Append(p.i == 1)
	case *array.Date32Builder:
		b.Append(arrow.Date32(p.i))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(p.i))
	case *array.Decimal128Builder:
		b.Append(p.num)
	}
}

// parseDecimal reads a decimal string (or a JSON integer) exactly: more fractional digits
// than the scale, or more digits than the precision, is an error, never a rounding.
func parseDecimal(v *fastjson.Value, prec, scale int32) (decimal128.Num, error) {
	var s string
	switch v.Type() {
	case fastjson.TypeString:
		s = string(v.GetStringBytes())
	case fastjson.TypeNumber:
		s = v.String()
	default:
		return decimal128.Num{}, fmt.Errorf("is %s, not a decimal", v.Type())
	}
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	intPart, frac, _ := strings.Cut(digits, ".")
	if intPart == "" && frac == "" {
		return decimal128.Num{}, fmt.Errorf("%q is not a decimal", s)
	}
	if int32(len(frac)) > scale {
		trimmed := strings.TrimRight(frac, "0")
		if int32(len(trimmed)) > scale {
			return decimal128.Num{}, fmt.Errorf("%q has more than %d decimal places", s, scale)
		}
		frac = trimmed
	}
	all := strings.TrimLeft(intPart+frac+strings.Repeat("0", int(scale)-len(frac)), "0")
	if int32(len(all)) > prec {
		return decimal128.Num{}, fmt.Errorf("%q does not fit DECIMAL(%d,%d)", s, prec, scale)
	}
	if all == "" {
		return decimal128.Num{}, nil
	}
	for _, r := range all {
		if r < '0' || r > '9' {
			return decimal128.Num{}, fmt.Errorf("%q is not a decimal", s)
		}
	}
	var n decimal128.Num
	if len(all) <= 18 {
		u, _ := strconv.ParseInt(all, 10, 64)
		n = decimal128.FromI64(u)
	} else {
		var err error
		if n, err = decimal128.FromString(all, 38, 0); err != nil {
			return decimal128.Num{}, fmt.Errorf("%q: %w", s, err)
		}
	}
	if neg {
		n = n.Negate()
	}
	return n, nil
}
