// Package layering states which part of Codexion may import which, in one table, and
// checks an import graph against it. The test beside it runs the check over the module as
// `go list` sees it, so a wrong-way import fails `make test` naming the importing package,
// the imported one and what the importer may import instead. It never reads source text:
// imports are the whole contract.
package layering

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Module is the import path every part lives under.
const Module = "github.com/codexion/codexion"

// anything lets a part import every other part; only the composition root and the
// binary have it.
const anything = "*"

// domainBase is what every domain part may import: the plumbing, and the names of the
// roles its routes allow.
var domainBase = []string{"platform", "governance/access"}

// Allowed maps each part to the parts it may import. A part is a folder under the module;
// a package belongs to the longest part that is a prefix of its path, so a sub-part (the
// offline store, the feature store's HTTP package, the dev stack) can have rules of its
// own. A package may always import packages of its own part. Every package must belong to
// a part: a new top-level folder is declared here first, with the direction it takes.
//
// Data flows ledger → connectors → pipelines → features → models → serving. A part imports
// the parts upstream of it (a model reads feature views, the feature store reads pipeline
// specs), never those downstream: data goes down the path through events (the outbox,
// Kafka) and through ports that app/ connects. Connectors and schemas are the edges and
// contracts every part may use; the offline store is the storage pipelines append to and
// feature views read. Governance (audit, lineage) listens to everyone through events and
// ports, so it imports no domain. Only app/ and cmd/ know every part.
var Allowed = map[string][]string{
	// Plumbing with no domain words. Its test harnesses ask internal/testenv where the
	// project's root and tools are.
	"platform":         {"internal/testenv"},
	"internal/testenv": {},
	// Test harnesses and module-wide checks.
	"internal": {"platform", "governance/access", "internal/testenv"},

	// Names of who may do what; a leaf that every domain's routes read.
	"governance/access": {},
	"governance":        slices.Concat(domainBase, []string{"schemas", "connectors", "catalog"}),

	"schemas":    domainBase,
	"connectors": slices.Concat(domainBase, []string{"schemas"}),
	"catalog":    domainBase,

	"ledger":           slices.Concat(domainBase, []string{"schemas", "connectors"}),
	"pipelines":        slices.Concat(domainBase, []string{"schemas", "connectors", "catalog", "features/offline"}),
	"features/offline": {"platform"},
	"features":         slices.Concat(domainBase, []string{"schemas", "connectors", "catalog", "pipelines", "features/offline"}),
	"features/server": slices.Concat(domainBase, []string{"schemas", "connectors", "catalog", "pipelines",
		"features", "features/offline"}),
	"models": slices.Concat(domainBase, []string{"schemas", "connectors", "catalog", "pipelines",
		"features", "features/offline"}),
	"drift": slices.Concat(domainBase, []string{"schemas", "connectors", "catalog", "pipelines",
		"features", "features/offline", "models"}),
	"serving": slices.Concat(domainBase, []string{"schemas", "connectors", "catalog", "pipelines",
		"features", "features/offline", "models"}),
	"workflows": slices.Concat(domainBase, []string{"schemas", "connectors", "catalog", "ledger",
		"pipelines", "features", "features/offline", "models", "drift", "serving"}),

	// The embedded services of the dev stack and the scripts the binary carries.
	"app/devstack": {"platform"},
	"deploy":       {},

	"app": {anything},
	"cmd": {anything},
}

// DataPath is the order data flows in. A test may import a part upstream of its own, to
// produce real input (a pipeline's test posts entries through the real ledger).
var DataPath = []string{"ledger", "connectors", "pipelines", "features", "models", "serving"}

// TestSupport are parts any test may import besides what its part may. A test helper
// package (one whose name ends in "test", as ledgertest or pgtest) is held to the rules of
// tests, since only tests link it.
var TestSupport = []string{"internal", "internal/testenv", "app/devstack"}

// Exception is a wrong-way import that exists today, with what removes it. The check fails
// when an exception is no longer needed, so the list only shrinks.
type Exception struct {
	From, To string // package paths relative to the module
	Until    string // the change that removes it
}

// Exceptions are the wrong-way imports the tree still has: none. A new one needs a line
// here saying what removes it.
var Exceptions = []Exception{}

// Package is one package of the graph: its path relative to the module and the module
// packages it imports, in its own code and in its tests.
type Package struct {
	Path        string
	Imports     []string
	TestImports []string // both in-package and external (_test) test files
}

// Violation is one import that goes the wrong way, or a package or exception the table
// does not account for.
type Violation struct {
	From, To string
	Test     bool
	Message  string
}

func (v Violation) String() string { return v.Message }

// PartOf returns the part path belongs to, or "" if none.
func PartOf(path string) string {
	best := ""
	for part := range Allowed {
		if (path == part || strings.HasPrefix(path, part+"/")) && len(part) > len(best) {
			best = part
		}
	}
	return best
}

// Check returns every import in pkgs that the table does not allow, every package outside
// the table, and every exception that no import needs any more, sorted.
func Check(pkgs []Package) []Violation {
	var out []Violation
	used := make([]bool, len(Exceptions))
	for _, p := range pkgs {
		from := PartOf(p.Path)
		if from == "" {
			out = append(out, Violation{From: p.Path, Message: fmt.Sprintf(
				"%s belongs to no part; declare its folder in internal/layering's Allowed with the parts it may import", p.Path)})
			continue
		}
		for _, test := range []bool{false, true} {
			imports := p.Imports
			if test {
				imports = p.TestImports
			}
			for _, imp := range imports {
				to := PartOf(imp)
				if to == from || allows(from, to) || (test || isTestHelper(p.Path)) && testAllows(from, to) {
					continue
				}
				if i := exception(p.Path, imp); i >= 0 {
					used[i] = true
					continue
				}
				out = append(out, wrongWay(p.Path, imp, from, to, test))
			}
		}
	}
	for i, e := range Exceptions {
		if !used[i] {
			out = append(out, Violation{From: e.From, To: e.To, Message: fmt.Sprintf(
				"exception %s → %s is no longer needed; remove it from internal/layering's Exceptions", e.From, e.To)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Message < out[j].Message })
	return out
}

func allows(from, to string) bool {
	may := Allowed[from]
	return slices.Contains(may, anything) || slices.Contains(may, to)
}

func testAllows(from, to string) bool {
	if slices.Contains(TestSupport, to) {
		return true
	}
	f, t := slices.Index(DataPath, from), slices.Index(DataPath, to)
	return f >= 0 && t >= 0 && t < f
}

func isTestHelper(path string) bool {
	return strings.HasSuffix(path[strings.LastIndex(path, "/")+1:], "test")
}

func exception(from, to string) int {
	return slices.IndexFunc(Exceptions, func(e Exception) bool { return e.From == from && e.To == to })
}

func wrongWay(from, to, fromPart, toPart string, test bool) Violation {
	where := from
	if test {
		where = from + "'s tests"
	}
	what := fmt.Sprintf("part %s", toPart)
	if toPart == "" {
		what = "no part"
	}
	may := strings.Join(Allowed[fromPart], ", ")
	if may == "" {
		may = "nothing outside itself"
	}
	return Violation{From: from, To: to, Test: test, Message: fmt.Sprintf(
		"%s imports %s (%s), the wrong way: %s may import %s", where, to, what, fromPart, may)}
}
