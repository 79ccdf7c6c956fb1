//go:build duckdb_arrow

package offline

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// User SQL is checked on DuckDB's own parse tree (json_serialize_sql), never by looking at
// its text: a transform must be one SELECT that reads only its batch (and its own CTEs),
// and a feature expression one expression over its view's row, with no subquery. Neither
// may call a table function (read_csv, read_text, glob, query, ...), name a table by file
// ('x.csv'), name another schema or database, or read a setting. Each check parses the
// text exactly as it will be embedded later, so what was checked is what runs.

const (
	checkedBatch  = "codexion_batch" // the batch's name while a transform is checked
	exprSource    = "codexion_row"   // the table a feature expression is checked against
	maxUserSQLLen = 64 << 10         // bytes of one transform or expression
)

// deniedFunctions read the database's state or settings rather than a row's values.
var deniedFunctions = []string{"current_setting", "getvariable", "getenv", "current_database", "current_catalog"}

var deniedPrefixes = []string{"duckdb_", "pragma_"}

// CheckTransform refuses a transform that is not exactly one SELECT reading only the batch.
func (s *Store) CheckTransform(ctx context.Context, transform string) error {
	if !strings.Contains(transform, Placeholder) {
		return fmt.Errorf("transform must read the batch as %s", Placeholder)
	}
	node, err := s.parseOne(ctx, "SELECT * FROM "+WrapTransform(transform, checkedBatch), "transform")
	if err != nil {
		return err
	}
	from, _ := node["from_table"].(map[string]any)
	if !plainSelect(node) || str(from, "type") != "SUBQUERY" || str(from, "alias") != transformAlias {
		return fmt.Errorf("transform must be exactly one SELECT statement (a parenthesis or ';' ends it early)")
	}
	c := checker{what: "transform", subqueries: true}
	c.walk(from["subquery"], map[string]bool{checkedBatch: true})
	return c.err()
}

// CheckExpr refuses a feature expression that is not one expression over its view's row.
func (s *Store) CheckExpr(ctx context.Context, expr string) error {
	node, err := s.parseOne(ctx, "SELECT "+WrapExpr(expr)+" FROM "+exprSource, "expression")
	if err != nil {
		return err
	}
	from, _ := node["from_table"].(map[string]any)
	list, _ := node["select_list"].([]any)
	if !plainSelect(node) || len(list) != 1 || str(from, "type") != "BASE_TABLE" || str(from, "table_name") != exprSource {
		return fmt.Errorf("must be one expression over the source row (a parenthesis or ';' ends it early)")
	}
	c := checker{what: "expression"}
	c.walk(list, map[string]bool{})
	return c.err()
}

