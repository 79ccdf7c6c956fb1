package training

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/codexion/codexion/workflows"
)

// ScheduleID names a model's retraining schedule.
func ScheduleID(model string) string { return schedulePrefix + model }

const schedulePrefix = "retrain-"

// ScheduledActor is who a scheduled training is recorded as started by.
const ScheduledActor = "codexion (retrain schedule)"

// Schedules keeps one Temporal Schedule per model that declares retrain_every. Each run of a
// schedule starts TrainModel under a workflow id Temporal makes unique per scheduled time,
// which is also the training's id; a run on the same spec and data finds the version it
// made and registers nothing. Overlapping runs are skipped (workflows.EnsureInterval).
type Schedules struct {
	temporal  *workflows.Client
	taskQueue string
	mu        sync.Mutex
	known     map[string]time.Duration // model → interval this process made sure of
}

// NewSchedules returns the retraining schedules of trainings run on taskQueue.
func NewSchedules(c *workflows.Client, taskQueue string) *Schedules {
	return &Schedules{temporal: c, taskQueue: taskQueue, known: map[string]time.Duration{}}
}

// Reconcile makes the schedules match want (model → interval): it creates and updates what
// is declared and deletes the retraining schedules of models that no longer declare one,
// including those a previous process made.
func (s *Schedules) Reconcile(ctx context.Context, want map[string]time.Duration) error {
	if s.temporal.Client == nil {
		return errors.New("temporal client not connected")
	}
	sc := s.temporal.ScheduleClient()
	var errs []error
	for model, every := range want {
		if err := s.ensure(ctx, sc, model, every); err != nil {
			errs = append(errs, fmt.Errorf("retrain schedule of %s: %w", model, err))
		}
	}
	it, err := sc.List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			errs = append(errs, err)
			break
		}
		model, ok := strings.CutPrefix(e.ID, schedulePrefix)
		if _, wanted := want[model]; !ok || wanted {
			continue
		}
		if err := workflows.EnsureInterval(ctx, sc, e.ID, 0, nil); err != nil {
			errs = append(errs, fmt.Errorf("delete retrain schedule of %s: %w", model, err))
			continue
		}
		s.mu.Lock()
		delete(s.known, model)
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

// ensure creates or updates one model's schedule.
func (s *Schedules) ensure(ctx context.Context, sc client.ScheduleClient, model string, every time.Duration) error {
	s.mu.Lock()
	known, ok := s.known[model]
	s.mu.Unlock()
	if ok && known == every {
		return nil
	}
	err := workflows.EnsureInterval(ctx, sc, ScheduleID(model), every, &client.ScheduleWorkflowAction{ID: WorkflowID("scheduled-" + model),
		Workflow: TrainModel, Args: []any{Input{Model: model, Actor: ScheduledActor}}, TaskQueue: s.taskQueue})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.known[model] = every
	s.mu.Unlock()
	return nil
}
