package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/codexion/codexion/platform/idempotency"
)

// Group commit (ADR 0012). Every post, batch, reversal and import is a unit handed to the
// committer. A committer takes the units that are queued, in arrival order, up to a count
// and a number of lines, and posts them in one transaction: one round trip when everything
// the checks need is cached, two otherwise. Each unit gets its own outcome: an entry that a
// rule refuses fails alone (or with the rest of its atomic batch), a unit whose idempotency
// key is taken goes to the ordinary path to wait and replay, and a database error fails
// the units of that group only, with nothing written.

// Committer limits. One committer drains the queue: while it waits for a group's commit,
// the next group gathers, so groups grow with the load and each costs one transaction and
// one WAL flush. (Measured on two cores: one committer posts more than two or four, whose
// groups are smaller and contend for the same balance rows.) A request of many lines, a
// large batch or import, is committed beside the queue as a group of its own, so that
// single posts do not wait behind it; at most largeUnitsAtOnce run at a time.
const (
	groupMaxUnits    = 128
	groupMaxLines    = 4096
	largeUnitLines   = 256
	largeUnitsAtOnce = 2
	// groupTimeout bounds a group's transaction, whatever its requests' own deadlines.
	groupTimeout = 30 * time.Second
)

// unit is one request's work for the committer.
type unit struct {
	ctx     context.Context
	entries []*parsedEntry
	opts    []postOptions
	atomic  bool
	actor   string
	key     *idempotency.Key
	// respond is what the unit's key stores: status and JSON body, from its entries' outcomes.
	respond func(out []*Entry, errs []error) (int32, []byte, error)

	// The outcome, set before done is closed.
	out  []*Entry
	errs []error // by entry; errWithUnit marks entries refused with the rest of an atomic unit
	body []byte  // what its key stored (nil without a key): the answer, already marshalled
	err  error   // the whole group failed: a database error, or the ledger stayed busy
	slow bool    // the unit must take the ordinary path (its key is taken, or it overlaps an earlier unit)
	done chan struct{}
}

// lines is the unit's size for the committer's bound.
func (u *unit) lines() int {
	n := 0
	for _, p := range u.entries {
		n += len(p.lines)
	}
	return n
}

// committer coalesces concurrent units into groups.
type committer struct {
	s       *Store
	mu      sync.Mutex
	pending []*unit
	running bool
	large   chan struct{} // a slot per large unit being committed beside the queue

	groups, units, oneTrip atomic.Int64 // committed groups, their units, units in one-round-trip groups
}

func newCommitter(s *Store) *committer {
	return &committer{s: s, large: make(chan struct{}, largeUnitsAtOnce)}
}