// parseOne parses q with DuckDB's parser and returns its one SELECT node.
func (s *Store) parseOne(ctx context.Context, q, what string) (map[string]any, error) {
	if len(q) > maxUserSQLLen {
		return nil, fmt.Errorf("%s is longer than %d bytes", what, maxUserSQLLen)
	}
	var out string
	if err := s.db.QueryRowContext(ctx, `SELECT CAST(json_serialize_sql(CAST(? AS VARCHAR)) AS VARCHAR)`, q).Scan(&out); err != nil {
		return nil, fmt.Errorf("parse the %s: %w", what, err)
	}
	var doc struct {
		Error      bool             `json:"error"`
		Type       string           `json:"error_type"`
		Message    string           `json:"error_message"`
		Statements []map[string]any `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return nil, fmt.Errorf("parse the %s: %w", what, err)
	}
	switch {
	case doc.Error && doc.Type == "not implemented":
		return nil, fmt.Errorf("%s must be one SELECT: other statements (COPY, ATTACH, SET, ...) are not allowed", what)
	case doc.Error:
		return nil, fmt.Errorf("%s: %s", what, firstLine(doc.Message))
	case len(doc.Statements) != 1:
		return nil, fmt.Errorf("%s must be exactly one SELECT statement, not %d", what, len(doc.Statements))
	}
	node, _ := doc.Statements[0]["node"].(map[string]any)
	return node, nil
}

// plainSelect reports whether node is a bare SELECT ... FROM ...: the wrapper, with nothing
// from the user's text leaking out of its parentheses into it.
func plainSelect(node map[string]any) bool {
	if str(node, "type") != "SELECT_NODE" || node["where_clause"] != nil || node["having"] != nil ||
		node["qualify"] != nil || node["sample"] != nil {
		return false
	}
	for _, k := range []string{"modifiers", "group_expressions", "group_sets"} {
		if l, _ := node[k].([]any); len(l) > 0 {
			return false
		}
	}
	cte, _ := node["cte_map"].(map[string]any)
	m, _ := cte["map"].([]any)
	return len(m) == 0
}

// checker walks a parse tree and collects what it may not do.
type checker struct {
	what       string
	subqueries bool
	problems   []string
}

func (c *checker) refuse(format string, args ...any) {
	p := fmt.Sprintf(format, args...)
	if !slices.Contains(c.problems, p) {
		c.problems = append(c.problems, p)
	}
}

func (c *checker) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", c.what, strings.Join(c.problems, "; "))
}

// walk checks v; tables are the names a table reference may use here: the batch and the
// CTEs in scope (a CTE is visible only inside the query that declares it).
func (c *checker) walk(v any, tables map[string]bool) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			c.walk(e, tables)
		}
	case map[string]any:
		if cte, ok := x["cte_map"].(map[string]any); ok {
			if m, _ := cte["map"].([]any); len(m) > 0 {
				tables = maps.Clone(tables)
				for _, e := range m {
					if e, ok := e.(map[string]any); ok {
						tables[strings.ToLower(str(e, "key"))] = true
					}
				}
			}
		}
		c.node(x, tables)
		for _, child := range x {
			c.walk(child, tables)
		}
	}
}

func (c *checker) node(x map[string]any, tables map[string]bool) {
	switch str(x, "class") {
	case "": // a table reference or a query node
		switch str(x, "type") {
		case "BASE_TABLE":
			name := str(x, "table_name")
			switch {
			case str(x, "schema_name") != "" || str(x, "catalog_name") != "":
				c.refuse("table %s: only %s may be read", strings.Trim(str(x, "catalog_name")+"."+str(x, "schema_name")+"."+name, "."), Placeholder)
			case !tables[strings.ToLower(name)]:
				c.refuse("table %q: only %s (and the query's own WITH tables) may be read", name, Placeholder)
			}
		case "TABLE_FUNCTION":
			fn, _ := x["function"].(map[string]any)
			c.refuse("table function %s: files, settings and other tables are out of reach; read %s", str(fn, "function_name"), Placeholder)
		}
	case "SUBQUERY":
		if !c.subqueries {
			c.refuse("a subquery is not allowed here; use the row's columns")
		}
	case "FUNCTION":
		name := strings.ToLower(str(x, "function_name"))
		if str(x, "schema") != "" || str(x, "catalog") != "" {
			c.refuse("function %s.%s: call functions by their plain name", str(x, "schema"), name)
		}
		if slices.Contains(deniedFunctions, name) || slices.ContainsFunc(deniedPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			c.refuse("function %s reads the database's state, not the row; it is not allowed", name)
		}
	}
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// maxCheckedSQL bounds the memo of checked transforms and expressions.
const maxCheckedSQL = 4096

// checkTransformOnce checks a transform before its first run: a catalog stored before a
// rule existed is held to it too.
func (s *Store) checkTransformOnce(ctx context.Context, transform string) error {
	return s.checkOnce(ctx, "transform\x00"+transform, func() error { return s.CheckTransform(ctx, transform) })
}

// CheckExprsOnce checks feature expressions before their first run in this process, for
// the same reason: SQL stored by an older version meets today's rules before it runs.
func (s *Store) CheckExprsOnce(ctx context.Context, exprs ...string) error {
	for _, e := range exprs {
		if err := s.checkOnce(ctx, "expr\x00"+e, func() error { return s.CheckExpr(ctx, e) }); err != nil {
			return err
		}
	}
	return nil
}

// checkOnce runs check unless key passed it before; only passes are remembered.
func (s *Store) checkOnce(ctx context.Context, key string, check func() error) error {
	s.checkedMu.Lock()
	ok := s.checked[key]
	s.checkedMu.Unlock()
	if ok {
		return nil
	}
	if err := check(); err != nil {
		return err
	}
	s.checkedMu.Lock()
	defer s.checkedMu.Unlock()
	if s.checked == nil || len(s.checked) >= maxCheckedSQL {
		s.checked = map[string]bool{}
	}
	s.checked[key] = true
	return nil
}
