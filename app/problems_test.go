package app

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/codexion/codexion/internal/testenv"
	"github.com/codexion/codexion/platform"
)

// problemsDoc renders docs/problems.md from the declared codes.
func problemsDoc(codes []platform.Code) string {
	var b strings.Builder
	b.WriteString(`# Problem codes

<!-- Generated from app.Problems() by ` + "`go test ./app -run TestProblemCodes -update`" + `. -->

Every error answer is ` + "`application/problem+json`" + ` (RFC 9457) with a stable ` + "`code`" + `
that clients may switch on; ` + "`type`" + ` is ` + "`https://codexion.dev/problems/<code>`" + `, ` + "`detail`" + `
says what to fix, ` + "`fields`" + ` names each wrong field, and ` + "`request_id`" + ` ties it to the logs.
Each code is declared once, by the part that answers with it. The schema registry answers in
Confluent's error form instead (numeric ` + "`error_code`" + `), as its clients expect.

| code | status | meaning | declared in |
| --- | --- | --- | --- |
`)
	for _, c := range codes {
		fmt.Fprintf(&b, "| `%s` | %d | %s | %s |\n", c.Code, c.HTTPStatus(), c.Doc, declaredIn(c))
	}
	return b.String()
}

// declaredIn names the package that declares c, from the Go source.
var declarations = map[string]string{}

func declaredIn(c platform.Code) string { return declarations[c.Code] }

// TestProblemCodesAreDeclaredOnceAndListed: every code is declared once (one kind, a
// meaning), no code is written as a literal where an error is made, and docs/problems.md
// lists them all.
func TestProblemCodesAreDeclaredOnceAndListed(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^\s*(Code\w+)\s*=\s*(?:platform\.)?Code\{Kind: (?:platform\.)?Kind\w+, Code: "([a-z_]+)"`)
	literal := regexp.MustCompile(`platform\.E\(|[^.\w]E\(Kind\w+, "|(platform\.Error|Problem)\{[^}]*Code: "|\.Code = "`)
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		src := string(raw)
		for _, m := range decl.FindAllStringSubmatch(src, -1) {
			if prev, ok := declarations[m[2]]; ok {
				t.Errorf("code %s is declared in %s and in %s", m[2], prev, filepath.Dir(rel))
			}
			declarations[m[2]] = filepath.ToSlash(filepath.Dir(rel))
		}
		if rel == filepath.Join("platform", "platform.go") || rel == filepath.Join("platform", "problems.go") {
			return nil // where E and Code are defined
		}
		for i, line := range strings.Split(src, "\n") {
			if literal.MatchString(line) {
				t.Errorf("%s:%d: a problem code written where the error is made; declare it (platform.Code) and use it: %s", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	codes := Problems()
	seen := map[string]bool{}
	for _, c := range codes {
		switch {
		case seen[c.Code]:
			t.Errorf("code %s is listed twice", c.Code)
		case c.Doc == "" || c.HTTPStatus() == 0:
			t.Errorf("code %s has no meaning or status", c.Code)
		case declarations[c.Code] == "":
			t.Errorf("code %s is not declared as a platform.Code in the source", c.Code)
		}
		seen[c.Code] = true
	}
	for code, where := range declarations {
		if !seen[code] {
			t.Errorf("code %s (declared in %s) is missing from app.Problems()", code, where)
		}
	}
	path := filepath.Join(root, "docs", "problems.md")
	want := problemsDoc(codes)
	if *updateDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("docs/problems.md is not what app.Problems() gives (%v): go test ./app -run TestProblemCodes -update", err)
	}
}
