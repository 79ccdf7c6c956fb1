package outbox

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/codexion/codexion/app/devstack"
	"github.com/codexion/codexion/platform/postgres"
)

// The child relay says this on stdout once the broker acknowledged its first batch and
// before it marks a row; then it waits to be killed.
const ackedLine = "broker acknowledged; rows not marked"

const (
	crashDSNEnv     = "CODEXION_RELAY_CRASH_DSN"
	crashBrokersEnv = "CODEXION_RELAY_CRASH_BROKERS"
	crashBatchRows  = 10 // the first batch is a quarter of the outbox
	crashEvents     = 4 * crashBatchRows
)

// TestRelayChildProcess is the relay process that TestRelayKilledBetweenAckAndMark starts
// and SIGKILLs; it runs only as that child.
func TestRelayChildProcess(t *testing.T) {
	dsn, brokers := os.Getenv(crashDSNEnv), os.Getenv(crashBrokersEnv)
	if dsn == "" {
		t.Skip("runs as the child of TestRelayKilledBetweenAckAndMark")
	}
	db, err := postgres.NewPool(dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, broker: &devstack.KafkaBroker{Addr: brokers}, events: ledgerEvents(t), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := e.relay()
	r.BatchRows = crashBatchRows
	held := make(chan struct{})
	r.afterPublish = func() error {
		os.Stdout.WriteString(ackedLine + "\n") //nolint:errcheck // the parent times out if it never reads this
		close(held)
		time.Sleep(time.Hour) // until SIGKILL
		return errors.New("not killed")
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
		time.Sleep(time.Hour) // until SIGKILL
	case <-time.After(time.Minute):
		t.Fatal("the relay published nothing within a minute")
	}
}

// TestRelayKilledBetweenAckAndMark runs a relay in a child process and SIGKILLs it after
// the broker acknowledged a batch and before any row of it was marked published. A new
// relay then publishes the whole outbox again: every event reaches Kafka at least once
// (the acknowledged batch twice), and a consumer that dedupes by event id applies each
// exactly once.
func TestRelayKilledBetweenAckAndMark(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a relay process")
	}
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.write(crashEvents, "k")

	child := exec.Command(os.Args[0], "-test.run=^TestRelayChildProcess$", "-test.count=1")
	child.Env = append(os.Environ(), crashDSNEnv+"="+e.db.Config().ConnString(), crashBrokersEnv+"="+e.broker.Addr)
	child.Stderr = os.Stderr
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the test
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	acked := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), ackedLine) {
				close(acked)
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case <-acked:
	case <-time.After(60 * time.Second):
		t.Fatal("the child relay never reached the point between the broker's ack and the mark")
	}
	var deliveries atomic.Int64
	e.consumeCounting(ctx, &deliveries) // reads through the kill and the recovery
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	// The kill fell where it should: the broker holds the first batch, no row is marked.
	if n := e.topicCount("codexion.ledger.books.v1"); n != crashBatchRows {
		t.Fatalf("after the kill the topic holds %d events, want the %d the broker acknowledged", n, crashBatchRows)
	}
	if n := e.unpublished(ctx); n != crashEvents {
		t.Fatalf("after the kill %d of %d rows are unpublished: the relay marked rows before it died", n, crashEvents)
	}

	e.startRelay(ctx, e.relay()) // a new relay takes the leader lock the dead one held
	for deadline := time.Now().Add(30 * time.Second); e.unpublished(ctx) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the new relay left %d rows unpublished", e.unpublished(ctx))
		}
	}
	if n := e.topicCount("codexion.ledger.books.v1"); n != crashEvents+crashBatchRows {
		t.Fatalf("the topic holds %d events; want all %d once and the acknowledged %d again", n, crashEvents, crashBatchRows)
	}
	for deadline := time.Now().Add(30 * time.Second); deliveries.Load() < crashEvents+crashBatchRows; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the consumer saw %d deliveries of %d", deliveries.Load(), crashEvents+crashBatchRows)
		}
	}
	e.waitApplied(crashEvents) // each once, though some arrived twice
	var missing int
	if err := e.db.QueryRow(ctx, `SELECT count(*) FROM codexion_outbox o
		WHERE NOT EXISTS (SELECT 1 FROM applied a WHERE a.event_id = o.id::text)`).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if missing != 0 {
		t.Fatalf("%d outbox events never reached the consumer", missing)
	}
}

func (e *env) unpublished(ctx context.Context) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(ctx, `SELECT count(*) FROM codexion_outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// consumeCounting consumes as consume does and counts every delivery that reaches the
// dedupe, repeats included.
func (e *env) consumeCounting(ctx context.Context, deliveries *atomic.Int64) {
	c := e.consumer(nil, nil)
	c.Dedupe = countingDedupe{deduper: c.Dedupe, deliveries: deliveries}
	go func() { _ = c.Run(ctx) }()
}

type countingDedupe struct {
	deduper
	deliveries *atomic.Int64
}

func (d countingDedupe) Once(ctx context.Context, consumer, id string, fn func(ctx context.Context) error) (bool, error) {
	d.deliveries.Add(1)
	return d.deduper.Once(ctx, consumer, id, fn)
}
