// Package server is the feature store at work: it follows the catalog, checks specs
// against the offline store before they are applied, keeps the online store fresh (from
// pipeline writes, pushes and materializations), answers online lookups and builds
// historical training sets as jobs whose results land in object storage.
package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/connectors/objectstore"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/features/online"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/platform"
)

type offlineColumn = offline.Column

// Server is the feature store of one process: it opens the offline and online stores,
// follows the catalog and measures freshness. Its work is split by job: Online (lookups,
// pushes, materializations, the stream refresh), TrainingSets (point-in-time jobs),
// Tables (browsing the offline store); Handler serves them over HTTP.
type Server struct {
	Catalog     *catalog.Store
	Offline     *offline.Store // open between Start and Stop
	OnlineStore online.Store   // open between Start and Stop
	Objects     *objectstore.Store
	DB          *pgxpool.Pool
	Log         *slog.Logger

	stores       StoreOpener
	online       *Online
	beforeUpload atomic.Pointer[func(jobID string)] // a test hook: see TrainingSets.SetBeforeUpload
	snap         atomic.Pointer[features.Catalog]
	metrics      *metrics
	mu           sync.Mutex
	fresh        map[string]Freshness // by view
	stop         context.CancelFunc
	done         chan struct{}
	jobs         JobRunner // runs training-set jobs
	now          func() time.Time

	refsMu  sync.Mutex
	refsRev int64
	refs    map[string][]features.Ref // resolved features by request shape, for refsRev
}

// StoreOpener opens the offline and online stores a feature server works on.
type StoreOpener interface {
	Open(ctx context.Context) (*offline.Store, online.Store, error)
}

// Deps are what a feature server is built from.
type Deps struct {
	Catalog  *catalog.Store
	Stores   StoreOpener // opened at Start, closed at Stop
	Objects  *objectstore.Store
	DB       *pgxpool.Pool
	Registry prometheus.Registerer
	Log      *slog.Logger
	Jobs     JobRunner // runs training-set jobs
}

// New returns a feature server; Start opens its stores and loads the catalog.
func New(d Deps) *Server {
	s := &Server{Catalog: d.Catalog, Objects: d.Objects, DB: d.DB, Log: d.Log, jobs: d.Jobs, stores: d.Stores,
		metrics: newMetrics(d.Registry), fresh: map[string]Freshness{}, now: time.Now}
	s.online = &Online{s: s}
	s.snap.Store(features.CatalogOf(catalog.NewSnapshot(nil))) // until Start loads the catalog
	return s
}

// OfflineStore is the offline store, open between Start and Stop.
func (s *Server) OfflineStore() *offline.Store { return s.Offline }

type metrics struct {
	freshness     *prometheus.GaugeVec
	onlineAge     *prometheus.GaugeVec
	onlineWrites  *prometheus.CounterVec
	refreshErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		freshness: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "codexion_feature_freshness_seconds",
			Help: "Seconds between now and the latest event time in a feature view's offline table."}, []string{"view"}),
		onlineAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "codexion_feature_online_age_seconds",
			Help: "Seconds since a feature view's online values were last written."}, []string{"view"}),
		onlineWrites: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "codexion_feature_online_writes_total",
			Help: "Entity values written to the online store, by view and by what wrote them."}, []string{"view", "by"}),
		refreshErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "codexion_feature_refresh_errors_total",
			Help: "Failed online refreshes after pipeline writes, by view."}, []string{"view"}),
	}
	if reg != nil {
		reg.MustRegister(m.freshness, m.onlineAge, m.onlineWrites, m.refreshErrors)
	}
	return m
}

// Name implements lifecycle.Component.
func (s *Server) Name() string { return "feature-server" }