// submit queues u and waits for its group. A caller that leaves before then gets its
// context's error; its unit is then either posted whole (and replayable by its key) or,
// if its group had not formed yet, dropped.
func (c *committer) submit(ctx context.Context, u *unit) error {
	u.ctx, u.done = ctx, make(chan struct{})
	if u.lines() >= largeUnitLines {
		select {
		case c.large <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		go func() {
			defer func() { <-c.large }()
			c.commit([]*unit{u})
		}()
	} else {
		c.mu.Lock()
		c.pending = append(c.pending, u)
		start := !c.running
		c.running = true
		c.mu.Unlock()
		if start {
			go c.run()
		}
	}
	select {
	case <-u.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run commits groups until nothing is queued.
func (c *committer) run() {
	for {
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		n, lines := 0, 0
		for n < len(c.pending) && n < groupMaxUnits {
			l := c.pending[n].lines()
			if n > 0 && lines+l > groupMaxLines {
				break
			}
			n, lines = n+1, lines+l
		}
		g := slices.Clone(c.pending[:n])
		c.pending = slices.Delete(c.pending, 0, n)
		c.mu.Unlock()
		c.commit(g)
	}
}

// commit posts one group and answers each of its units.
func (c *committer) commit(g []*unit) {
	defer func() {
		// A defect must not take the server down with every request of the group waiting:
		// each gets an internal error. Before the commit, the pool drops the connection left
		// in its transaction and nothing is written; a retry with the key posts or replays.
		if r := recover(); r != nil {
			err := fmt.Errorf("ledger: committing a group: %v", r)
			for _, u := range g {
				u.out, u.errs, u.slow, u.err = nil, nil, false, err
			}
		}
		for _, u := range g {
			close(u.done)
		}
	}()
	// Units whose callers left before the group formed are dropped: never posted. A unit
	// whose key, or whose reversed entry, an earlier unit of the group also has takes the
	// ordinary path, which waits for this group and then replays or explains.
	live := make([]*unit, 0, len(g))
	keys, reversed := map[[2]string]bool{}, map[uuid.UUID]bool{}
	for _, u := range g {
		if err := u.ctx.Err(); err != nil {
			u.err = err
			continue
		}
		dup := u.key != nil && keys[[2]string{u.key.Scope, u.key.Value}]
		for _, o := range u.opts {
			dup = dup || (o.reverses != nil && reversed[*o.reverses])
		}
		if dup {
			u.slow = true
			continue
		}
		if u.key != nil {
			keys[[2]string{u.key.Scope, u.key.Value}] = true
		}
		for _, o := range u.opts {
			if o.reverses != nil {
				reversed[*o.reverses] = true
			}
		}
		live = append(live, u)
	}
	if len(live) == 0 {
		return
	}
	// The group's transaction outlives any one request; its outbox rows carry the trace of
	// the first request in it.
	ctx, cancel := context.WithTimeout(trace.ContextWithSpanContext(context.Background(), trace.SpanContextFromContext(live[0].ctx)), groupTimeout)
	defer cancel()
	if err := withRetries(ctx, func() error { return c.s.commitGroup(ctx, live) }); err != nil {
		for _, u := range live {
			u.out, u.errs, u.slow, u.err = nil, nil, false, err
		}
		return
	}
	c.groups.Add(1)
	c.units.Add(int64(len(live)))
}

// commitGroup posts the units in one transaction: in one round trip when it can, else in two.
func (s *Store) commitGroup(ctx context.Context, g []*unit) error {
	err := s.groupOneTrip(ctx, g)
	if errors.Is(err, errSlowPath) {
		err = s.groupTwoTrips(ctx, g)
	}
	return err
}

// groupPlan lays the units' entries out for postPiped, with their keys.
func groupPlan(g []*unit) *plan {
	pl := &plan{tx: &groupTx{keys: make([]*idempotency.Key, len(g))}}
	for u, un := range g {
		start := len(pl.entries)
		pl.entries = append(pl.entries, un.entries...)
		pl.opts = append(pl.opts, un.opts...)
		for range un.entries {
			pl.actors = append(pl.actors, un.actor)
		}
		pl.units = append(pl.units, unitSpan{start: start, end: len(pl.entries), atomic: un.atomic})
		pl.tx.keys[u] = un.key
	}
	// The bodies stored for the keys are kept, so the answers need not be marshalled again.
	pl.tx.bodies = make([][]byte, len(g))
	pl.tx.respond = func(u int, out []*Entry, errs []error) (int32, []byte, error) {
		st, body, err := g[u].respond(out, errs)
		pl.tx.bodies[u] = body
		return st, body, err
	}
	return pl
}

// settle hands each unit its entries' outcomes.
func settle(g []*unit, pl *plan, out []*Entry, errs []error) {
	for u, un := range g {
		span := pl.units[u]
		un.out, un.errs, un.body = out[span.start:span.end], errs[span.start:span.end], pl.tx.bodies[u]
		un.slow = pl.tx.taken != nil && pl.tx.taken[u]
	}
}

// groupTwoTrips reads and locks what the checks need in one round trip, checks every
// entry in Go, and writes and commits in a second.
func (s *Store) groupTwoTrips(ctx context.Context, g []*unit) error {
	pl := groupPlan(g)
	conn, err := s.db.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	out, errs, err := s.postPiped(ctx, conn.Conn(), pl)
	rollbackIfOpen(ctx, conn) // a failure, or an entry refused in the write, leaves it open
	if err != nil {
		return err
	}
	settle(g, pl, out, errs)
	return nil
}

// errSlowPath sends a group to the two-round-trip path.
var errSlowPath = errors.New("group needs two round trips")

// groupOneTrip posts the group in one round trip when everything it must check in advance
// is cached: the books, their journals, the period rows, the accounts, and no line needs a
// rate from the database. The batch opens the transaction, claims the keys (a taken key
// fails it), locks the entries being reversed, takes the period and account locks shared,
// asserts in the database that the periods are open and the accounts active, writes, saves
// the responses and commits. Anything unusual returns errSlowPath, and the two-round-trip
// path reads, checks and explains entry by entry.
func (s *Store) groupOneTrip(ctx context.Context, g []*unit) error {
	pl := groupPlan(g)
	n := len(pl.entries)
	books := make([]bookRef, n)
	postings := make([]*posting, n)
	errs := make([]error, n)
	var (
		perBook, accBook, accIDs []int64
		perName, accCode         []string
		reversed                 []uuid.UUID
	)
	seenPer, seenAcc := map[[2]any]bool{}, map[int64]bool{}
	for i, p := range pl.entries {
		b, ok := s.books.get(p.Book)
		if !ok || !b.Journals[p.Journal] {
			return errSlowPath
		}
		per := period(p.date)
		if _, known := s.periods.get(periodKey(b.ID, per)); !known {
			return errSlowPath
		}
		accounts, ok := s.accounts.get(b.ID, p.accountCodes())
		if !ok {
			return errSlowPath
		}
		for _, l := range p.lines {
			ccy := l.Currency
			if ccy == "" {
				ccy = accounts[l.Account].Currency
			}
			if ccy != "" && ccy != b.Currency && l.rate == nil {
				return errSlowPath // needs a rate from the database
			}
		}
		books[i] = b
		pst, err := newPosting(p, b.Currency, accounts, func(string) (Amount, bool) { return Amount{}, false })
		if err != nil {
			errs[i] = err // wrong whatever the database holds: amounts, scale, balance
			continue
		}
		postings[i] = pst
		if k := [2]any{b.ID, per}; !seenPer[k] {
			seenPer[k] = true
			perBook, perName = append(perBook, b.ID), append(perName, per)
		}
		for code, a := range accounts {
			if !seenAcc[a.ID] {
				seenAcc[a.ID] = true
				accBook, accCode, accIDs = append(accBook, b.ID), append(accCode, code), append(accIDs, a.ID)
			}
		}
		if r := pl.opts[i].reverses; r != nil {
			reversed = append(reversed, *r)
		}
	}
	refuseWithUnit(pl.units, errs, postings)
	// The balance rows check each account's rule on the group's total change. That is the
	// rule entry by entry only when every change to a ruled balance in the group goes the
	// same way; otherwise the two-round-trip path applies the entries one after another.
	direction := map[balanceKey]int{}
	for _, pst := range postings {
		if pst == nil {
			continue
		}
		for _, l := range pst.lines {
			if l.Account.Rule == EitherSide {
				continue
			}
			k, d := balanceKey{l.Account.ID, l.Currency}, l.Amount.Sign()
			if prev, ok := direction[k]; ok && prev != d {
				return errSlowPath
			}
			direction[k] = d
		}
	}
	// Keys are claimed for the units that still post something (or report, for a batch).
	for u, span := range pl.units {
		if span.refused(errs) {
			pl.tx.keys[u] = nil
		}
	}
	out := make([]*Entry, n)
	var w pgx.Batch
	now := time.Now().UTC().Truncate(time.Microsecond)
	written, events, err := queueWrites(&w, postings, books, pl.opts, pl.actors, now, out)
	if err != nil {
		return err
	}
	if err := s.outbox.Queue(ctx, &w, events...); err != nil {
		return err
	}
	// Every outcome is known before the transaction is sent, so each key is claimed with its
	// response in one insert, first, as the ordinary path claims it.
	var (
		claims   []idempotency.Key
		statuses []int32
		bodies   [][]byte
	)
	for u, k := range pl.tx.keys {
		if k == nil {
			continue
		}
		span := pl.units[u]
		st, body, err := pl.tx.respond(u, out[span.start:span.end], errs[span.start:span.end])
		if err != nil {
			return err
		}
		claims, statuses, bodies = append(claims, *k), append(statuses, st), append(bodies, body)
	}
	if written == 0 && len(claims) == 0 { // every entry refused before the database
		settle(g, pl, out, errs)
		return nil
	}
	var batch pgx.Batch
	batch.Queue("BEGIN")
	if len(claims) > 0 {
		idempotency.QueueInsertMany(&batch, claims, statuses, bodies)
	}
	if len(reversed) > 0 {
		batch.Queue(`SELECT ledger_lock_reversed($1)`, reversed)
	}
	if len(perBook) > 0 {
		batch.Queue(`SELECT ledger_lock_for_group($1, $2, $3, $4, $5)`, perBook, perName, accBook, accCode, accIDs)
	}
	batch.QueuedQueries = append(batch.QueuedQueries, w.QueuedQueries...)
	batch.Queue("COMMIT")

	conn, err := s.db.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	err = conn.SendBatch(ctx, &batch).Close()
	if err == nil {
		settle(g, pl, out, errs)
		s.group.oneTrip.Add(int64(len(g)))
		return nil
	}
	rollbackIfOpen(ctx, conn)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "CX001" || pe.Code == "CX002" || pe.Code == "CX003":
			return errSlowPath // a period or account closed, or an entry reversed, since we cached it
		case pe.Code == "23505" && (pe.TableName == "codexion_idempotency" || pe.ConstraintName == "ledger_entries_one_reversal"):
			return errSlowPath // a key or a reversal taken: the slow path says by whom
		case pe.Code == "23514" && pe.ConstraintName == "ledger_balances_rule":
			return errSlowPath // the slow path names the entry that broke the rule
		}
	}
	return err
}

// Collectors are group commit's counters for Prometheus: the mean group size is the rate
// of requests over the rate of groups.
func (s *Store) Collectors() []prometheus.Collector {
	c := s.group
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "codexion_ledger_groups_committed_total",
			Help: "Transactions the ledger's committer committed, each holding one or more requests."},
			func() float64 { return float64(c.groups.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "codexion_ledger_group_requests_total",
			Help: "Requests (posts, batches, reversals) committed in those groups."},
			func() float64 { return float64(c.units.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "codexion_ledger_group_one_trip_requests_total",
			Help: "Requests committed in groups that took one round trip to the database."},
			func() float64 { return float64(c.oneTrip.Load()) }),
	}
}

