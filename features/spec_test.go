package features

import (
	"strings"
	"testing"
	"time"
)

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "1h": time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute, "30s": 30 * time.Second} {
		d, err := ParseDuration(in)
		if err != nil || time.Duration(d) != want {
			t.Fatalf("%s: %v %v", in, d, err)
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("%s prints as %s, which reads back as %v", in, d, back)
		}
	}
	for _, bad := range []string{"", "7x", "-1d", "d", "1.5d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

func TestViewCheckNamesEveryProblem(t *testing.T) {
	v := View{Name: "Bad-Name", Source: ViewSource{Table: "t", EntityColumn: "k"}, Features: []Feature{
		{Name: "a", Column: "x", Aggregation: "median"},
		{Name: "a", Column: "x"},
		{Name: "b", Aggregation: "sum"},
		{Name: "c", Column: "x", Window: Duration(time.Hour)},
		{Name: "d", Aggregation: "days_since_last", Column: "x"},
		{Name: "e", Column: "x; DROP TABLE t"},
	}}
	err := v.Check()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`name "Bad-Name"`, "entity is required", "source.timestamp_column", `aggregation "median"`,
		`"a" appears twice`, "features[2].column is required", "features[3].window", "days_since_last takes neither", "without ';'"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
}
