package config

import (
	"fmt"
	"strings"
)

// MarkdownTable renders every setting as a Markdown table for docs/configuration.md.
func MarkdownTable() string {
	def := Default()
	var b strings.Builder
	b.WriteString("| key | environment | default | description |\n| --- | --- | --- | --- |\n")
	for _, f := range Fields(&def) {
		v := f.String()
		if v == "" {
			v = "—"
		} else {
			v = "`" + v + "`"
		}
		help := f.Help
		if f.Secret {
			help += "; secret: also `" + f.Env + "_FILE`, never printed"
		}
		if len(f.OneOf) > 0 {
			help += " (" + strings.Join(f.OneOf, ", ") + ")"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", f.Path, f.Env, v, help)
	}
	return b.String()
}
