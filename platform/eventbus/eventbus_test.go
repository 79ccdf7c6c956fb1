package eventbus

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

type entryPosted struct{ ID string }

func TestPublishDeliversInSubscriptionOrder(t *testing.T) {
	topic := NewTopic[entryPosted]("ledger.entry.posted")
	var got []string
	topic.Subscribe("audit", func(_ context.Context, e entryPosted) error {
		got = append(got, "audit:"+e.ID)
		return nil
	})
	topic.Subscribe("lineage", func(_ context.Context, e entryPosted) error {
		got = append(got, "lineage:"+e.ID)
		return nil
	})
	if err := topic.Publish(context.Background(), entryPosted{ID: "e1"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"audit:e1", "lineage:e1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestPublishCallsAllAndReportsFailures(t *testing.T) {
	topic := NewTopic[entryPosted]("ledger.entry.posted")
	calls := 0
	topic.Subscribe("audit", func(context.Context, entryPosted) error { calls++; return errors.New("disk full") })
	topic.Subscribe("lineage", func(context.Context, entryPosted) error { calls++; return nil })
	err := topic.Publish(context.Background(), entryPosted{ID: "e1"})
	if err == nil || err.Error() != "ledger.entry.posted: subscriber audit: disk full" {
		t.Fatalf("err = %v", err)
	}
	if calls != 2 {
		t.Fatalf("calls = %d, want 2", calls)
	}
}

func TestUnsubscribe(t *testing.T) {
	topic := NewTopic[int]("n")
	calls := 0
	unsub := topic.Subscribe("s", func(context.Context, int) error { calls++; return nil })
	_ = topic.Publish(context.Background(), 1)
	unsub()
	_ = topic.Publish(context.Background(), 2)
	if calls != 1 {
		t.Fatalf("calls = %d, want 1", calls)
	}
}
