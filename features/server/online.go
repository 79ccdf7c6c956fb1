package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/features/online"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/platform"
)

const epoch = "1970-01-01T00:00:00Z"

// resolve turns a request's features or service into refs.
func resolve(snap *features.Catalog, names []string, service string) ([]features.Ref, error) {
	switch {
	case service != "" && len(names) > 0:
		return nil, platform.Invalid("give features or feature_service, not both")
	case service != "":
		svc, ok := snap.Services[service]
		if !ok {
			return nil, platform.Invalid("feature_service %q is not in the catalog (services: %s)", service, strings.Join(sortedNames(snap.Services), ", "))
		}
		return snap.Resolve(svc.Spec.Features)
	case len(names) == 0:
		return nil, platform.Invalid("features or feature_service is required")
	}
	return snap.Resolve(names)
}

// resolveCached is resolve, remembered per catalog revision for the request shapes seen.
func (o *Online) resolveCached(snap *features.Catalog, names []string, service string) ([]features.Ref, error) {
	key := service + "\x00" + strings.Join(names, "\x00")
	o.s.refsMu.Lock()
	if o.s.refs == nil || o.s.refsRev != snap.Revision || len(o.s.refs) > 1000 {
		o.s.refs, o.s.refsRev = map[string][]features.Ref{}, snap.Revision
	}
	refs, ok := o.s.refs[key]
	o.s.refsMu.Unlock()
	if ok {
		return refs, nil
	}
	refs, err := resolve(snap, names, service)
	if err != nil {
		return nil, err
	}
	o.s.refsMu.Lock()
	if o.s.refsRev == snap.Revision {
		o.s.refs[key] = refs
	}
	o.s.refsMu.Unlock()
	return refs, nil
}

// GetOnline answers a lookup from the online store. Values older than their view's TTL
// come back as OUTSIDE_MAX_AGE, never as stale values.
func (o *Online) GetOnline(ctx context.Context, req features.OnlineRequest) (*features.OnlineResponse, error) {
	snap := o.s.Snapshot()
	refs, err := o.resolveCached(snap, req.Features, req.FeatureService)
	if err != nil {
		return nil, err
	}
	if len(req.Entities) == 0 {
		return nil, platform.Invalid("entities is required: a join key and its values, e.g. {\"account\": [\"acme:1200\"]}")
	}
	n := -1
	var joinKeys []string
	for k, vals := range req.Entities {
		if n >= 0 && len(vals) != n {
			return nil, platform.Invalid("entities: every join key needs the same number of values (%s has %d, another has %d)", k, len(vals), n)
		}
		n = len(vals)
		joinKeys = append(joinKeys, k)
	}
	slices.Sort(joinKeys)
	if n == 0 {
		return nil, platform.Invalid("entities lists no values")
	}
	if n > 10_000 {
		return nil, platform.Invalid("entities: %d rows; ask for at most 10,000 at a time", n)
	}
	if err := checkJoinKeys(snap, refs, req.Entities); err != nil {
		return nil, err
	}
	cols := len(joinKeys) + len(refs)
	resp := &features.OnlineResponse{Results: make([]features.OnlineColumn, 0, cols)}
	resp.Metadata.FeatureNames = make([]string, 0, cols)
	// One backing array per kind of cell for the whole response.
	values, statuses, stamps := make([]any, cols*n), make([]string, cols*n), make([]string, cols*n)
	newColumn := func() features.OnlineColumn {
		c := len(resp.Results)
		return features.OnlineColumn{Values: values[c*n : (c+1)*n : (c+1)*n], Statuses: statuses[c*n : (c+1)*n : (c+1)*n],
			EventTimestamps: stamps[c*n : (c+1)*n : (c+1)*n]}
	}
	for _, k := range joinKeys {
		col := newColumn()
		copy(col.Values, req.Entities[k])
		for i := range n {
			col.Statuses[i], col.EventTimestamps[i] = features.Present, epoch
		}
		resp.Metadata.FeatureNames = append(resp.Metadata.FeatureNames, k)
		resp.Results = append(resp.Results, col)
	}
	now := o.s.now()
	records := map[string][]*online.Record{} // by view
	stampCache := map[string][]string{}      // event times as text, by view
	for _, r := range refs {
		v := snap.Views[r.View].Spec
		if _, done := records[v.Name]; !done {
			if !v.IsOnline() {
				return nil, platform.Invalid("feature view %s is not served online (online: false)", v.Name)
			}
			joinKey := snap.Entities[v.Entity].Spec.JoinKey
			vals, ok := req.Entities[joinKey]
			if !ok {
				return nil, platform.Invalid("entities: feature view %s needs join key %q (entity %s)", v.Name, joinKey, v.Entity)
			}
			keys := make([]string, n)
			for i, val := range vals {
				keys[i] = keyString(val)
			}
			recs, err := o.s.OnlineStore.Read(ctx, v.Name, keys)
			if err != nil {
				return nil, platform.Unavailable(err, "online store")
			}
			records[v.Name] = recs
		}
		f, _ := v.Feature(r.Feature)
		name := r.Feature
		if req.FullFeatureNames {
			name = r.View + "__" + r.Feature
		}
		col := newColumn()
		eventTimes := stampsOf(v.Name, records[v.Name], stampCache)
		for i, rec := range records[v.Name] {
			switch {
			case rec == nil:
				col.Statuses[i], col.EventTimestamps[i] = features.NotFound, epoch
				continue
			case v.TTL > 0 && now.Sub(rec.EventTime) > time.Duration(v.TTL):
				col.Statuses[i] = features.OutsideMaxAge
			default:
				val := rec.Values[f.Name]
				if f.Aggregation == "days_since_last" { // exact as of now, not as of the last write
					val = now.Sub(rec.EventTime).Hours() / 24
				}
				col.Values[i] = val
				col.Statuses[i] = features.Present
				if val == nil {
					col.Statuses[i] = features.NullValue
				}
			}
			col.EventTimestamps[i] = eventTimes[i]
		}
		resp.Metadata.FeatureNames = append(resp.Metadata.FeatureNames, name)
		resp.Results = append(resp.Results, col)
	}
	return resp, nil
}

