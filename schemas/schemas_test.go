package schemas

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeEnvelope(t *testing.T) {
	ev, err := Decode([]byte(`{"specversion":"1.0","id":"x","source":"codexion/ledger/acme","type":"t","time":"2026-11-25T10:00:00Z","data":{"a":1}}`))
	if err != nil || ev.ID != "x" || !ev.Time.Equal(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) || string(ev.Data) != `{"a":1}` {
		t.Fatalf("%+v %v", ev, err)
	}
	if _, err := Decode([]byte(`{"specversion":"1.0","source":"s"}`)); err == nil || !strings.Contains(err.Error(), "lacks id, type") {
		t.Fatalf("missing attributes: %v", err)
	}
	if _, err := Decode([]byte(`nope`)); err == nil {
		t.Fatal("garbage accepted")
	}
	const minimal = `{"specversion":"1.0","id":"x","source":"s","type":"t"}`
	for _, bad := range []string{
		minimal + `{"id":"y"}`,
		strings.Replace(minimal, `"id":"x"`, `"id":"x","id":"y"`, 1),
		strings.Replace(minimal, `"id":"x"`, `"id":"x","ID":"y"`, 1),
		strings.Replace(minimal, `"id":"x"`, `"id":"x\u0000"`, 1),
		strings.Replace(minimal, `"id":"x"`, "\"id\":\"x\xff\"", 1),
	} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

// FuzzDecode: whatever Decode accepts carries every required attribute, is specversion
// 1.0, was the whole input (nothing trails it) and reads back the same from its own JSON.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"x","source":"s","type":"t","data":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Decode(b)
		if err != nil {
			return
		}
		if ev.SpecVersion != SpecVersion || ev.ID == "" || ev.Source == "" || ev.Type == "" {
			t.Fatalf("accepted %+v", ev)
		}
		var whole any
		if err := json.Unmarshal(b, &whole); err != nil {
			t.Fatalf("accepted %q, which is not one JSON value: %v", b, err)
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("accepted %+v, which does not encode: %v", ev, err)
		}
		back, err := Decode(again)
		if err != nil {
			t.Fatalf("%s does not decode again: %v", again, err)
		}
		if !back.Time.Equal(ev.Time) {
			t.Fatalf("time %v reads back as %v", ev.Time, back.Time)
		}
		back.Time, ev.Time = time.Time{}, time.Time{}
		// Absent data encodes as null.
		// The data means the same: encoding may escape characters (& as \u0026) but never
		// changes a value; numbers keep their text.
		if len(ev.Data) == 0 {
			ev.Data = json.RawMessage("null")
		}
		data, dataBack := jsonValue(t, ev.Data), jsonValue(t, back.Data)
		rawData, rawBack := ev.Data, back.Data
		back.Data, ev.Data = nil, nil
		if !reflect.DeepEqual(back, ev) || !reflect.DeepEqual(data, dataBack) {
			t.Fatalf("%+v (data %s) reads back as %+v (data %s)", ev, rawData, back, rawBack)
		}
	})
}

// jsonValue decodes raw with its numbers as written.
func jsonValue(t *testing.T, raw []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}
