package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/schemas"
)

// TestEventSchemaStatesTheLedgersBounds holds the entry events' schemas to the constants
// the ledger validates with, so neither can move alone.
func TestEventSchemaStatesTheLedgersBounds(t *testing.T) {
	set, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{EventEntryPosted, EventEntryReversed} {
		raw, _ := set.Raw(typ)
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		props := doc["properties"].(map[string]any)
		lines := props["lines"].(map[string]any)
		line := lines["items"].(map[string]any)["properties"].(map[string]any)
		dims := line["dimensions"].(map[string]any)
		defs := doc["$defs"].(map[string]any)
		level1 := defs["metadata_level_1"].(map[string]any)
		for _, c := range []struct {
			name      string
			got, want any
		}{
			{"reference.maxLength", props["reference"].(map[string]any)["maxLength"], maxTextBytes},
			{"description.maxLength", props["description"].(map[string]any)["maxLength"], maxTextBytes},
			{"lines.maxItems", lines["maxItems"], maxClosingLines},
			{"memo.maxLength", line["memo"].(map[string]any)["maxLength"], maxTextBytes},
			{"dimensions.maxProperties", dims["maxProperties"], maxDimensions},
			{"dimensions key maxLength", dims["propertyNames"].(map[string]any)["maxLength"], maxDimensionKeyBytes},
			{"dimensions value maxLength", dims["additionalProperties"].(map[string]any)["maxLength"], maxDimensionValueBytes},
			{"metadata maxProperties", level1["maxProperties"], maxMetadataMembers},
			{"metadata maxItems", level1["maxItems"], maxMetadataMembers},
			{"metadata key maxLength", level1["propertyNames"].(map[string]any)["maxLength"], maxMetadataKeyBytes},
			{"metadata levels", len(defs) - 2, maxMetadataDepth}, // metadata, levels 1..depth, and the scalar level
			{"code pattern", line["account"].(map[string]any)["pattern"], fmt.Sprintf("^[A-Za-z0-9][A-Za-z0-9._-]{0,%d}$", maxCodeBytes-1)},
			{"amount pattern", line["debit"].(map[string]any)["pattern"], fmt.Sprintf(`^(0|[1-9][0-9]{0,%d})(\.[0-9]{1,3})?$`, maxBalanceIntegerDigits-1)},
			{"rate pattern", line["rate"].(map[string]any)["pattern"], fmt.Sprintf(`^(0|[1-9][0-9]{0,%d})(\.[0-9]{1,%d})?$`, MaxRateIntegerDigits-1, MaxRateFractionDigits)},
		} {
			if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
				t.Errorf("%s: %s is %v in the schema, %v in the ledger", typ, c.name, c.got, c.want)
			}
		}
	}
}

// TestEntriesAtEveryBoundMatchTheirEventSchema builds the events of entries at every bound
// (without a database) and validates them as the outbox relay does; one past a bound the
// ledger refuses the entry before any event exists.
func TestEntriesAtEveryBoundMatchTheirEventSchema(t *testing.T) {
	set, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range BoundEntries("acme", "1200", "4000") {
		t.Run(name, func(t *testing.T) {
			p, err := parse(in)
			if err != nil {
				t.Fatal(err)
			}
			accounts := map[string]accountRef{}
			for _, code := range p.accountCodes() {
				accounts[code] = accountRef{ID: int64(len(accounts) + 1), Code: code, Type: Asset, Status: "active", Rule: EitherSide}
			}
			pst, err := newPosting(p, "EUR", accounts, func(string) (Amount, bool) { return Amount{}, false })
			if err != nil {
				t.Fatal(err)
			}
			out := make([]*Entry, 1)
			var b pgx.Batch
			if _, err := queueWrites(context.Background(), &b, []*posting{pst}, []bookRef{{ID: 1, Code: "acme", Currency: "EUR"}},
				[]postOptions{{kind: "standard"}}, "tester", time.Now(), out); err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(out[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := set.Validate(EventEntryPosted, data); err != nil {
				t.Fatalf("%.300s", err)
			}
		})
	}
	deeper := BoundEntries("acme", "1200", "4000")["deepest metadata"]
	deeper.Metadata = json.RawMessage(strings.Replace(string(deeper.Metadata), `"leaf"`, `{"a":"leaf"}`, 1))
	if _, err := parse(deeper); err == nil || !strings.Contains(err.Error(), "nests deeper than") {
		t.Fatalf("metadata one level deeper: %v", err)
	}
}
