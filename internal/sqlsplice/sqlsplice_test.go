// Package sqlsplice holds the check that keeps request data out of SQL text: every
// statement the project sends to PostgreSQL or DuckDB is a constant, or is built only
// from constants, numbers, the quoting helpers and the SQL builders that use them, or
// from a value a reviewer listed in allowed.txt with the reason it is safe. Values are
// bound as parameters; identifiers go through offline.QuoteIdent.
package sqlsplice

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// sqlMethods are the calls whose first string argument is SQL text.
var sqlMethods = []string{"Exec", "ExecContext", "Query", "QueryContext", "QueryRow", "QueryRowContext",
	"Prepare", "PrepareContext", "Queue"}

// builders return SQL that is safe by construction: they quote every identifier and write
// every value as a quoted literal (or take only checked user SQL; see features/offline).
var builders = []string{
	"github.com/codexion/codexion/features/offline.QuoteIdent",
	"github.com/codexion/codexion/features/server.qi", // offline.QuoteIdent
	"github.com/codexion/codexion/features.q",         // offline.QuoteIdent
	"github.com/codexion/codexion/features/offline.WrapTransform",
	"github.com/codexion/codexion/features/offline.WrapExpr",
	"github.com/codexion/codexion/features.QuoteString",
	"github.com/codexion/codexion/features.TimestampLiteral",
	"github.com/codexion/codexion/features.interval",
	"(github.com/codexion/codexion/features.View).OnlineSQL",
	"(github.com/codexion/codexion/features.View).HistoricalSQL",
	"(github.com/codexion/codexion/features.View).KeysIn",
	"(github.com/codexion/codexion/features.View).ActiveBetween",
	"(github.com/codexion/codexion/pipelines.Spec).BatchTable", // quoted names, types from a fixed list
	"github.com/codexion/codexion/pipelines.FileReader",        // a quoted path; the format from a fixed list
	"strconv.Itoa",
	"strconv.FormatInt",
}

// TestNoRequestDataIsSplicedIntoSQL: a statement built from a string that is neither a
// constant, nor made by a builder, nor listed with its reason in allowed.txt fails the build.
// The check follows values through local variables, into the functions that return SQL
// and back out to the callers of functions that pass a parameter on to SQL.
func TestNoRequestDataIsSplicedIntoSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the whole module")
	}
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes |
		packages.NeedTypesInfo, Dir: "../..", BuildFlags: []string{"-tags=duckdb_arrow"}}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatal(err)
	}
	m := &module{funcs: map[string]*fn{}, sinks: map[string]int{}}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Fatalf("load %s: %v", p.PkgPath, e)
		}
		for _, f := range p.Syntax {
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
					if obj, ok := p.TypesInfo.Defs[fd.Name].(*types.Func); ok {
						m.funcs[obj.FullName()] = &fn{decl: fd, info: p.TypesInfo, fset: p.Fset, pkg: p.PkgPath, obj: obj}
					}
				}
			}
		}
	}
	// A function that passes a parameter on to SQL becomes a sink itself; repeat until
	// no new sink is found, then report what reached SQL.
	var splices map[string]token.Position
	for range maxRounds {
		before := len(m.sinks)
		splices = m.check()
		if len(m.sinks) == before {
			break
		}
	}
	allowed := readAllowed(t)
	var found []string
	for key, pos := range splices {
		if !allowed[key] {
			found = append(found, fmt.Sprintf("%s: %s reaches SQL text", pos, key))
		}
	}
	slices.Sort(found)
	for _, f := range found {
		t.Errorf("%s\n\tquote it with offline.QuoteIdent, bind it as a parameter, or, if it cannot come from a request, list it in internal/sqlsplice/allowed.txt with why", f)
	}
	for k := range allowed {
		if _, ok := splices[k]; !ok {
			t.Errorf("allowed.txt lists %q, which no longer reaches SQL; remove the line", k)
		}
	}
}

const (
	maxRounds = 8  // of sink discovery
	maxDepth  = 48 // of expressions and calls followed
)

func readAllowed(t *testing.T) map[string]bool {
	f, err := os.Open("allowed.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, reason, ok := strings.Cut(line, " # ")
		if !ok || strings.TrimSpace(reason) == "" {
			t.Fatalf("allowed.txt: %q gives no reason (write: func: expr # why it is safe)", line)
		}
		out[strings.TrimSpace(key)] = true
	}
	return out
}

