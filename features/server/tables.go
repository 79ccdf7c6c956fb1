package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/httpx"
)

// Table is an offline table as listed.
type Table struct {
	Name    string          `json:"name"`
	Rows    int64           `json:"rows"`
	Columns []offlineColumn `json:"columns"`
}

// Tables browses the offline store's tables.
type Tables struct{ s *Server }

// Tables returns the offline table browser.
func (s *Server) Tables() *Tables { return &Tables{s: s} }

// List lists the offline store's user tables (not its bookkeeping or job tables).
func (t *Tables) List(ctx context.Context) ([]Table, error) {
	rows, err := t.s.Offline.DB().QueryContext(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'main' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'codexion\_%' ESCAPE '\' ORDER BY table_name`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	out := []Table{}
	for _, n := range names {
		tab := Table{Name: n}
		if tab.Columns, err = t.s.Offline.Columns(ctx, n); err != nil {
			return nil, err
		}
		if err := t.s.Offline.DB().QueryRowContext(ctx, `SELECT count(*) FROM `+qi(n)).Scan(&tab.Rows); err != nil {
			return nil, err
		}
		out = append(out, tab)
	}
	return out, nil
}

// Rows returns up to limit rows of table as JSON objects, optionally only those whose
// column equals value, newest first by orderBy when given.
func (t *Tables) Rows(ctx context.Context, table, column, value, orderBy string, limit int) ([]map[string]any, error) {
	cols, err := t.s.Offline.Columns(ctx, table)
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 || strings.HasPrefix(table, "codexion_") {
		return nil, platform.NotFound("offline table %s does not exist", table)
	}
	has := func(c string) bool {
		return slices.ContainsFunc(cols, func(x offlineColumn) bool { return x.Name == c })
	}
	q := "SELECT * FROM " + qi(table)
	var args []any
	for _, c := range []string{column, orderBy} {
		if c != "" && !has(c) {
			return nil, platform.Invalid("%s is not a column of %s (columns: %s)", c, table, columnNames(cols))
		}
	}
	if column != "" {
		q += " WHERE CAST(" + qi(column) + " AS VARCHAR) = ?"
		args = append(args, value)
	}
	if orderBy != "" {
		q += " ORDER BY " + qi(orderBy) + " DESC"
	}
	q += " LIMIT " + strconv.Itoa(limit)
	rows, err := t.s.Offline.DB().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, _ := rows.Columns()
	out := []map[string]any{}
	for rows.Next() {
		cells := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range cells {
			ptrs[i] = &cells[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(map[string]any, len(names))
		for i, n := range names {
			row[n] = jsonValue(cells[i])
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func (h *Handler) listTables(w http.ResponseWriter, r *http.Request) error {
	t, err := h.srv.Tables().List(r.Context())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, t)
	return nil
}

func (h *Handler) tableRows(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10_000 {
			return platform.Invalid("limit %q: use 1 to 10000", l)
		}
		limit = n
	}
	column, value := "", ""
	if w := q.Get("where"); w != "" {
		var ok bool
		if column, value, ok = strings.Cut(w, "="); !ok {
			return platform.Invalid("where %q: write column=value", w)
		}
	}
	rows, err := h.srv.Tables().Rows(r.Context(), r.PathValue("name"), column, value, q.Get("order_by"), limit)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, rows)
	return nil
}
