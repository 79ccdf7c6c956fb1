package models

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// View types of search-runs and search-experiments.
const (
	ViewActiveOnly  = "ACTIVE_ONLY"
	ViewDeletedOnly = "DELETED_ONLY"
	ViewAll         = "ALL"
)

// MaxSearchExperimentIDs bounds the experiments one search-runs names.
const MaxSearchExperimentIDs = 1000

// sqlBuilder gathers a WHERE clause with bound arguments: filter values never become SQL text.
type sqlBuilder struct {
	where []string
	args  []any
}

func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

func (b *sqlBuilder) add(format string, args ...any) {
	b.where = append(b.where, fmt.Sprintf(format, args...))
}

// queryArgs are the arguments of the built query, asking pgx to plan it afresh with its
// values each time (an unnamed statement, its description cached): a search's selectivity
// depends on the values (which metric, which threshold), and a cached generic plan chosen
// after a few runs can read every run where the values' plan reads a hundred.
func (b *sqlBuilder) queryArgs() []any {
	return append([]any{pgx.QueryExecModeCacheDescribe}, b.args...)
}

func (b *sqlBuilder) clause() string {
	if len(b.where) == 0 {
		return "true"
	}
	return strings.Join(b.where, " AND ")
}

// stringOps are the comparators on text; numberOps on numbers.
var (
	stringOps = map[string]string{"=": "=", "!=": "<>", "LIKE": "LIKE", "ILIKE": "ILIKE"}
	numberOps = map[string]string{"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
)

func viewStage(view string) (string, error) {
	switch view {
	case "", ViewActiveOnly, "1":
		return "= 'active'", nil
	case ViewDeletedOnly, "2":
		return "= 'deleted'", nil
	case ViewAll, "3":
		return "IS NOT NULL", nil
	}
	return "", invalidField("run_view_type", "Invalid view type %q: use ACTIVE_ONLY, DELETED_ONLY or ALL", view)
}

// textCompare adds "column op value" for a string comparison, or IN / NOT IN.
func (b *sqlBuilder) textCompare(filter, column string, c Clause) (string, error) {
	switch c.Comparator {
	case "IN":
		return column + " = ANY(" + b.arg(c.Values) + "::text[])", nil
	case "NOT IN":
		return "NOT (" + column + " = ANY(" + b.arg(c.Values) + "::text[]))", nil
	}
	op, ok := stringOps[c.Comparator]
	if !ok {
		return "", CodeBadFilter.New("Invalid comparator '%s' for %s %s in filter %q: use =, !=, LIKE or ILIKE", c.Comparator, c.Type, c.Key, truncate(filter))
	}
	if c.Number != nil {
		return "", CodeBadFilter.New("Invalid filter %q: the value of %s %s must be a quoted string, not %s", truncate(filter), c.Type, c.Key, c.Value)
	}
	return column + " " + op + " " + b.arg(c.Value), nil
}

func (b *sqlBuilder) numberCompare(filter, column string, c Clause) (string, error) {
	op, ok := numberOps[c.Comparator]
	if !ok {
		return "", CodeBadFilter.New("Invalid comparator '%s' for %s %s in filter %q: use =, !=, >, >=, <, <=", c.Comparator, c.Type, c.Key, truncate(filter))
	}
	if c.Number == nil {
		return "", CodeBadFilter.New("Invalid filter %q: the value of %s %s must be a number, not '%s'", truncate(filter), c.Type, c.Key, c.Value)
	}
	return column + " " + op + " " + b.arg(*c.Number), nil
}

// runAttributes are the attributes of a run a filter and order_by may name.
var runAttributes = map[string]struct {
	column string
	number bool
}{
	"run_id": {"r.run_id", false}, "run_name": {"r.run_name", false}, "status": {"r.status", false},
	"user_id": {"r.user_id", false}, "artifact_uri": {"r.artifact_uri", false},
	"start_time": {"r.start_time_ms", true}, "end_time": {"r.end_time_ms", true}, "created": {"r.start_time_ms", true},
	"Created": {"r.start_time_ms", true},
}

// runClause turns one filter clause into SQL over models_runs r.
func (b *sqlBuilder) runClause(filter string, c Clause) error {
	switch c.Type {
	case EntityMetric:
		cmp, err := b.numberCompare(filter, "m.value", c)
		if err != nil {
			return err
		}
		b.add("EXISTS (SELECT 1 FROM models_latest_metrics m WHERE m.run_id = r.run_id AND m.key = %s AND NOT m.is_nan AND %s)", b.arg(c.Key), cmp)
	case EntityParam, EntityTag:
		table := map[string]string{EntityParam: "models_params", EntityTag: "models_run_tags"}[c.Type]
		switch c.Comparator {
		case "IS NULL":
			b.add("NOT EXISTS (SELECT 1 FROM %s x WHERE x.run_id = r.run_id AND x.key = %s)", table, b.arg(c.Key))
			return nil
		case "IS NOT NULL":
			b.add("EXISTS (SELECT 1 FROM %s x WHERE x.run_id = r.run_id AND x.key = %s)", table, b.arg(c.Key))
			return nil
		}
		cmp, err := b.textCompare(filter, "x.value", c)
		if err != nil {
			return err
		}
		b.add("EXISTS (SELECT 1 FROM %s x WHERE x.run_id = r.run_id AND x.key = %s AND %s)", table, b.arg(c.Key), cmp)
	case EntityAttribute:
		a, ok := runAttributes[c.Key]
		if !ok {
			return CodeBadFilter.New("Invalid attribute key '%s' in filter %q: use one of run_id, run_name, status, user_id, artifact_uri, start_time, end_time", c.Key, truncate(filter))
		}
		var (
			cmp string
			err error
		)
		if a.number {
			cmp, err = b.numberCompare(filter, a.column, c)
		} else {
			cmp, err = b.textCompare(filter, a.column, c)
		}
		if err != nil {
			return err
		}
		b.add("%s", cmp)
	case EntityDataset:
		column := map[string]string{"name": "d.name", "digest": "d.digest", "context": "ctx.value"}[c.Key]
		if column == "" {
			return CodeBadFilter.New("Invalid dataset key '%s' in filter %q: use datasets.name, datasets.digest or datasets.context", c.Key, truncate(filter))
		}
		cmp, err := b.textCompare(filter, column, c)
		if err != nil {
			return err
		}
		b.add(`EXISTS (SELECT 1 FROM models_run_inputs i JOIN models_datasets d USING (dataset_id)
			LEFT JOIN LATERAL (SELECT t->>'value' AS value FROM jsonb_array_elements(i.tags) t WHERE t->>'key' = 'mlflow.data.context') ctx ON true
			WHERE i.run_id = r.run_id AND %s)`, cmp)
	}
	return nil
}

// RunSearch is what search-runs asks for.
type RunSearch struct {
	ExperimentIDs []string
	Filter        string
	ViewType      string
	MaxResults    int
	OrderBy       []string
	PageToken     string
}

type pageToken struct {
	Offset int `json:"offset"`
}

func decodePageToken(tok string) (int, error) {
	if tok == "" {
		return 0, nil
	}
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		raw, err = base64.URLEncoding.DecodeString(tok)
	}
	var pt pageToken
	if err != nil || json.Unmarshal(raw, &pt) != nil || pt.Offset < 0 {
		return 0, invalidField("page_token", "Invalid page token %q: pass the next_page_token of an earlier answer unchanged", truncate(tok))
	}
	return pt.Offset, nil
}