// respondEntry is what a single post's or a reversal's key stores: the entry, as 201.
func respondEntry(out []*Entry, _ []error) (int32, []byte, error) {
	body, err := json.Marshal(out[0])
	return 201, body, err
}

// postUnit hands one request to the committer. slow is set when the request must take
// the ordinary path.
func (s *Store) postUnit(ctx context.Context, u *unit) (slow bool, err error) {
	if err := s.group.submit(ctx, u); err != nil {
		return false, err
	}
	if u.err != nil {
		return false, u.err
	}
	return u.slow, nil
}

// postOne hands one entry (a post or a reversal) to the committer and returns its outcome,
// or the ordinary path's when the committer sends it there.
func (s *Store) postOne(ctx context.Context, p *parsedEntry, opt postOptions, actor string, key *idempotency.Key, ordinary func() (PostResult, error)) (PostResult, error) {
	u := &unit{entries: []*parsedEntry{p}, opts: []postOptions{opt}, atomic: true, actor: actor, key: key, respond: respondEntry}
	slow, err := s.postUnit(ctx, u)
	switch {
	case err != nil:
		return PostResult{}, err
	case slow:
		return ordinary()
	case u.errs[0] != nil:
		return PostResult{}, u.errs[0]
	}
	return PostResult{Entry: u.out[0], body: u.body}, nil
}
