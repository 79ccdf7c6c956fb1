package offline

import "strings"

// The text helpers every SQL-building package shares (no build tag: they need no DuckDB).

// Placeholder is how a transform names the batch it reads.
const Placeholder = "{{batch}}"

// transformAlias is the alias of a transform in the query that runs it.
const transformAlias = "codexion_transform"

// QuoteIdent writes name as a quoted SQL identifier. Every identifier that reaches SQL from
// a request or a spec goes through it, whatever checks it passed before.
func QuoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// WrapTransform embeds a transform (with {{batch}} replaced by table) as a subquery, in the
// one form that CheckTransform checked: newlines keep a trailing comment inside it.
func WrapTransform(transform, table string) string {
	transform = strings.TrimRight(transform, " \t\r\n;")
	return "(\n" + strings.ReplaceAll(transform, Placeholder, table) + "\n) AS " + transformAlias
}

// WrapExpr embeds a feature expression as CheckExpr checked it.
func WrapExpr(expr string) string { return "(\n" + expr + "\n)" }
