package ledger

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestEventSchemaStatesTheLedgersBounds holds the entry events' schemas to the constants
// the ledger validates with, so neither can move alone.
func TestEventSchemaStatesTheLedgersBounds(t *testing.T) {
	set := eventSet(t)
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
			{"reference.maxLength", props["reference"].(map[string]any)["maxLength"], MaxTextBytes},
			{"description.maxLength", props["description"].(map[string]any)["maxLength"], MaxTextBytes},
			{"lines.maxItems", lines["maxItems"], maxClosingLines},
			{"memo.maxLength", line["memo"].(map[string]any)["maxLength"], MaxTextBytes},
			{"dimensions.maxProperties", dims["maxProperties"], MaxDimensions},
			{"dimensions key maxLength", dims["propertyNames"].(map[string]any)["maxLength"], MaxDimensionKeyBytes},
			{"dimensions value maxLength", dims["additionalProperties"].(map[string]any)["maxLength"], MaxDimensionValueBytes},
			{"metadata maxProperties", level1["maxProperties"], MaxMetadataMembers},
			{"metadata maxItems", level1["maxItems"], MaxMetadataMembers},
			{"metadata key maxLength", level1["propertyNames"].(map[string]any)["maxLength"], MaxMetadataKeyBytes},
			{"metadata levels", len(defs) - 2, MaxMetadataDepth},
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
