package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/idempotency"
	"github.com/codexion/codexion/platform/postgres"
)

// codeOf is the problem code a client reads for err.
func codeOf(err error) string {
	var pe *platform.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	if err == nil {
		return ""
	}
	return "error: " + err.Error()
}

// errorOf is a single-entry unit's outcome as an error: the entry's refusal, nil when it
// was posted, and a complaint when it was neither.
func (u *unit) errorOf() error {
	if len(u.errs) == 1 && u.errs[0] != nil {
		return u.errs[0]
	}
	if len(u.out) == 1 && u.out[0] != nil {
		return nil
	}
	return fmt.Errorf("the entry was neither posted nor refused (slow %v): %w", u.slow, u.err)
}

func key(v string) *idempotency.Key { return &idempotency.Key{Scope: "test", Value: v} }

// entryUnit is what Post hands the committer.
func entryUnit(t *testing.T, in EntryInput, k *idempotency.Key) *unit {
	t.Helper()
	p, err := parse(in)
	if err != nil {
		t.Fatal(err)
	}
	return &unit{entries: []*parsedEntry{p}, opts: []postOptions{{kind: "standard"}}, atomic: true, actor: "grouped", key: k, respond: respondEntry}
}

// commitTogether commits the units as one group, as the committer does.
func commitTogether(s *Store, units ...*unit) {
	for _, u := range units {
		if u.ctx == nil {
			u.ctx = context.Background()
		}
		u.done = make(chan struct{})
	}
	s.group.commit(units)
}

// seed posts in alone, as set-up.
func seed(t *testing.T, s *Store, in EntryInput) {
	t.Helper()
	if _, err := s.Post(context.Background(), in, "seed", nil); err != nil {
		t.Fatal(err)
	}
}

func entry(date, ref string, lines ...LineInput) EntryInput {
	return EntryInput{Book: "acme", PostingDate: date, Reference: ref, Lines: lines}
}