type module struct {
	funcs map[string]*fn // every function of the module, by types.Func.FullName
	sinks map[string]int // functions that pass a parameter (index) on to SQL text
	found map[string]token.Position
}

type fn struct {
	decl *ast.FuncDecl
	info *types.Info
	fset *token.FileSet
	pkg  string
	obj  *types.Func
}

// check walks every function for SQL calls and returns what reached SQL text.
func (m *module) check() map[string]token.Position {
	m.found = map[string]token.Position{}
	for _, f := range m.funcs {
		c := &checker{m: m, fn: f}
		ast.Inspect(f.decl.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if arg := c.sqlArg(call); arg != nil {
					c.expr(arg)
				}
			}
			return true
		})
	}
	return m.found
}

// checker follows expressions inside one function; bound maps the parameters of a
// function being followed for its return value to the caller's arguments.
type checker struct {
	m       *module
	fn      *fn
	bound   map[*types.Var]binding
	depth   int
	tracing map[*types.Var]bool // variables whose assignments are being followed
	caller  *checker
}

type binding struct {
	expr ast.Expr
	in   *checker
}

// sqlArg returns the SQL text argument of call, if call sends SQL.
func (c *checker) sqlArg(call *ast.CallExpr) ast.Expr {
	if sel, ok := call.Fun.(*ast.SelectorExpr); ok && slices.Contains(sqlMethods, sel.Sel.Name) {
		if _, isModule := c.m.funcs[c.fullName(call)]; !isModule {
			for _, arg := range call.Args {
				if isString(c.fn.info.TypeOf(arg)) {
					return arg
				}
			}
		}
	}
	if i, ok := c.m.sinks[c.fullName(call)]; ok && i < len(call.Args) {
		return call.Args[i]
	}
	return nil
}

func (c *checker) fullName(call *ast.CallExpr) string {
	if f, ok := callee(c.fn.info, call).(*types.Func); ok {
		return f.FullName()
	}
	return ""
}

// expr checks that e is built only from safe parts.
func (c *checker) expr(e ast.Expr) {
	if c.constString(e) != notConstant {
		return
	}
	if t := c.fn.info.TypeOf(e); t != nil && !isString(t) && !isStringSlice(t) {
		return // numbers, times, booleans: they print as themselves
	}
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > maxDepth {
		c.flag(e)
		return
	}
	switch x := e.(type) {
	case *ast.ParenExpr:
		c.expr(x.X)
	case *ast.BinaryExpr:
		c.expr(x.X)
		c.expr(x.Y)
	case *ast.CallExpr:
		c.call(x)
	case *ast.Ident:
		c.variable(x)
	case *ast.CompositeLit: // []string{...}
		for _, el := range x.Elts {
			c.expr(el)
		}
	case *ast.IndexExpr: // parts[i]: check what the slice holds
		c.expr(x.X)
	default:
		c.flag(e)
	}
}

func (c *checker) call(x *ast.CallExpr) {
	if b, ok := callee(c.fn.info, x).(*types.Builtin); ok {
		switch b.Name() {
		case "append":
			for _, a := range x.Args {
				c.expr(a)
			}
			return
		case "make": // empty strings
			return
		}
	}
	fn, _ := callee(c.fn.info, x).(*types.Func)
	if fn == nil {
		c.flag(x)
		return
	}
	name := fn.FullName()
	switch {
	case slices.Contains(builders, name):
	case name == "strings.ReplaceAll" && len(x.Args) == 3 && c.constString(x.Args[1]) == "'" && c.constString(x.Args[2]) == "''":
		// the body of a quoted SQL string literal: '...' with every quote doubled
	case name == "fmt.Sprintf" || name == "fmt.Sprint" || name == "strings.Join" || name == "strings.ReplaceAll" ||
		name == "strings.Replace" || name == "strings.Repeat" || name == "strings.TrimSpace":
		for _, a := range x.Args {
			c.expr(a)
		}
	case c.m.funcs[name] != nil && c.depth < maxDepth:
		c.returns(c.m.funcs[name], x, -1)
	default:
		c.flag(x)
	}
}

// result checks result i of a call that returns several values.
func (c *checker) result(e ast.Expr, i int) {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		c.flag(e)
		return
	}
	f, _ := callee(c.fn.info, call).(*types.Func)
	if f == nil || c.m.funcs[f.FullName()] == nil || c.depth >= maxDepth {
		c.flag(e)
		return
	}
	c.depth++
	defer func() { c.depth-- }()
	c.returns(c.m.funcs[f.FullName()], call, i)
}

