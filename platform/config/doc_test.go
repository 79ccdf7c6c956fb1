package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md")

const docPath = "../../docs/configuration.md"

const docHead = `# Configuration

Every setting, with its environment variable and default. Precedence, lowest to highest:
defaults, ` + "`codexion.yaml`" + ` (or ` + "`--config FILE`" + `, or ` + "`$CODEXION_CONFIG`" + `), ` + "`CODEXION_*`" + ` environment
variables, then ` + "`--key.path`" + ` flags. ` + "`codexion config print`" + ` shows the effective values, secrets
redacted, with where each came from. This file is generated from the code: run
` + "`go test ./platform/config -run TestConfigDoc -update`" + ` after changing a setting.

`

// TestConfigDocIsCurrent keeps docs/configuration.md in step with the Config struct.
func TestConfigDocIsCurrent(t *testing.T) {
	want := docHead + MarkdownTable()
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("docs/configuration.md is stale; run go test ./platform/config -run TestConfigDoc -update")
	}
	if !strings.Contains(want, "`CODEXION_DATABASE_URL`") {
		t.Fatal("table lacks CODEXION_DATABASE_URL")
	}
}