func countWhere(t *testing.T, db *postgres.Pool, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGroupRefusesOnlyItsBadEntries: a group holding entries that a rule refuses (balance
// rule, closed period, closed account, unknown account) commits its good entries in one
// transaction and refuses each bad one with the code it gets when posted alone; the bad
// entries' keys are given back, the good ones' store their responses. The first group is
// all cached (one round trip is tried, and falls back), the second is not.
func TestGroupRefusesOnlyItsBadEntries(t *testing.T) {
	s, db := newStore(t)
	acme(t, s)
	ctx := context.Background()
	seed(t, s, entry("2026-02-01", "seed", dr("1000", "100.00"), cr("3200", "100.00")))
	seed(t, s, entry("2026-03-01", "warm", dr("6000", "1.00"), cr("6000", "1.00")))
	if _, err := s.ClosePeriod(ctx, "acme", "2026-02", "controller", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CloseAccount(ctx, "acme", "6000"); err != nil {
		t.Fatal(err)
	}
	bad := map[string]EntryInput{
		"rule":           entry("2026-03-05", "rule", dr("1200", "500.00"), cr("1000", "500.00")),
		"closed-period":  entry("2026-02-10", "closed-period", dr("1200", "1.00"), cr("4000", "1.00")),
		"closed-account": entry("2026-03-05", "closed-account", dr("6000", "1.00"), cr("1000", "1.00")),
		"unknown":        entry("2026-03-05", "unknown", dr("9999", "1.00"), cr("4000", "1.00")),
	}
	alone := map[string]string{}
	for name, in := range bad {
		_, err := s.Post(ctx, in, "alone", key("alone-"+name))
		if err == nil {
			t.Fatalf("%s: posted alone", name)
		}
		alone[name] = codeOf(err)
	}
	for gi, names := range [][]string{{"rule", "closed-period", "closed-account"}, {"unknown", "rule"}} {
		good1 := entryUnit(t, entry("2026-03-05", fmt.Sprintf("good1-%d", gi), dr("1200", "10.00"), cr("4000", "10.00")), key(fmt.Sprintf("good1-%d", gi)))
		good2 := entryUnit(t, entry("2026-03-06", fmt.Sprintf("good2-%d", gi), dr("1000", "5.00"), cr("4000", "5.00")), key(fmt.Sprintf("good2-%d", gi)))
		units := []*unit{good1}
		for _, name := range names {
			units = append(units, entryUnit(t, bad[name], key(fmt.Sprintf("%s-%d", name, gi))))
		}
		units = append(units, good2)
		commitTogether(s, units...)
		for i, name := range names {
			u := units[i+1]
			if u.err != nil || u.slow || codeOf(u.errorOf()) != alone[name] {
				t.Fatalf("group %d, %s: err %v slow %v entry error %v; alone it is %s", gi, name, u.err, u.slow, u.errorOf(), alone[name])
			}
			if n := countWhere(t, db, `SELECT count(*) FROM codexion_idempotency WHERE key = $1`, u.key.Value); n != 0 {
				t.Fatalf("group %d, %s: the refused entry's key is still held", gi, name)
			}
		}
		for _, u := range []*unit{good1, good2} {
			if err := u.errorOf(); err != nil || u.err != nil {
				t.Fatalf("group %d: a good entry failed: %v %v", gi, u.err, err)
			}
		}
		if n := countWhere(t, db, `SELECT count(DISTINCT e.xmin::text) FROM ledger_entries e WHERE e.id IN ($1::uuid, $2::uuid)`, good1.out[0].ID, good2.out[0].ID); n != 1 {
			t.Fatalf("group %d: the good entries were committed in %d transactions", gi, n)
		}
		if n := countWhere(t, db, `SELECT count(*) FROM codexion_idempotency WHERE key = ANY($1) AND status = 201`, []string{good1.key.Value, good2.key.Value}); n != 2 {
			t.Fatalf("group %d: %d of 2 good keys store their response", gi, n)
		}
	}
	if n := countWhere(t, db, `SELECT count(*) FROM ledger_entries WHERE reference IN ('rule', 'closed-period', 'closed-account', 'unknown')`); n != 0 {
		t.Fatalf("%d refused entries were stored", n)
	}
}

// TestGroupKeepsArrivalOrderOnARuledAccount: inside a group, entries meet the debit-only
// cash account's rule in the order they arrived, not on the group's total.
func TestGroupKeepsArrivalOrderOnARuledAccount(t *testing.T) {
	s, _ := newStore(t)
	acme(t, s)
	ctx := context.Background()
	seed(t, s, entry("2026-03-01", "seed", dr("1000", "20.00"), cr("3200", "20.00")))
	// Every account of the group in the store's caches, so that one round trip is tried.
	seed(t, s, entry("2026-03-01", "warm", dr("1200", "1.00"), cr("4000", "1.00")))
	out := entryUnit(t, entry("2026-03-02", "out-first", dr("1200", "30.00"), cr("1000", "30.00")), nil)
	in := entryUnit(t, entry("2026-03-02", "in-second", dr("1000", "100.00"), cr("4000", "100.00")), nil)
	commitTogether(s, out, in)
	if codeOf(out.errorOf()) != CodeBalanceRuleViolated.Code || in.errorOf() != nil {
		t.Fatalf("credit before debit: %v, %v", out.errorOf(), in.errorOf())
	}
	// Cash is now 120: the same pair the other way round both post.
	in2 := entryUnit(t, entry("2026-03-03", "in-first", dr("1000", "100.00"), cr("4000", "100.00")), nil)
	out2 := entryUnit(t, entry("2026-03-03", "out-second", dr("1200", "200.00"), cr("1000", "200.00")), nil)
	commitTogether(s, in2, out2)
	if in2.errorOf() != nil || out2.errorOf() != nil {
		t.Fatalf("debit before credit: %v, %v", in2.errorOf(), out2.errorOf())
	}
	acc, err := s.GetAccount(ctx, "acme", "1000", zeroTime)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Balances[0].Balance != "20.00" {
		t.Fatalf("cash %s, want 20.00", acc.Balances[0].Balance)
	}
}

// TestGroupReplaysRetriedKeys: a key that an earlier request used, or that an earlier unit
// of the same group carries, sends its unit down the ordinary path, which replays it.
func TestGroupReplaysRetriedKeys(t *testing.T) {
	s, db := newStore(t)
	acme(t, s)
	ctx := context.Background()
	first := entry("2026-03-05", "first", dr("1200", "1.00"), cr("4000", "1.00"))
	done, err := s.Post(ctx, first, "alice", key("k1"))
	if err != nil {
		t.Fatal(err)
	}
	twice := entry("2026-03-05", "twice", dr("1200", "2.00"), cr("4000", "2.00"))
	retry := entryUnit(t, first, key("k1"))
	a := entryUnit(t, twice, key("k2"))
	b := entryUnit(t, twice, key("k2"))
	commitTogether(s, retry, a, b)
	if !retry.slow || a.slow || !b.slow || a.errorOf() != nil {
		t.Fatalf("slow: retry %v, first of a pair %v, second %v; %v", retry.slow, a.slow, b.slow, a.errorOf())
	}
	// What Post does for a slow unit.
	r1, err := s.postInTx(ctx, retry.entries[0], "alice", retry.key)
	if err != nil || !r1.Replayed || r1.Entry.ID != done.Entry.ID {
		t.Fatalf("retry of k1: %+v %v", r1, err)
	}
	r2, err := s.postInTx(ctx, b.entries[0], "alice", b.key)
	if err != nil || !r2.Replayed || r2.Entry.ID != a.out[0].ID {
		t.Fatalf("second k2 in the group: %+v %v", r2, err)
	}
	if n := countWhere(t, db, `SELECT count(*) FROM ledger_entries WHERE reference IN ('first', 'twice')`); n != 2 {
		t.Fatalf("%d entries for two keys", n)
	}
}

// TestGroupDatabaseErrorFailsOnlyItsGroup: a statement that fails in the database fails
// every request of its group, with nothing of the group written, and the next group posts.
func TestGroupDatabaseErrorFailsOnlyItsGroup(t *testing.T) {
	s, db := newStore(t)
	acme(t, s)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE FUNCTION test_boom() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.reference = 'boom' THEN RAISE EXCEPTION 'disk on fire' USING ERRCODE = 'XX001'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER test_boom BEFORE INSERT ON ledger_entries FOR EACH ROW EXECUTE FUNCTION test_boom()`); err != nil {
		t.Fatal(err)
	}
	units := []*unit{
		entryUnit(t, entry("2026-03-05", "before", dr("1200", "1.00"), cr("4000", "1.00")), key("before")),
		entryUnit(t, entry("2026-03-05", "boom", dr("1200", "1.00"), cr("4000", "1.00")), key("boom")),
		entryUnit(t, entry("2026-03-05", "after", dr("1200", "1.00"), cr("4000", "1.00")), key("after")),
	}
	commitTogether(s, units...)
	for _, u := range units {
		if pgCode(u.err) != "XX001" {
			t.Fatalf("%s: %v, want the database's error", u.key.Value, u.err)
		}
	}
	if n := countWhere(t, db, `SELECT count(*) FROM ledger_entries`) + countWhere(t, db, `SELECT count(*) FROM codexion_idempotency`); n != 0 {
		t.Fatalf("%d rows written by a failed group", n)
	}
	next := entryUnit(t, entry("2026-03-05", "next", dr("1200", "1.00"), cr("4000", "1.00")), key("next"))
	commitTogether(s, next)
	if next.err != nil || next.errorOf() != nil {
		t.Fatalf("the next group: %v %v", next.err, next.errorOf())
	}
}

// TestGroupSurvivesADefect: a panic while a group is prepared fails that group's requests
// with an error, writes nothing, and leaves the committer working.
func TestGroupSurvivesADefect(t *testing.T) {
	s, db := newStore(t)
	acme(t, s)
	ctx := context.Background()
	seed(t, s, entry("2026-03-01", "warm", dr("1200", "1.00"), cr("4000", "1.00")))
	bad := entryUnit(t, entry("2026-03-05", "defect", dr("1200", "1.00"), cr("4000", "1.00")), key("defect"))
	bad.respond = func([]*Entry, []error) (int32, []byte, error) { panic("a defect") }
	good := entryUnit(t, entry("2026-03-05", "beside", dr("1200", "1.00"), cr("4000", "1.00")), key("beside"))
	commitTogether(s, bad, good)
	if bad.err == nil || good.err == nil {
		t.Fatalf("errors: %v, %v", bad.err, good.err)
	}
	if n := countWhere(t, db, `SELECT count(*) FROM ledger_entries WHERE reference IN ('defect', 'beside')`); n != 0 {
		t.Fatalf("%d entries of the failed group stored", n)
	}
	if _, err := s.Post(ctx, entry("2026-03-05", "beside", dr("1200", "1.00"), cr("4000", "1.00")), "alice", key("beside")); err != nil {
		t.Fatalf("after the defect: %v", err)
	}
}

// TestGroupDropsRequestsWhoseCallerLeft: a request whose caller gave up before its group
// formed is never posted.
func TestGroupDropsRequestsWhoseCallerLeft(t *testing.T) {
	s, db := newStore(t)
	acme(t, s)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	left := entryUnit(t, entry("2026-03-05", "left", dr("1200", "1.00"), cr("4000", "1.00")), key("left"))
	left.ctx = gone
	stays := entryUnit(t, entry("2026-03-05", "stays", dr("1200", "1.00"), cr("4000", "1.00")), key("stays"))
	commitTogether(s, left, stays)
	if !errors.Is(left.err, context.Canceled) || stays.errorOf() != nil {
		t.Fatalf("left: %v; stays: %v", left.err, stays.errorOf())
	}
	if n := countWhere(t, db, `SELECT count(*) FROM ledger_entries WHERE reference = 'left'`); n != 0 {
		t.Fatal("the abandoned request was posted")
	}
}

// TestPostsBatchesAndReversalsShareAGroup: through the public API, while a first group
// waits for a period lock, a single post, an atomic batch with a bad entry, a non-atomic
// batch, a reversal and a second reversal of the same entry queue up; they are committed
// as one group, each with its own outcome.
func TestPostsBatchesAndReversalsShareAGroup(t *testing.T) {
	s, db := newStore(t)
	acme(t, s)
	ctx := context.Background()
	orig, err := s.Post(ctx, entry("2026-03-01", "to-reverse", dr("1200", "7.00"), cr("4000", "7.00")), "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Hold March's period lock exclusively, as a close would: the next group waits on it.
	hold, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.Exec(ctx, `SELECT pg_advisory_xact_lock(ledger_period_lock_key(id, '2026-03')) FROM ledger_books WHERE code = 'acme'`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outcome := map[string]error{}
	var mu sync.Mutex
	run := func(name string, fn func() error) {
		wg.Go(func() {
			err := fn()
			mu.Lock()
			outcome[name] = err
			mu.Unlock()
		})
	}
	run("blocker", func() error {
		_, err := s.Post(ctx, entry("2026-03-02", "blocker", dr("1200", "1.00"), cr("4000", "1.00")), "alice", key("blocker"))
		return err
	})
	waitFor(t, func() bool {
		s.group.mu.Lock()
		defer s.group.mu.Unlock()
		return s.group.running && len(s.group.pending) == 0
	})
	var single PostResult
	var atomicRes, partial *BatchResult
	var rev1, rev2 PostResult
	run("single", func() (err error) {
		single, err = s.Post(ctx, entry("2026-03-03", "single", dr("1200", "2.00"), cr("4000", "2.00")), "bob", key("single"))
		return err
	})
	waitFor(t, queued(s, 1))
	run("atomic", func() (err error) {
		atomicRes, err = s.PostBatch(ctx, BatchInput{Atomic: true, Entries: []EntryInput{
			entry("2026-03-03", "atomic-ok", dr("1200", "3.00"), cr("4000", "3.00")),
			entry("2026-03-03", "atomic-bad", dr("1200", "3.00"), cr("1000", "3.00")), // cash is empty
		}}, "carol", key("atomic"))
		return err
	})
	waitFor(t, queued(s, 2))
	run("partial", func() (err error) {
		partial, err = s.PostBatch(ctx, BatchInput{Entries: []EntryInput{
			entry("2026-03-03", "partial-bad", dr("1200", "4.00"), cr("1000", "4.00")),
			entry("2026-03-03", "partial-ok", dr("1200", "4.00"), cr("4000", "4.00")),
		}}, "carol", key("partial"))
		return err
	})
	waitFor(t, queued(s, 3))
	run("rev1", func() (err error) {
		rev1, err = s.Reverse(ctx, orig.Entry.ID, ReverseInput{}, "dave", key("rev1"))
		return err
	})
	waitFor(t, queued(s, 4))
	run("rev2", func() (err error) {
		rev2, err = s.Reverse(ctx, orig.Entry.ID, ReverseInput{}, "erin", key("rev2"))
		return err
	})
	waitFor(t, queued(s, 5))
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	if outcome["blocker"] != nil || outcome["single"] != nil || outcome["partial"] != nil || outcome["rev1"] != nil {
		t.Fatalf("outcomes: %v", outcome)
	}
	if codeOf(outcome["atomic"]) != CodeBalanceRuleViolated.Code || codeOf(outcome["rev2"]) != CodeEntryAlreadyReversed.Code {
		t.Fatalf("atomic batch: %v; second reversal: %v", outcome["atomic"], outcome["rev2"])
	}
	_ = atomicRes
	if partial.Posted != 1 || partial.Failed != 1 || partial.Results[0].Error.Code != CodeBalanceRuleViolated.Code {
		t.Fatalf("non-atomic batch: %+v", partial)
	}
	if rev1.Entry.Reverses != orig.Entry.ID || rev2.Entry != nil {
		t.Fatalf("reversals: %+v %+v", rev1.Entry, rev2.Entry)
	}
	got, err := s.GetEntry(ctx, orig.Entry.ID)
	if err != nil || got.ReversedBy != rev1.Entry.ID {
		t.Fatalf("original: %+v %v", got, err)
	}
	// The single post, the batch's good entry and the reversal went in one transaction.
	if n := countWhere(t, db, `SELECT count(DISTINCT xmin::text) FROM ledger_entries WHERE id IN ($1::uuid, $2::uuid, $3::uuid)`,
		single.Entry.ID, partial.Results[1].Entry.ID, rev1.Entry.ID); n != 1 {
		t.Fatalf("the queued requests were committed in %d transactions", n)
	}
	if n := countWhere(t, db, `SELECT count(*) FROM ledger_entries WHERE reference LIKE 'atomic-%' OR reference = 'partial-bad'`); n != 0 {
		t.Fatalf("%d refused batch entries stored", n)
	}
	// Retries replay: the partial batch's key returns the same result; the atomic batch's
	// key was given back with its refusal.
	again, err := s.PostBatch(ctx, BatchInput{Entries: []EntryInput{
		entry("2026-03-03", "partial-bad", dr("1200", "4.00"), cr("1000", "4.00")),
		entry("2026-03-03", "partial-ok", dr("1200", "4.00"), cr("4000", "4.00")),
	}}, "carol", key("partial"))
	if err != nil || !again.Replayed || again.Results[1].Entry.ID != partial.Results[1].Entry.ID {
		t.Fatalf("retried batch: %+v %v", again, err)
	}
	if n := countWhere(t, db, `SELECT count(*) FROM codexion_idempotency WHERE key = 'atomic'`); n != 0 {
		t.Fatal("the refused atomic batch still holds its key")
	}
}

func queued(s *Store, n int) func() bool {
	return func() bool { s.group.mu.Lock(); defer s.group.mu.Unlock(); return len(s.group.pending) == n }
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("timed out")
}
