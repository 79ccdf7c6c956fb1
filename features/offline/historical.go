//go:build duckdb_arrow

package offline

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PointInTime describes one point-in-time join: for every entity row, the latest feature
// row of the same entity at or before the entity row's timestamp, no older than TTL; rows
// with equal event timestamps are decided by the later created timestamp.
type PointInTime struct {
	EntityTable   string   // entity rows: EntityKey and EntityTime columns, plus anything else
	EntityKey     string   // key column, present in both tables
	EntityTime    string   // timestamp column of the entity rows
	FeatureTable  string   // feature rows
	FeatureTime   string   // event timestamp column of the feature rows
	CreatedTime   string   // created timestamp column; breaks ties between equal event times
	Features      []string // feature columns to return
	TTL           time.Duration
	ResultTable   string // created (or replaced) with the entity rows and the features
	FeaturePrefix string // prepended to feature names in the result, e.g. "account_activity__"
}

// PointInTimeJoin builds the training set into ResultTable and returns its row count. It
// never returns a feature value whose event time is after the entity row's timestamp.
func (s *Store) PointInTimeJoin(ctx context.Context, q PointInTime) (int64, error) {
	names := []string{q.EntityTable, q.EntityKey, q.EntityTime, q.FeatureTable, q.FeatureTime, q.CreatedTime, q.ResultTable}
	names = append(names, q.Features...)
	for _, n := range names {
		if !identifier.MatchString(n) {
			return 0, fmt.Errorf("%q is not a plain identifier", n)
		}
	}
	if q.FeaturePrefix != "" && !identifier.MatchString(q.FeaturePrefix) {
		return 0, fmt.Errorf("feature prefix %q is not a plain identifier", q.FeaturePrefix)
	}
	if len(q.Features) == 0 {
		return 0, fmt.Errorf("no features asked for")
	}
	var sel, latest []string
	for _, f := range q.Features {
		latest = append(latest, "f."+f)
		expr := "f." + f
		if q.TTL > 0 {
			expr = fmt.Sprintf("CASE WHEN e.%s - f.%s <= INTERVAL '%d microseconds' THEN f.%s END", q.EntityTime, q.FeatureTime, q.TTL.Microseconds(), f)
		}
		sel = append(sel, expr+" AS "+q.FeaturePrefix+f)
	}
	sql := fmt.Sprintf(`CREATE OR REPLACE TABLE %[1]s AS
		WITH latest AS (
			SELECT f.%[2]s, f.%[3]s, %[4]s FROM %[5]s f
			QUALIFY row_number() OVER (PARTITION BY f.%[2]s, f.%[3]s ORDER BY f.%[6]s DESC) = 1
		)
		SELECT e.*, %[7]s
		FROM %[8]s e ASOF LEFT JOIN latest f ON e.%[2]s = f.%[2]s AND e.%[9]s >= f.%[3]s`,
		q.ResultTable, q.EntityKey, q.FeatureTime, strings.Join(latest, ", "), q.FeatureTable, q.CreatedTime,
		strings.Join(sel, ", "), q.EntityTable, q.EntityTime)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.db.ExecContext(ctx, sql); err != nil {
		return 0, fmt.Errorf("point-in-time join into %s: %w", q.ResultTable, err)
	}
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+q.ResultTable).Scan(&n)
	return n, err
}