// maxKeyValueBytes bounds one join-key value as text.
const maxKeyValueBytes = 1024

// checkJoinKeys refuses entity columns that no requested view joins on (a lookup answers
// with its keys, so an unused one would be echoed for nothing) and values that are not
// scalars or are too long to be a key.
func checkJoinKeys(snap *features.Catalog, refs []features.Ref, entities map[string][]any) error {
	used := map[string]bool{}
	for _, r := range refs {
		used[snap.Entities[snap.Views[r.View].Spec.Entity].Spec.JoinKey] = true
	}
	for k, vals := range entities {
		if !used[k] {
			return platform.Invalid("entities: %q is not a join key of the requested features (they use %s); remove it",
				k, strings.Join(slices.Sorted(maps.Keys(used)), ", "))
		}
		for i, v := range vals {
			switch v := v.(type) {
			case string:
				if len(v) > maxKeyValueBytes {
					return platform.Invalid("entities: %s[%d] is %d bytes; a key is at most %d", k, i, len(v), maxKeyValueBytes)
				}
			case float64, json.Number, bool, int, int64:
			default:
				return platform.Invalid("entities: %s[%d] must be a string, number or boolean", k, i)
			}
		}
	}
	return nil
}

// stampsOf formats each record's event time once per view and request.
func stampsOf(view string, recs []*online.Record, cache map[string][]string) []string {
	if st, ok := cache[view]; ok {
		return st
	}
	st := make([]string, len(recs))
	for i, r := range recs {
		if r != nil {
			st[i] = r.EventTime.Format(time.RFC3339Nano)
		}
	}
	cache[view] = st
	return st
}

func keyString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// computeOnline computes view's values as of asOf for the entities filter selects and
// writes them to the online store; it returns how many it wrote.
func (o *Online) computeOnline(ctx context.Context, v features.View, asOf time.Time, filter, by string) (int, error) {
	if err := o.s.Offline.CheckExprsOnce(ctx, v.Expressions()...); err != nil {
		return 0, fmt.Errorf("feature view %s: %w", v.Name, err)
	}
	rows, err := o.s.Offline.DB().QueryContext(ctx, v.OnlineSQL(asOf, filter))
	if err != nil {
		return 0, fmt.Errorf("compute %s: %w", v.Name, err)
	}
	defer rows.Close()
	written := 0
	var batch []online.Record
	flush := func() error {
		n, err := o.s.OnlineStore.Write(ctx, v.Name, batch)
		written += n
		batch = batch[:0]
		return err
	}
	cells := make([]any, 2+len(v.Features))
	ptrs := make([]any, len(cells))
	for i := range cells {
		ptrs[i] = &cells[i]
	}
	now := o.s.now().UTC()
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return written, err
		}
		key, _ := cells[0].(string)
		ts, _ := cells[1].(time.Time)
		rec := online.Record{Key: key, EventTime: ts.UTC(), WrittenAt: now, Values: make(map[string]any, len(v.Features))}
		for i, f := range v.Features {
			rec.Values[f.Name] = jsonValue(cells[2+i])
		}
		batch = append(batch, rec)
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return written, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return written, err
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return written, err
		}
	}
	o.s.wroteOnline(v.Name, by, written)
	return written, nil
}

