package lifecycle

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"
)

type recorder struct{ events []string }

func (r *recorder) comp(name string, startErr error) Component {
	return Func{
		ComponentName: name,
		OnStart: func(context.Context) error {
			r.events = append(r.events, "start "+name)
			return startErr
		},
		OnStop: func(context.Context) error {
			r.events = append(r.events, "stop "+name)
			return nil
		},
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestStartInOrderStopInReverse(t *testing.T) {
	var r recorder
	g := NewGroup(quiet())
	g.Add(r.comp("postgres", nil), r.comp("kafka", nil), r.comp("http", nil))
	if err := g.Start(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"start postgres", "start kafka", "start http", "stop http", "stop kafka", "stop postgres"}
	if !reflect.DeepEqual(r.events, want) {
		t.Fatalf("events = %v, want %v", r.events, want)
	}
}

func TestFailedStartStopsWhatStarted(t *testing.T) {
	var r recorder
	g := NewGroup(quiet())
	boom := errors.New("port in use")
	g.Add(r.comp("postgres", nil), r.comp("kafka", boom), r.comp("http", nil))
	err := g.Start(context.Background(), time.Second)
	if !errors.Is(err, boom) {
		t.Fatalf("Start error = %v, want %v", err, boom)
	}
	want := []string{"start postgres", "start kafka", "stop postgres"}
	if !reflect.DeepEqual(r.events, want) {
		t.Fatalf("events = %v, want %v", r.events, want)
	}
}

func TestStopCallsEveryComponentEvenAfterAnError(t *testing.T) {
	var stopped []string
	mk := func(name string, err error) Component {
		return Func{ComponentName: name, OnStop: func(context.Context) error {
			stopped = append(stopped, name)
			return err
		}}
	}
	g := NewGroup(quiet())
	g.Add(mk("a", nil), mk("b", errors.New("stuck")), mk("c", nil))
	if err := g.Start(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	err := g.Stop(context.Background())
	if err == nil || err.Error() != "stop b: stuck" {
		t.Fatalf("Stop error = %v", err)
	}
	if want := []string{"c", "b", "a"}; !reflect.DeepEqual(stopped, want) {
		t.Fatalf("stopped = %v, want %v", stopped, want)
	}
}

func TestALoopRunsUntilStopAndStopWaitsForIt(t *testing.T) {
	started, ended := make(chan struct{}), make(chan struct{})
	l := &Loop{ComponentName: "loop", Run: func(ctx context.Context) {
		close(started)
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // work after the cancel that Stop must wait for
		close(ended)
	}}
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel() // the start context ending does not stop the loop
	<-started
	select {
	case <-ended:
		t.Fatal("the loop ended with its start context")
	case <-time.After(30 * time.Millisecond):
	}
	if err := l.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	default:
		t.Fatal("Stop returned before the loop did")
	}
	if err := (&Loop{}).Stop(context.Background()); err != nil {
		t.Fatalf("stopping a loop never started: %v", err)
	}
}