func encodePageToken(offset int) string {
	raw, _ := json.Marshal(pageToken{Offset: offset})
	return base64.StdEncoding.EncodeToString(raw)
}

// runOrder gives the SQL ORDER BY term for o over runs, joining what it needs; filtered
// holds the metrics the filter already requires to be present and not NaN.
func (b *sqlBuilder) runOrder(o OrderBy, i int, filtered map[string]bool, joins *[]string) (string, error) {
	dir := "ASC"
	if o.Desc {
		dir = "DESC"
	}
	alias := "o" + strconv.Itoa(i)
	switch o.Type {
	case EntityMetric:
		if filtered[o.Key] {
			// The filter keeps only runs where this metric is present and a number, so an
			// inner join orders the same and lets the metric's (key, value) index give the order.
			*joins = append(*joins, fmt.Sprintf("JOIN models_latest_metrics %s ON %s.run_id = r.run_id AND %s.key = %s", alias, alias, alias, b.arg(o.Key)))
			return fmt.Sprintf("%s.value %s", alias, dir), nil
		}
		*joins = append(*joins, fmt.Sprintf("LEFT JOIN models_latest_metrics %s ON %s.run_id = r.run_id AND %s.key = %s", alias, alias, alias, b.arg(o.Key)))
		// Runs without the metric sort last, NaN just before them, as MLflow sorts.
		return fmt.Sprintf("(%s.key IS NULL), %s.is_nan, %s.value %s", alias, alias, alias, dir), nil
	case EntityParam, EntityTag:
		table := map[string]string{EntityParam: "models_params", EntityTag: "models_run_tags"}[o.Type]
		*joins = append(*joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.run_id = r.run_id AND %s.key = %s", table, alias, alias, alias, b.arg(o.Key)))
		return fmt.Sprintf("(%s.key IS NULL), %s.value %s", alias, alias, dir), nil
	case EntityAttribute:
		a, ok := runAttributes[o.Key]
		if !ok {
			return "", CodeBadFilter.New("Invalid order_by attribute '%s': use one of run_id, run_name, status, user_id, artifact_uri, start_time, end_time", o.Key)
		}
		return fmt.Sprintf("(%s IS NULL), %s %s", a.column, a.column, dir), nil
	}
	return "", CodeBadFilter.New("Invalid order_by entity '%s': use metrics., params., tags. or attributes.", o.Type)
}

// SearchRuns finds runs of the given experiments that match the filter, in order, one
// page at a time. It returns the runs and the token of the next page ("" at the end).
func (s *Store) SearchRuns(ctx context.Context, q RunSearch) ([]Run, string, error) {
	if len(q.ExperimentIDs) > MaxSearchExperimentIDs {
		return nil, "", invalidField("experiment_ids", "search-runs names at most %d experiments, got %d", MaxSearchExperimentIDs, len(q.ExperimentIDs))
	}
	ids := make([]int64, 0, len(q.ExperimentIDs))
	for _, id := range q.ExperimentIDs {
		n, err := experimentID("experiment_ids", id)
		if err != nil {
			return nil, "", err
		}
		ids = append(ids, n)
	}
	limit := q.MaxResults
	switch {
	case limit == 0:
		limit = MaxResultsDefault
	case limit < 0 || limit > MaxResultsRuns:
		return nil, "", invalidField("max_results", "Invalid value %d for parameter 'max_results' supplied. It must be at most %d, and positive.", limit, MaxResultsRuns)
	}
	offset, err := decodePageToken(q.PageToken)
	if err != nil {
		return nil, "", err
	}
	stage, err := viewStage(q.ViewType)
	if err != nil {
		return nil, "", err
	}
	clauses, err := ParseFilter(q.Filter)
	if err != nil {
		return nil, "", err
	}
	b := &sqlBuilder{}
	if len(ids) == 1 {
		// A plain equality lets the planner walk the experiment's index in start-time order.
		b.add("r.experiment_id = %s", b.arg(ids[0]))
	} else {
		b.add("r.experiment_id = ANY(%s::int8[])", b.arg(ids))
	}
	b.add("r.lifecycle_stage %s", stage)
	filtered := map[string]bool{}
	for _, c := range clauses {
		if err := b.runClause(q.Filter, c); err != nil {
			return nil, "", err
		}
		if c.Type == EntityMetric {
			filtered[c.Key] = true
		}
	}
	var (
		joins []string
		order []string
		from  = "models_runs r"
		where = b.clause()
	)
	for i, term := range q.OrderBy {
		o, err := ParseOrderBy(term)
		if err != nil {
			return nil, "", err
		}
		if i == 0 && len(ids) == 1 && o.Type == EntityMetric && filtered[o.Key] {
			// Ordered first by a metric the filter requires, in one experiment: walk that
			// experiment's values of the metric in order through their index, checking each
			// run against the filter, and stop after the page. The fences (OFFSET 0, LATERAL)
			// keep the planner from trading the walk for a join of every run, which its
			// estimates of filters over several key-value tables would have it do.
			dir := "ASC"
			if o.Desc {
				dir = "DESC"
			}
			from = fmt.Sprintf(`(SELECT run_id, value FROM models_latest_metrics WHERE experiment_id = %s AND key = %s AND NOT is_nan
				ORDER BY value %s OFFSET 0) o0 CROSS JOIN LATERAL (SELECT r.* FROM models_runs r WHERE r.run_id = o0.run_id AND %s OFFSET 0) r`,
				b.arg(ids[0]), b.arg(o.Key), dir, where)
			where = "true"
			order = append(order, "o0.value "+dir)
			continue
		}
		sql, err := b.runOrder(o, i, filtered, &joins)
		if err != nil {
			return nil, "", err
		}
		order = append(order, sql)
	}
	order = append(order, "r.start_time_ms DESC", "r.run_id")
	query := `SELECT ` + runInfoColumns + ` FROM ` + from + ` ` + strings.Join(joins, " ") +
		` WHERE ` + where + ` ORDER BY ` + strings.Join(order, ", ") +
		` OFFSET ` + b.arg(offset) + ` LIMIT ` + b.arg(limit+1)
	rows, err := s.db.Query(ctx, query, b.queryArgs()...)
	if err != nil {
		return nil, "", fmt.Errorf("search runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Run, error) {
		info, err := scanRunInfo(row)
		return Run{Info: info}, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("search runs: %w", err)
	}
	next := ""
	if len(runs) > limit {
		runs = runs[:limit]
		next = encodePageToken(offset + limit)
	}
	if err := s.withRunData(ctx, runs); err != nil {
		return nil, "", fmt.Errorf("search runs: %w", err)
	}
	return runs, next, nil
}

// ExperimentSearch is what search-experiments asks for.
type ExperimentSearch struct {
	Filter     string
	ViewType   string
	MaxResults int
	OrderBy    []string
	PageToken  string
}

var experimentAttributes = map[string]struct {
	column string
	number bool
}{
	"name": {"e.name", false}, "experiment_id": {"e.experiment_id::text", false},
	"creation_time": {"e.creation_time_ms", true}, "last_update_time": {"e.last_update_time_ms", true},
}

// SearchExperiments finds experiments by name, tags and times.
func (s *Store) SearchExperiments(ctx context.Context, q ExperimentSearch) ([]Experiment, string, error) {
	limit := q.MaxResults
	switch {
	case limit == 0:
		limit = MaxResultsDefault
	case limit < 0 || limit > MaxResultsExperiments:
		return nil, "", invalidField("max_results", "Invalid value %d for parameter 'max_results' supplied. It must be at most %d, and positive.", limit, MaxResultsExperiments)
	}
	offset, err := decodePageToken(q.PageToken)
	if err != nil {
		return nil, "", err
	}
	stage, err := viewStage(q.ViewType)
	if err != nil {
		return nil, "", err
	}
	clauses, err := ParseFilter(q.Filter)
	if err != nil {
		return nil, "", err
	}
	b := &sqlBuilder{}
	b.add("e.lifecycle_stage %s", stage)
	for _, c := range clauses {
		switch c.Type {
		case EntityTag:
			cmp, err := b.textCompare(q.Filter, "t.value", c)
			if err != nil {
				return nil, "", err
			}
			b.add("EXISTS (SELECT 1 FROM models_experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = %s AND %s)", b.arg(c.Key), cmp)
		case EntityAttribute:
			a, ok := experimentAttributes[c.Key]
			if !ok {
				return nil, "", CodeBadFilter.New("Invalid attribute key '%s' in filter %q: use name, creation_time or last_update_time", c.Key, truncate(q.Filter))
			}
			var cmp string
			if a.number {
				cmp, err = b.numberCompare(q.Filter, a.column, c)
			} else {
				cmp, err = b.textCompare(q.Filter, a.column, c)
			}
			if err != nil {
				return nil, "", err
			}
			b.add("%s", cmp)
		default:
			return nil, "", CodeBadFilter.New("Invalid filter %q: experiments are searched by name, tags., creation_time and last_update_time", truncate(q.Filter))
		}
	}
	var order []string
	for _, term := range q.OrderBy {
		o, err := ParseOrderBy(term)
		if err != nil {
			return nil, "", err
		}
		a, ok := experimentAttributes[o.Key]
		if o.Type != EntityAttribute || !ok {
			return nil, "", CodeBadFilter.New("Invalid order_by clause %q: experiments order by name, experiment_id, creation_time or last_update_time", truncate(term))
		}
		dir := "ASC"
		if o.Desc {
			dir = "DESC"
		}
		if o.Key == "experiment_id" {
			a.column = "e.experiment_id"
		}
		order = append(order, a.column+" "+dir)
	}
	order = append(order, "e.creation_time_ms DESC", "e.experiment_id")
	rows, err := s.db.Query(ctx, `SELECT `+experimentColumns+` FROM models_experiments e WHERE `+b.clause()+
		` ORDER BY `+strings.Join(order, ", ")+` OFFSET `+b.arg(offset)+` LIMIT `+b.arg(limit+1), b.queryArgs()...)
	if err != nil {
		return nil, "", fmt.Errorf("search experiments: %w", err)
	}
	exps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Experiment, error) { return scanExperiment(row) })
	if err != nil {
		return nil, "", fmt.Errorf("search experiments: %w", err)
	}
	next := ""
	if len(exps) > limit {
		exps = exps[:limit]
		next = encodePageToken(offset + limit)
	}
	return exps, next, nil
}