// returns checks the strings a module function returns (result i, or all of them when i is
// -1), its parameters bound to the call's arguments.
func (c *checker) returns(f *fn, call *ast.CallExpr, i int) {
	in := &checker{m: c.m, fn: f, bound: map[*types.Var]binding{}, depth: c.depth, caller: c}
	sig := f.obj.Type().(*types.Signature)
	for i := range sig.Params().Len() {
		if i < len(call.Args) {
			in.bound[sig.Params().At(i)] = binding{call.Args[i], c}
		}
	}
	ast.Inspect(f.decl.Body, func(n ast.Node) bool {
		switch r := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			for j, res := range r.Results {
				if t := f.info.TypeOf(res); t != nil && (isString(t) || isStringSlice(t)) && (i < 0 || i == j) {
					in.expr(res)
				}
			}
		}
		return true
	})
}

// variable follows a local variable to every value assigned to it in the function.
func (c *checker) variable(id *ast.Ident) {
	obj, ok := c.fn.info.Uses[id].(*types.Var)
	if !ok {
		if _, isConst := c.fn.info.Uses[id].(*types.Const); isConst {
			return
		}
		c.flag(id)
		return
	}
	if b, ok := c.bound[obj]; ok {
		b.in.expr(b.expr)
		return
	}
	if i := c.param(obj); i >= 0 {
		if c.caller == nil {
			c.m.sinks[c.fn.obj.FullName()] = i // its callers' arguments are checked next round
		}
		return
	}
	if obj.Parent() == nil || obj.Parent() == obj.Pkg().Scope() {
		c.flag(id) // a package variable or a field: its values are out of sight here
		return
	}
	if c.tracing[obj] {
		return // parts = append(parts, x): the other assignments are being checked already
	}
	if c.tracing == nil {
		c.tracing = map[*types.Var]bool{}
	}
	c.tracing[obj] = true
	defer delete(c.tracing, obj)
	ast.Inspect(c.fn.decl.Body, func(n ast.Node) bool {
		switch s := n.(type) {
		case *ast.AssignStmt:
			for i, lhs := range s.Lhs {
				l, ok := lhs.(*ast.Ident)
				if !ok || (c.fn.info.Defs[l] != obj && c.fn.info.Uses[l] != obj) {
					continue
				}
				switch {
				case len(s.Rhs) == len(s.Lhs):
					c.expr(s.Rhs[i])
				case len(s.Rhs) == 1:
					c.result(s.Rhs[0], i) // one of several results of a call
				}
			}
		case *ast.ValueSpec:
			for i, n := range s.Names {
				if c.fn.info.Defs[n] == obj && i < len(s.Values) {
					c.expr(s.Values[i])
				}
			}
		case *ast.RangeStmt:
			if v, ok := s.Value.(*ast.Ident); ok && c.fn.info.Defs[v] == obj {
				c.expr(s.X)
			}
		}
		return true
	})
}

// param returns the index of v among the function's parameters, or -1.
func (c *checker) param(v *types.Var) int {
	s := c.fn.obj.Type().(*types.Signature)
	for i := range s.Params().Len() {
		if s.Params().At(i) == v {
			return i
		}
	}
	return -1
}

const notConstant = "\x00not a constant"

func (c *checker) constString(e ast.Expr) string {
	if tv, ok := c.fn.info.Types[e]; ok && tv.Value != nil && tv.Value.Kind() == constant.String {
		return constant.StringVal(tv.Value)
	}
	return notConstant
}

// flag records e as reaching SQL text, keyed by function and expression.
func (c *checker) flag(e ast.Expr) {
	d := c.fn.decl
	name := d.Name.Name
	if d.Recv != nil && len(d.Recv.List) > 0 {
		name = types.ExprString(d.Recv.List[0].Type) + "." + name
	}
	key := c.fn.pkg + "." + name + ": " + types.ExprString(e)
	if _, ok := c.m.found[key]; !ok {
		c.m.found[key] = c.fn.fset.Position(e.Pos())
	}
}

func isString(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsString != 0
}

func isStringSlice(t types.Type) bool {
	s, ok := t.Underlying().(*types.Slice)
	return ok && isString(s.Elem())
}

// callee returns the function, method or builtin a call calls, or nil.
func callee(info *types.Info, call *ast.CallExpr) types.Object {
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		return info.Uses[f]
	case *ast.SelectorExpr:
		if sel, ok := info.Selections[f]; ok {
			return sel.Obj()
		}
		return info.Uses[f.Sel]
	}
	return nil
}
