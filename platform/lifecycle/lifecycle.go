// Package lifecycle starts a fixed list of components in order and stops them in reverse.
// It never reorders components and never starts one whose predecessor failed.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Component is anything with a start and a stop: a server, a pool, a child process.
// Start returns once the component is ready to be used by the ones after it; Stop
// releases everything Start acquired and honours ctx's deadline.
type Component interface {
	Name() string
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Func adapts a pair of functions into a Component.
type Func struct {
	ComponentName string
	OnStart       func(ctx context.Context) error
	OnStop        func(ctx context.Context) error
}

func (f Func) Name() string { return f.ComponentName }

func (f Func) Start(ctx context.Context) error {
	if f.OnStart == nil {
		return nil
	}
	return f.OnStart(ctx)
}

func (f Func) Stop(ctx context.Context) error {
	if f.OnStop == nil {
		return nil
	}
	return f.OnStop(ctx)
}

// Loop is a component that runs Run in the background from Start until Stop. Run's context
// outlives Start's (it keeps its values, not its cancellation) and is cancelled by Stop,
// which then waits for Run to return or for its own deadline.
type Loop struct {
	ComponentName string
	Run           func(ctx context.Context)

	stop context.CancelFunc
	done chan struct{}
}

func (l *Loop) Name() string { return l.ComponentName }

func (l *Loop) Start(ctx context.Context) error {
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.stop, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		l.Run(bg)
	}()
	return nil
}

// Started tells whether Start was called.
func (l *Loop) Started() bool { return l.stop != nil }

func (l *Loop) Stop(ctx context.Context) error {
	if l.stop == nil {
		return nil
	}
	l.stop()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Group runs components in the order they were added.
type Group struct {
	log        *slog.Logger
	components []Component
	started    []Component
}

// NewGroup returns an empty group that logs to log.
func NewGroup(log *slog.Logger) *Group {
	return &Group{log: log}
}

// Add appends components; the order of Add calls is the start order.
func (g *Group) Add(cs ...Component) {
	g.components = append(g.components, cs...)
}

// Names lists the components in start order.
func (g *Group) Names() []string {
	names := make([]string, len(g.components))
	for i, c := range g.components {
		names[i] = c.Name()
	}
	return names
}

// Start starts every component in order. If one fails, the ones already started are
// stopped in reverse order (bounded by stopTimeout) and the start error is returned.
func (g *Group) Start(ctx context.Context, stopTimeout time.Duration) error {
	for _, c := range g.components[len(g.started):] {
		began := time.Now()
		g.log.Debug("starting", "component", c.Name())
		if err := c.Start(ctx); err != nil {
			startErr := fmt.Errorf("start %s: %w", c.Name(), err)
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
			defer cancel()
			if stopErr := g.Stop(stopCtx); stopErr != nil {
				return errors.Join(startErr, stopErr)
			}
			return startErr
		}
		g.started = append(g.started, c)
		g.log.Info("started", "component", c.Name(), "took_ms", time.Since(began).Milliseconds())
	}
	return nil
}

// Stop stops started components in reverse order. Every component gets its Stop call
// even when an earlier one failed or the deadline passed; errors are joined.
func (g *Group) Stop(ctx context.Context) error {
	var errs []error
	for i := len(g.started) - 1; i >= 0; i-- {
		c := g.started[i]
		if err := c.Stop(ctx); err != nil {
			g.log.Error("stop failed", "component", c.Name(), "err", err)
			errs = append(errs, fmt.Errorf("stop %s: %w", c.Name(), err))
			continue
		}
		g.log.Info("stopped", "component", c.Name())
	}
	g.started = nil
	return errors.Join(errs...)
}
