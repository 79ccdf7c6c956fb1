// Package eventbus is a small typed in-process publish/subscribe bus for domain events
// (a journal entry posted, a model promoted). Audit and lineage subscribe to it.
// It is not durable: anything that must survive a crash goes through the outbox instead.
package eventbus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Handler receives one event. A returned error is reported to the publisher.
type Handler[T any] func(ctx context.Context, event T) error

// Topic carries events of one Go type. The zero value is not usable; call NewTopic.
type Topic[T any] struct {
	name string
	mu   sync.RWMutex
	subs map[int]subscriber[T]
	next int
}

type subscriber[T any] struct {
	name string
	fn   Handler[T]
}

// NewTopic returns a topic with the given name, used in error messages.
func NewTopic[T any](name string) *Topic[T] {
	return &Topic[T]{name: name, subs: make(map[int]subscriber[T])}
}

// Subscribe registers fn under name and returns a function that removes it.
func (t *Topic[T]) Subscribe(name string, fn Handler[T]) (unsubscribe func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.next
	t.next++
	t.subs[id] = subscriber[T]{name: name, fn: fn}
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.subs, id)
	}
}

// Publish delivers event to every subscriber synchronously, in subscription order,
// so a publisher knows its event was handled when Publish returns. Every subscriber
// is called even if an earlier one fails; failures are joined and name the subscriber.
func (t *Topic[T]) Publish(ctx context.Context, event T) error {
	t.mu.RLock()
	ids := make([]int, 0, len(t.subs))
	for id := range t.subs {
		ids = append(ids, id)
	}
	subs := make([]subscriber[T], 0, len(ids))
	slices.Sort(ids)
	for _, id := range ids {
		subs = append(subs, t.subs[id])
	}
	t.mu.RUnlock()

	var errs []error
	for _, s := range subs {
		if err := s.fn(ctx, event); err != nil {
			errs = append(errs, fmt.Errorf("%s: subscriber %s: %w", t.name, s.name, err))
		}
	}
	return errors.Join(errs...)
}