// Start loads the catalog and follows catalog changes and freshness in the background.
// Training-set jobs outlive the process: their workflows go on in Temporal.
func (s *Server) Start(ctx context.Context) error {
	off, on, err := s.stores.Open(ctx)
	if err != nil {
		return err
	}
	s.Offline, s.OnlineStore = off, on
	if err := s.Reload(ctx); err != nil {
		return err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.done = cancel, make(chan struct{})
	go s.follow(bg)
	return nil
}

// Stop ends the background work.
func (s *Server) Stop(ctx context.Context) error {
	if s.stop != nil {
		s.stop()
		select {
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var errs []error
	if s.OnlineStore != nil {
		errs = append(errs, s.OnlineStore.Close())
	}
	if s.Offline != nil {
		errs = append(errs, s.Offline.Close())
	}
	return errors.Join(errs...)
}

func (s *Server) follow(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if rev, err := s.Catalog.Revision(ctx); err == nil && rev != s.Snapshot().Revision {
			if err := s.Reload(ctx); err != nil {
				s.Log.Warn("reload the catalog", "error", err)
			}
		}
		if i%5 == 0 {
			s.updateFreshness(ctx)
		}
		if i%resumeEveryTicks == 0 {
			s.TrainingSets().resume(ctx)
		}
	}
}

// Reload reads the catalog now.
func (s *Server) Reload(ctx context.Context) error {
	whole, err := s.Catalog.Snapshot(ctx)
	if err != nil {
		return err
	}
	snap := features.CatalogOf(whole)
	for { // never go back to an older revision read by a slower concurrent reload
		cur := s.snap.Load()
		if cur.Revision > snap.Revision || s.snap.CompareAndSwap(cur, snap) {
			return nil
		}
	}
}

// Snapshot is the catalog in force.
func (s *Server) Snapshot() *features.Catalog { return s.snap.Load() }

// Freshness is a view's freshness as last measured.
func (s *Server) Freshness(view string) Freshness {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fresh[view]
}

// Freshness says how current a view is.
type Freshness struct {
	LatestEventTime *time.Time `json:"latest_event_time,omitempty"`
	// Seconds is now - latest event time in the offline table.
	Seconds       *float64   `json:"freshness_seconds,omitempty"`
	OfflineRows   int64      `json:"offline_rows"`
	OnlineWritten *time.Time `json:"online_written_at,omitempty"`
	CheckedAt     time.Time  `json:"checked_at"`
}

func (s *Server) updateFreshness(ctx context.Context) {
	for name, v := range s.Snapshot().Views {
		f, err := s.measure(ctx, v.Spec)
		if err != nil {
			continue // the table does not exist yet
		}
		s.mu.Lock()
		f.OnlineWritten = s.fresh[name].OnlineWritten
		s.fresh[name] = f
		s.mu.Unlock()
		if f.Seconds != nil {
			s.metrics.freshness.WithLabelValues(name).Set(*f.Seconds)
		}
		if f.OnlineWritten != nil {
			s.metrics.onlineAge.WithLabelValues(name).Set(s.now().Sub(*f.OnlineWritten).Seconds())
		}
	}
}

func (s *Server) measure(ctx context.Context, v features.View) (Freshness, error) {
	f := Freshness{CheckedAt: s.now().UTC()}
	var latest sql.NullTime
	err := s.Offline.DB().QueryRowContext(ctx, `SELECT max(CAST(`+qi(v.Source.TimestampColumn)+` AS TIMESTAMP)), count(*) FROM `+qi(v.Source.Table)).
		Scan(&latest, &f.OfflineRows)
	if err != nil {
		return f, err
	}
	if latest.Valid {
		t := latest.Time.UTC()
		sec := f.CheckedAt.Sub(t).Seconds()
		f.LatestEventTime, f.Seconds = &t, &sec
	}
	return f, nil
}

func (s *Server) wroteOnline(view, by string, n int) {
	if n == 0 {
		return
	}
	s.metrics.onlineWrites.WithLabelValues(view, by).Add(float64(n))
	now := s.now().UTC()
	s.mu.Lock()
	f := s.fresh[view]
	f.OnlineWritten = &now
	s.fresh[view] = f
	s.mu.Unlock()
}

// Validate checks a would-be catalog against the offline store, in a scratch in-memory
// DuckDB: every pipeline's transform runs over an empty batch (so SQL errors and its
// output columns are known before anything is registered), and every view's key, time
// and feature expressions compile against its source table. It returns each pipeline's
// output columns.
func (s *Server) Validate(ctx context.Context, whole *catalog.Snapshot) (map[catalog.Key][]catalog.Column, error) {
	next := features.CatalogOf(whole)
	scratch, err := offline.Open(ctx, ":memory:", offline.FileRoots(s.Offline.FileRoots()...))
	if err != nil {
		return nil, err
	}
	defer scratch.Close() //nolint:errcheck // an in-memory scratch database
	db := scratch.DB()
	out := map[catalog.Key][]catalog.Column{}
	var errs []error
	for i, name := range sortedNames(next.Pipelines) {
		p := next.Pipelines[name].Spec
		batch := fmt.Sprintf("codexion_batch_%d", i)
		if p.Source.Files != "" {
			files, err := s.Offline.CheckFileSource(p.Source.Files)
			if err != nil {
				errs = append(errs, fmt.Errorf("pipeline %s: source.files: %w", name, err))
				continue
			}
			p.Source.Files = files
		}
		if err := scratch.CheckTransform(ctx, p.Transform); err != nil {
			errs = append(errs, fmt.Errorf("pipeline %s: %w", name, err))
			continue
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE `+batch+` `+p.BatchTable()); err != nil {
			what := "source.columns"
			if p.Source.Files != "" {
				what = "source.files " + p.Source.Files
			}
			errs = append(errs, fmt.Errorf("pipeline %s: %s: %v", name, what, duckMessage(err)))
			continue
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE `+qi(p.Sink.Table)+` AS SELECT * FROM `+offline.WrapTransform(p.Transform, batch)+` LIMIT 0`); err != nil {
			errs = append(errs, fmt.Errorf("pipeline %s: transform: %v", name, duckMessage(err)))
			continue
		}
		cols, err := scratch.Columns(ctx, p.Sink.Table)
		if err != nil {
			return nil, err
		}
		var cc []catalog.Column
		for _, c := range cols {
			cc = append(cc, catalog.Column{Name: c.Name, Type: c.Type})
		}
		if !slices.ContainsFunc(cc, func(c catalog.Column) bool { return c.Name == p.Sink.IDColumn }) {
			errs = append(errs, fmt.Errorf("pipeline %s: the transform returns no column %s (sink.id_column); it returns %s",
				name, p.Sink.IDColumn, columnNames(cols)))
		}
		out[catalog.Key{Kind: pipelines.KindName, Name: name}] = cc
	}
	for _, name := range sortedNames(next.Views) {
		v := next.Views[name].Spec
		cols, err := scratch.Columns(ctx, v.Source.Table)
		if err != nil {
			return nil, err
		}
		if len(cols) == 0 { // not written by a pipeline: an existing table of the offline store
			if cols, err = s.Offline.Columns(ctx, v.Source.Table); err != nil {
				return nil, err
			}
			if len(cols) == 0 {
				errs = append(errs, fmt.Errorf("feature view %s: source table %s is neither written by a pipeline nor in the offline store", name, v.Source.Table))
				continue
			}
			var defs []string
			for _, c := range cols {
				defs = append(defs, qi(c.Name)+" "+c.Type)
			}
			if _, err := db.ExecContext(ctx, `CREATE TABLE `+qi(v.Source.Table)+` (`+strings.Join(defs, ", ")+`)`); err != nil {
				return nil, err
			}
		}
		if err := checkView(ctx, scratch, v, cols); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, platform.Invalid("%v", err)
	}
	return out, nil
}

func checkView(ctx context.Context, scratch *offline.Store, v features.View, cols []offline.Column) error {
	db := scratch.DB()
	typeOf := map[string]string{}
	for _, c := range cols {
		typeOf[c.Name] = c.Type
	}
	var errs []error
	need := func(field, col string) string {
		t, ok := typeOf[col]
		if !ok {
			errs = append(errs, fmt.Errorf("feature view %s: %s %q is not a column of %s (columns: %s)", v.Name, field, col, v.Source.Table, columnNames(cols)))
		}
		return t
	}
	need("source.entity_column", v.Source.EntityColumn)
	for field, col := range map[string]string{"source.timestamp_column": v.Source.TimestampColumn, "source.created_column": v.Source.CreatedColumn} {
		if col == "" {
			continue
		}
		if t := need(field, col); t != "" && !strings.HasPrefix(t, "TIMESTAMP") && t != "DATE" {
			errs = append(errs, fmt.Errorf("feature view %s: %s %s is %s; it must be a TIMESTAMP or DATE", v.Name, field, col, t))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, f := range v.Features {
		if f.Column == "" {
			continue
		}
		if err := scratch.CheckExpr(ctx, f.Column); err != nil {
			errs = append(errs, fmt.Errorf("feature view %s: feature %s: column: %w", v.Name, f.Name, err))
			continue
		}
		probe := "SELECT " + offline.WrapExpr(f.Column) + " FROM " + qi(v.Source.Table) + " LIMIT 0"
		if f.Aggregation != "" && f.Aggregation != "last" { // one of features.Aggregations
			probe = "SELECT " + f.Aggregation + offline.WrapExpr(f.Column) + " FROM " + qi(v.Source.Table)
		}
		if _, err := db.ExecContext(ctx, probe); err != nil {
			errs = append(errs, fmt.Errorf("feature view %s: feature %s: %v", v.Name, f.Name, duckMessage(err)))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if _, err := db.ExecContext(ctx, "SELECT * FROM ("+v.OnlineSQL(time.Now(), "")+") LIMIT 0"); err != nil {
		return fmt.Errorf("feature view %s: %v", v.Name, duckMessage(err))
	}
	return nil
}

// qi quotes an identifier for SQL; every table and column name goes through it.
func qi(name string) string { return offline.QuoteIdent(name) }

// duckMessage keeps the first line of a DuckDB error, which names the problem.
func duckMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i > 0 {
		msg = msg[:i]
	}
	return msg
}

func columnNames(cols []offline.Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

func sortedNames[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// jsonValue turns a DuckDB value into one JSON writes exactly: decimals as numbers with
// all their digits, times as RFC 3339.
func jsonValue(v any) any {
	switch x := v.(type) {
	case duckdb.Decimal:
		return json.Number(x.String())
	case *big.Int:
		return json.Number(x.String())
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case float32:
		return jsonValue(float64(x))
	case []byte:
		return string(x)
	}
	return v
}