// viewsOn lists the online views whose source is table.
func viewsOn(snap *features.Catalog, table string) []features.View {
	var out []features.View
	for _, name := range sortedNames(snap.Views) {
		if v := snap.Views[name].Spec; v.Source.Table == table && v.IsOnline() {
			out = append(out, v)
		}
	}
	return out
}

// Online is the feature store's online side: lookups (features.OnlineReader, what serving
// calls in process), pushes and materializations, and the stream path that refreshes the
// entities a pipeline batch touched (a pipelines.CommitSink).
type Online struct{ s *Server }

// Online returns the online side of the feature store.
func (s *Server) Online() *Online { return s.online }

var (
	_ features.OnlineReader = (*Online)(nil)
	_ features.Materializer = (*Online)(nil)
	_ features.Pusher       = (*Online)(nil)
	_ pipelines.CommitSink  = (*Online)(nil)
)

// KeyColumns lists the entity columns of the online views over table: what a pipeline
// writing table reports after each batch.
func (o *Online) KeyColumns(table string) []string {
	var out []string
	for _, v := range viewsOn(o.s.Snapshot(), table) {
		if !slices.Contains(out, v.Source.EntityColumn) {
			out = append(out, v.Source.EntityColumn)
		}
	}
	return out
}

// Committed recomputes, as of now, the online values of the entities a committed pipeline
// batch touched. It is the stream path that keeps the online store fresh between
// materializations; failures are logged and counted, and the next write or
// materialization repairs them.
func (o *Online) Committed(ctx context.Context, b pipelines.Committed) {
	o.refresh(ctx, b.Table, b.Keys)
}

func (o *Online) refresh(ctx context.Context, table string, keys map[string][]string) {
	for _, v := range viewsOn(o.s.Snapshot(), table) {
		ks := keys[v.Source.EntityColumn]
		for start := 0; start < len(ks); start += 1000 {
			chunk := ks[start:min(start+1000, len(ks))]
			if _, err := o.computeOnline(ctx, v, o.s.now(), v.KeysIn(chunk), "stream"); err != nil {
				o.s.metrics.refreshErrors.WithLabelValues(v.Name).Inc()
				o.s.Log.Error("refresh online features", "view", v.Name, "error", err)
			}
		}
	}
}

