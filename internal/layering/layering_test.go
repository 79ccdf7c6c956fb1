package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const root = "../.."

// TestTheModuleFollowsTheLayering runs the check over every package of the module, with
// the build tags make uses.
func TestTheModuleFollowsTheLayering(t *testing.T) {
	pkgs := listModule(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages; expected the whole module", len(pkgs))
	}
	for _, v := range Check(pkgs) {
		t.Error(v)
	}
}

// listModule asks go list for every package's imports, keeping those inside the module.
func listModule(t *testing.T) []Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-tags=duckdb_arrow", "-json=ImportPath,Imports,TestImports,XTestImports,Error", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
			Error                              *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Error != nil {
			// A package another change leaves broken still has the imports go list could read.
			t.Logf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, Package{
			Path:        inModule(p.ImportPath),
			Imports:     inModuleOnly(p.Imports),
			TestImports: inModuleOnly(slices.Concat(p.TestImports, p.XTestImports)),
		})
	}
	return pkgs
}

func inModule(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, Module), "/") }

func inModuleOnly(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == Module || strings.HasPrefix(p, Module+"/") {
			out = append(out, inModule(p))
		}
	}
	return out
}

// TestAWrongWayImportFailsNamingIt runs the check over a made-up graph, so the real tree
// stays clean while the test shows what a wrong-way import looks like.
func TestAWrongWayImportFailsNamingIt(t *testing.T) {
	clean := []Package{
		{Path: "platform/httpx", Imports: []string{"platform"}},
		{Path: "ledger", Imports: []string{"platform/httpx", "governance/access", "connectors/outbox", "schemas"}},
		{Path: "pipelines", Imports: []string{"connectors/kafka", "features/offline"}, TestImports: []string{"ledger", "app/devstack"}},
		{Path: "features", Imports: []string{"pipelines", "features/offline"}},
		{Path: "features/server", Imports: []string{"features", "catalog"}},
		{Path: "ledger/ledgertest", Imports: []string{"ledger", "internal/apitest"}},
		{Path: "app", Imports: []string{"ledger", "features/server", "workflows/ingest"}},
	}
	clean = withExceptions(clean)
	if v := Check(clean); len(v) != 0 {
		t.Fatalf("a graph that follows the table fails: %v", v)
	}

	cases := []struct {
		name string
		pkg  Package
		want string
	}{
		{"platform reaches a domain", Package{Path: "platform/auth", Imports: []string{"ledger"}},
			"platform/auth imports ledger (part ledger), the wrong way: platform may import internal/testenv"},
		{"an upstream part reaches downstream", Package{Path: "features/online", Imports: []string{"models"}},
			"features/online imports models (part models), the wrong way"},
		{"a pipeline reaches past the offline store", Package{Path: "pipelines", Imports: []string{"features"}},
			"pipelines imports features (part features), the wrong way"},
		{"a domain reaches the composition root", Package{Path: "ledger", Imports: []string{"app"}},
			"ledger imports app (part app)"},
		{"a workflow reaches an HTTP package", Package{Path: "workflows/training", Imports: []string{"features/server"}},
			"workflows/training imports features/server (part features/server)"},
		{"governance reaches a domain", Package{Path: "governance/audit", Imports: []string{"ledger"}},
			"governance/audit imports ledger"},
		{"a test reaches downstream", Package{Path: "ledger", TestImports: []string{"features"}},
			"ledger's tests imports features"},
		{"a folder outside the table", Package{Path: "billing"},
			"billing belongs to no part"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Check(append(slices.Clone(clean), c.pkg))
			if len(got) != 1 || !strings.Contains(got[0].Message, c.want) {
				t.Fatalf("violations = %v, want one containing %q", got, c.want)
			}
		})
	}

	t.Run("an exception no import needs", func(t *testing.T) {
		saved := Exceptions
		Exceptions = []Exception{{From: "catalog", To: "features", Until: "a made-up exception"}}
		defer func() { Exceptions = saved }()
		got := Check(clean[:1])
		if len(got) != len(Exceptions) || !strings.Contains(got[0].Message, "is no longer needed") {
			t.Fatalf("violations = %v, want each exception reported as no longer needed", got)
		}
	})
}

// withExceptions adds to pkgs the imports the exceptions allow, so a made-up graph uses
// each exception once.
func withExceptions(pkgs []Package) []Package {
	for _, e := range Exceptions {
		pkgs = append(pkgs, Package{Path: e.From, Imports: []string{e.To}})
	}
	return pkgs
}

// TestEveryPartOfTheTableIsAPart: each part the table names as importable is itself a row,
// so a typo cannot allow nothing silently.
func TestEveryPartOfTheTableIsAPart(t *testing.T) {
	for part, may := range Allowed {
		for _, m := range may {
			if _, ok := Allowed[m]; !ok && m != anything {
				t.Errorf("%s may import %q, which is not a part", part, m)
			}
		}
	}
	for _, p := range slices.Concat(DataPath, TestSupport) {
		if _, ok := Allowed[p]; !ok {
			t.Errorf("%q is not a part", p)
		}
	}
}

// domainWords are the users' and the domains' words that platform/ must not use in the
// names it declares.
var domainWords = []string{"ledger", "journal", "account", "finance", "feature", "pipeline", "catalog",
	"model", "drift", "lineage", "audit", "trainer", "engineer", "compliance", "approver"}

// platformWordExceptions are packages under platform/ that still carry domain words, with
// what removes them.
var platformWordExceptions = map[string]string{
	// Config declares every part's settings in one struct so that one file documents them
	// all (docs/configuration.md); removed when each part brings its own section from app/.
	"platform/config": "each part's settings are declared in platform/config",
}

// TestPlatformNamesNoDomainWords: no name declared under platform/ (types, functions,
// methods, constants, variables, fields) holds a domain word.
func TestPlatformNamesNoDomainWords(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(root, "platform"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		if _, ok := platformWordExceptions[filepath.ToSlash(rel)]; ok {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, name := range declaredNames(f) {
			if w := domainWord(name.Name); w != "" {
				t.Errorf("%s: %s names %q, a domain word; platform/ is plumbing, move the name to the part it belongs to",
					fset.Position(name.Pos()), name.Name, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func domainWord(name string) string {
	lower := strings.ToLower(name)
	for _, w := range domainWords {
		if strings.Contains(lower, w) {
			return w
		}
	}
	return ""
}

// declaredNames returns every identifier f declares at package level, with the fields and
// methods of its types.
func declaredNames(f *ast.File) []*ast.Ident {
	var out []*ast.Ident
	fields := func(fl *ast.FieldList) {
		if fl == nil {
			return
		}
		for _, fd := range fl.List {
			out = append(out, fd.Names...)
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			out = append(out, d.Name)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.ValueSpec:
					out = append(out, s.Names...)
				case *ast.TypeSpec:
					out = append(out, s.Name)
					switch tt := s.Type.(type) {
					case *ast.StructType:
						fields(tt.Fields)
					case *ast.InterfaceType:
						fields(tt.Methods)
					}
				}
			}
		}
	}
	return out
}

func TestDomainWordsAreFoundInNames(t *testing.T) {
	for name, want := range map[string]string{"RoleFinance": "finance", "ModelVersion": "model", "Router": "", "KindInvalid": ""} {
		if got := domainWord(name); got != want {
			t.Errorf("domainWord(%q) = %q, want %q", name, got, want)
		}
	}
}
