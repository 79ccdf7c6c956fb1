package registry

import (
	"strings"
	"testing"
)

func must(t *testing.T, s string) any {
	t.Helper()
	d, err := parseSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCompatibilityRules(t *testing.T) {
	const (
		open       = `{"type":"object","properties":{"a":{"type":"string"}}}`
		closed     = `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`
		openPlusB  = `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`
		closedPlus = `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}`
		reqB       = `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["b"]}`
		numA       = `{"type":"object","properties":{"a":{"type":"number"}}}`
		intA       = `{"type":"object","properties":{"a":{"type":"integer"}}}`
		enum2      = `{"enum":["x","y"]}`
		enum3      = `{"enum":["x","y","z"]}`
		max10      = `{"type":"string","maxLength":10}`
		max5       = `{"type":"string","maxLength":5}`
	)
	cases := []struct {
		name, level, old, new string
		want                  string // "" compatible, else a rule name in the messages
	}{
		{"identical", "BACKWARD", open, open, ""},
		{"add property to closed model", "BACKWARD", closed, closedPlus, ""},
		{"add property to open model", "BACKWARD", open, openPlusB, "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"},
		{"add required property", "BACKWARD", closed, `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["b"],"additionalProperties":false}`, "REQUIRED_PROPERTY_ADDED"},
		{"remove property from open model", "BACKWARD", openPlusB, open, ""},
		{"remove property from closed model", "BACKWARD", closedPlus, closed, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"},
		{"close an open model", "BACKWARD", open, closed, "ADDITIONAL_PROPERTIES_REMOVED"},
		{"widen integer to number", "BACKWARD", intA, numA, ""},
		{"narrow number to integer", "BACKWARD", numA, intA, "TYPE_CHANGED"},
		{"enum grows", "BACKWARD", enum2, enum3, ""},
		{"enum shrinks", "BACKWARD", enum3, enum2, "ENUM_ARRAY_NARROWED"},
		{"maxLength narrows", "BACKWARD", max10, max5, "maxLength narrowed"},
		{"forward: narrowing is fine", "FORWARD", numA, intA, ""},
		{"forward: widening is not", "FORWARD", intA, numA, "TYPE_CHANGED"},
		{"full catches both", "FULL", intA, numA, "forward:"},
		{"none allows anything", "NONE", open, reqB, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msgs := Compatible(tc.level, must(t, tc.new), []any{must(t, tc.old)})
			got := strings.Join(msgs, "; ")
			switch {
			case tc.want == "" && len(msgs) > 0:
				t.Fatalf("refused: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Fatalf("messages %q lack %q", got, tc.want)
			}
		})
	}
}

func TestTransitiveChecksEveryVersion(t *testing.T) {
	// v1 has a, v2 drops it (open model: fine for BACKWARD against v2), v3 requires a again
	// as a string: v3 cannot read v1's integer a. Only the transitive level sees v1.
	v1 := must(t, `{"type":"object","properties":{"a":{"type":"integer"}}}`)
	v2 := must(t, `{"type":"object","properties":{}}`)
	v3 := must(t, `{"type":"object","properties":{"a":{"type":["integer","string"]}}}`)
	v4 := must(t, `{"type":"object","properties":{"a":{"type":"string"}}}`)
	if msgs := Compatible("BACKWARD", v3, []any{v1, v2}); len(msgs) == 0 {
		t.Fatal("adding a typed property to an open model passed BACKWARD")
	}
	if msgs := Compatible("BACKWARD", v4, []any{v1, v3}); len(msgs) == 0 {
		t.Fatal("narrowing integer|string to string passed BACKWARD")
	}
	if msgs := Compatible("BACKWARD_TRANSITIVE", v4, []any{v1, v3}); !strings.Contains(strings.Join(msgs, ";"), "against version 1") {
		t.Fatalf("transitive messages do not name version 1: %v", msgs)
	}
}