// Materialize computes each view's values as of end (default now) for the entities with
// rows between start and end (all when start is unset) into the online store. Lookups
// keep being answered meanwhile: the online store is written in small transactions and
// never holds a value older than one it had.
func (o *Online) Materialize(ctx context.Context, req features.MaterializeRequest) (features.MaterializeResult, error) {
	snap := o.s.Snapshot()
	end := o.s.now().UTC()
	if req.EndTS != nil {
		end = req.EndTS.UTC()
	}
	if req.StartTS != nil && req.StartTS.After(end) {
		return features.MaterializeResult{}, platform.Invalid("start_ts %s is after end_ts %s", req.StartTS.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	names, err := materializedViews(snap, req.FeatureViews)
	if err != nil {
		return features.MaterializeResult{}, err
	}
	res := features.MaterializeResult{EndTS: end, Written: map[string]int{}}
	var errs []error
	for _, n := range names {
		v := snap.Views[n]
		if cols, err := o.s.Offline.Columns(ctx, v.Spec.Source.Table); err != nil {
			return res, err
		} else if len(cols) == 0 {
			res.Written[n] = 0 // nothing ingested yet
			continue
		}
		filter := ""
		if req.StartTS != nil {
			filter = v.Spec.ActiveBetween(req.StartTS.UTC(), end)
		}
		w, err := o.computeOnline(ctx, v.Spec, end, filter, "materialize")
		res.Written[n] = w
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// materializedViews checks the views a materialization names (every online view when it
// names none): each must be in the catalog and served online.
func materializedViews(snap *features.Catalog, names []string) ([]string, error) {
	if len(names) == 0 {
		for _, n := range sortedNames(snap.Views) {
			if snap.Views[n].Spec.IsOnline() {
				names = append(names, n)
			}
		}
	}
	for _, n := range names {
		v, ok := snap.Views[n]
		if !ok {
			e := platform.Invalid("feature_views: feature view %q is not in the catalog (views: %s)", n, strings.Join(sortedNames(snap.Views), ", "))
			e.Fields = []platform.FieldError{{Field: "feature_views", Message: fmt.Sprintf("%q is not in the catalog", n)}}
			return nil, e
		}
		if !v.Spec.IsOnline() {
			return nil, platform.Invalid("feature_views: feature view %s is not served online (online: false)", n)
		}
	}
	return names, nil
}

// Push stores rows in a source table (a view's name stands for its source) and, unless
// to is "offline", refreshes the online values of the entities they touch. Rows are
// always kept offline, so training sets see what serving saw; rows whose id was pushed
// or ingested before are skipped, so a retried push changes nothing.
func (o *Online) Push(ctx context.Context, req features.PushRequest) (features.PushResult, error) {
	snap := o.s.Snapshot()
	table := req.PushSourceName
	if v, ok := snap.Views[table]; ok {
		table = v.Spec.Source.Table
	}
	switch req.To {
	case "", "online", "online_and_offline", "offline":
	default:
		return features.PushResult{}, platform.Invalid("to %q: use online, offline or online_and_offline", req.To)
	}
	cols, err := o.s.Offline.Columns(ctx, table)
	if err != nil {
		return features.PushResult{}, err
	}
	if len(cols) == 0 {
		return features.PushResult{}, platform.Invalid("push_source_name %q is neither a feature view nor a table of the offline store", req.PushSourceName)
	}
	p, ok := snap.PipelineFor(table)
	if !ok {
		return features.PushResult{}, platform.Invalid("table %s is written by no pipeline, so it has no row id to make a retried push safe", table)
	}
	idCol := p.Spec.Sink.IDColumn
	known := map[string]bool{}
	for _, c := range cols {
		known[c.Name] = true
	}
	n := -1
	for c, vals := range req.DF {
		if !known[c] {
			return features.PushResult{}, platform.Invalid("df: %s is not a column of %s (columns: %s)", c, table, columnNames(cols))
		}
		if n >= 0 && len(vals) != n {
			return features.PushResult{}, platform.Invalid("df: every column needs the same number of values (%s has %d, another %d)", c, len(vals), n)
		}
		n = len(vals)
	}
	if n <= 0 {
		return features.PushResult{}, platform.Invalid("df holds no rows")
	}
	if _, ok := req.DF[idCol]; !ok {
		return features.PushResult{}, platform.Invalid("df: column %s (the row id that makes a retried push safe) is required", idCol)
	}
	var keyCols []string
	for _, v := range viewsOn(snap, table) {
		if _, ok := req.DF[v.Source.TimestampColumn]; !ok {
			return features.PushResult{}, platform.Invalid("df: column %s (the event time) is required by feature view %s", v.Source.TimestampColumn, v.Name)
		}
		if _, ok := req.DF[v.Source.EntityColumn]; ok && !slices.Contains(keyCols, v.Source.EntityColumn) {
			keyCols = append(keyCols, v.Source.EntityColumn)
		}
	}
	// The rows go in as a batch of the table's pipeline: the same insert and the same
	// dedupe by id as ingested events, so a pushed row and a retried push land once.
	dir, err := os.MkdirTemp(o.s.Offline.Exchange(), "push-")
	if err != nil {
		return features.PushResult{}, err
	}
	defer os.RemoveAll(dir) //nolint:errcheck // a temp dir
	path := filepath.Join(dir, "rows.json")
	f, err := os.Create(path)
	if err != nil {
		return features.PushResult{}, err
	}
	enc := json.NewEncoder(f)
	for i := range n {
		row := make(map[string]any, len(req.DF))
		for c, vals := range req.DF {
			row[c] = vals[i]
		}
		if err := enc.Encode(row); err != nil {
			f.Close() //nolint:errcheck // the encode error is the one to report
			return features.PushResult{}, platform.Invalid("df row %d: %v", i, err)
		}
	}
	if err := f.Close(); err != nil {
		return features.PushResult{}, err
	}
	inserted, keys, err := o.s.Offline.AppendKeys(ctx, offline.Batch{Consumer: p.Spec.Name, Table: table, IDColumn: idCol,
		SourceSQL: "read_json(" + features.QuoteString(path) + ", format = 'newline_delimited')", KeyColumns: keyCols})
	if err != nil {
		return features.PushResult{}, platform.Invalid("df: %s", strings.ReplaceAll(duckMessage(err), path, "df"))
	}
	res := features.PushResult{Table: table, Inserted: inserted, OnlineWritten: map[string]int{}}
	if req.To == "offline" {
		return res, nil
	}
	for _, v := range viewsOn(snap, table) {
		if ks := keys[v.Source.EntityColumn]; len(ks) > 0 {
			w, err := o.computeOnline(ctx, v, o.s.now(), v.KeysIn(ks), "push")
			if err != nil {
				return res, err
			}
			res.OnlineWritten[v.Name] = w
		}
	}
	return res, nil
}
