// Package workflows connects Codexion to Temporal: the client that starts workflows and
// the worker that runs them. Workflows and activities register here as the capabilities
// that need them (ingestion, materialization, training, drift, promotion) land.
package workflows

import (
	"context"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/codexion/codexion/platform"
)

// Client is the Temporal client as a lifecycle component.
type Client struct {
	Address   string
	Namespace string
	Log       *slog.Logger

	client.Client
}

func (c *Client) Name() string { return "temporal-client" }

// Start dials the frontend; a server that does not answer fails start.
func (c *Client) Start(ctx context.Context) error {
	cl, err := client.DialContext(ctx, client.Options{
		HostPort:  c.Address,
		Namespace: c.Namespace,
		Logger:    log.NewStructuredLogger(c.Log.With("component", "temporal")),
	})
	if err != nil {
		return platform.Unavailable(err, "Temporal at %s (namespace %s) does not answer", c.Address, c.Namespace)
	}
	c.Client = cl
	return nil
}

func (c *Client) Stop(context.Context) error {
	if c.Client != nil {
		c.Close()
	}
	return nil
}

// Check is the readiness check.
func (c *Client) Check(ctx context.Context) error {
	if c.Client == nil {
		return fmt.Errorf("not connected")
	}
	_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// Registration adds workflows and activities to a worker.
type Registration func(w worker.Registry)

// Worker polls one task queue for the registered workflows and activities.
type Worker struct {
	Client    *Client
	TaskQueue string
	Log       *slog.Logger
	Register  []Registration

	w worker.Worker
}

func (w *Worker) Name() string { return "temporal-worker" }

// Start begins polling. With nothing registered there is nothing to poll: the worker
// says so and stays idle rather than pretending.
func (w *Worker) Start(context.Context) error {
	if len(w.Register) == 0 {
		w.Log.Info("temporal worker has no workflows or activities registered yet; it is connected and idle",
			"task_queue", w.TaskQueue)
		return nil
	}
	w.w = worker.New(w.Client.Client, w.TaskQueue, worker.Options{})
	for _, reg := range w.Register {
		reg(w.w)
	}
	if err := w.w.Start(); err != nil {
		return fmt.Errorf("temporal worker on %s: %w", w.TaskQueue, err)
	}
	return nil
}

func (w *Worker) Stop(context.Context) error {
	if w.w != nil {
		w.w.Stop()
	}
	return nil
}
