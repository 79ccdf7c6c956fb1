package features

import (
	"fmt"
	"strings"
	"time"

	"github.com/codexion/codexion/features/offline"
)

// q quotes an identifier; every column and table name below goes through it.
func q(name string) string { return offline.QuoteIdent(name) }

// The SQL a view compiles to, in two forms that must agree: OnlineSQL computes every
// entity's values as of one instant with FILTERed aggregates (materialization, stream
// updates, the online store); HistoricalSQL computes them as of each entity row's own
// timestamp with window functions over the union of feature rows and entity rows, so a
// training set costs one sort, not a join per row. Both count a row at time t for an
// instant T when t <= T, and for a window W when T - W <= t <= T.

// TimestampLiteral writes t as a DuckDB TIMESTAMP literal (UTC, microseconds).
func TimestampLiteral(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05.999999") + "'"
}

// QuoteString writes s as a SQL string literal.
func QuoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func interval(d Duration) string {
	return fmt.Sprintf("INTERVAL '%d microseconds'", time.Duration(d).Microseconds())
}

// sourceRows selects the view's rows with its key, time and feature expressions.
func (v View) sourceRows(where string) string {
	created := "CAST(" + q(v.Source.TimestampColumn) + " AS TIMESTAMP)"
	if v.Source.CreatedColumn != "" {
		created = "CAST(" + q(v.Source.CreatedColumn) + " AS TIMESTAMP)"
	}
	cols := []string{
		"CAST(" + q(v.Source.EntityColumn) + " AS VARCHAR) AS __key",
		"CAST(" + q(v.Source.TimestampColumn) + " AS TIMESTAMP) AS __ts",
		created + " AS __created",
	}
	for i, f := range v.Features {
		if f.Column != "" {
			// The expression was checked (offline.CheckExpr) in exactly this wrapping.
			cols = append(cols, fmt.Sprintf("%s AS __f%d", offline.WrapExpr(f.Column), i))
		}
	}
	sel := "SELECT " + strings.Join(cols, ", ") + " FROM " + q(v.Source.Table)
	if where != "" {
		sel += " WHERE " + where
	}
	return sel
}

// KeysIn is a filter for OnlineSQL: only these entities.
func (v View) KeysIn(keys []string) string {
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = QuoteString(k)
	}
	return "CAST(" + q(v.Source.EntityColumn) + " AS VARCHAR) IN (" + strings.Join(quoted, ", ") + ")"
}

// ActiveBetween is a filter for OnlineSQL: entities with a row in [from, to].
func (v View) ActiveBetween(from, to time.Time) string {
	ts := "CAST(" + q(v.Source.TimestampColumn) + " AS TIMESTAMP)"
	return "CAST(" + q(v.Source.EntityColumn) + " AS VARCHAR) IN (SELECT DISTINCT CAST(" + q(v.Source.EntityColumn) +
		" AS VARCHAR) FROM " + q(v.Source.Table) + " WHERE " + ts + " BETWEEN " + TimestampLiteral(from) + " AND " + TimestampLiteral(to) + ")"
}

// OnlineSQL returns SQL with columns __key, __event_ts and one per feature (named as the
// feature), for each entity with a row at or before asOf; filter (KeysIn, ActiveBetween),
// when given, limits the entities. It is one hash aggregation over the rows: the latest
// row's values come from arg_max_null on (timestamp, created), not from a sort of every row.
func (v View) OnlineSQL(asOf time.Time, filter string) string {
	t := TimestampLiteral(asOf)
	// A row without an entity belongs to none: it has no online value to keep.
	where := "CAST(" + q(v.Source.TimestampColumn) + " AS TIMESTAMP) <= " + t + " AND " + q(v.Source.EntityColumn) + " IS NOT NULL"
	if filter != "" {
		where += " AND " + filter
	}
	cols := []string{"__key", "max(__ts) AS __event_ts"}
	for i, f := range v.Features {
		var agg string
		switch f.agg() {
		case "last":
			// The latest row's value, NULL included; ties on both times go to either row.
			agg = fmt.Sprintf("arg_max_null(__f%d, struct_pack(t := __ts, c := __created))", i)
		case "days_since_last":
			agg = fmt.Sprintf("date_diff('microsecond', max(__ts), %s) / 86400000000.0", t)
		default:
			filter := ""
			if f.Window > 0 {
				filter = fmt.Sprintf(" FILTER (WHERE __ts >= %s - %s)", t, interval(f.Window))
			}
			agg = fmt.Sprintf("%s(__f%d)%s", f.agg(), i, filter)
			if f.agg() == "sum" {
				agg = "coalesce(" + agg + ", 0)"
			}
		}
		cols = append(cols, agg+" AS "+q(f.Name))
	}
	return "WITH rows AS (" + v.sourceRows(where) + ")\nSELECT " + strings.Join(cols, ", ") + " FROM rows GROUP BY __key"
}

// HistoricalSQL returns SQL with columns __row, __event_ts and one per feature, for every
// row of entityRows (a table with __row, __key and __ts columns), as of the row's __ts and
// within the view's TTL: values whose latest event is older than the TTL are NULL, and no
// row later than __ts is ever read.
func (v View) HistoricalSQL(entityRows string) string {
	order := "PARTITION BY __key ORDER BY __ts"
	rows := "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
	sel := []string{
		"__row", "__ts AS __asof",
		"max(CASE WHEN __req = 0 THEN __ts END) OVER (" + order + ", __req " + rows + ") AS __event_ts",
	}
	for i, f := range v.Features {
		var e string
		switch f.agg() {
		case "last":
			e = fmt.Sprintf("(last_value(CASE WHEN __req = 0 THEN struct_pack(v := __f%d) END IGNORE NULLS) OVER (%s, __req, __created %s)).v", i, order, rows)
		case "days_since_last":
			continue // from __event_ts below
		default:
			frame := "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
			if f.Window > 0 {
				frame = "RANGE BETWEEN " + interval(f.Window) + " PRECEDING AND CURRENT ROW"
			}
			e = fmt.Sprintf("%s(__f%d) OVER (%s %s)", f.agg(), i, order, frame)
			if f.agg() == "sum" {
				e = "coalesce(" + e + ", 0)"
			}
		}
		sel = append(sel, e+" AS __v"+fmt.Sprint(i))
	}
	inner := "WITH u AS (SELECT *, 0 AS __req, CAST(NULL AS BIGINT) AS __row FROM (" + v.sourceRows("") + ")" +
		" UNION ALL BY NAME SELECT __key, __ts, 1 AS __req, __row FROM " + entityRows + ")\n" +
		"SELECT " + strings.Join(sel, ", ") + " FROM u QUALIFY __req = 1"
	keep := "__event_ts IS NOT NULL"
	if v.TTL > 0 {
		keep += " AND __asof - __event_ts <= " + interval(v.TTL)
	}
	out := []string{"__row", "CASE WHEN " + keep + " THEN __event_ts END AS __event_ts"}
	for i, f := range v.Features {
		val := fmt.Sprintf("__v%d", i)
		if f.agg() == "days_since_last" {
			val = "date_diff('microsecond', __event_ts, __asof) / 86400000000.0"
		}
		out = append(out, "CASE WHEN "+keep+" THEN "+val+" END AS "+q(f.Name))
	}
	return "SELECT " + strings.Join(out, ", ") + " FROM (" + inner + ")"
}
