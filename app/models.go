package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/server"
	"github.com/codexion/codexion/models"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/lifecycle"
	"github.com/codexion/codexion/workflows"
	"github.com/codexion/codexion/workflows/ingest"
	"github.com/codexion/codexion/workflows/training"
)

// modelTraining connects a training's ports: the catalog (model specs), the feature store
// (rows, training sets) and the Temporal runner that the model API starts trainings with.
type modelTraining struct {
	catalog *catalog.Store
	sets    *server.TrainingSets
	runner  *training.Runner
}

func newModelTraining(c *catalog.Store, sets *server.TrainingSets, t *workflows.Client) *modelTraining {
	return &modelTraining{catalog: c, sets: sets, runner: training.NewRunner(t, ingest.TaskQueue)}
}

// Model reads a model's spec as applied.
func (m *modelTraining) Model(ctx context.Context, name string) (models.ModelSpec, int, int64, error) {
	snap, err := m.catalog.Snapshot(ctx)
	if err != nil {
		return models.ModelSpec{}, 0, 0, err
	}
	v, ok := catalog.Lookup[models.ModelSpec](snap, models.KindModel, name)
	if !ok {
		return models.ModelSpec{}, 0, 0, platform.NotFound("model %s is not declared in the catalog (apply a kind: Model document)", name)
	}
	return v.Spec, v.Version, snap.Revision, nil
}

func (m *modelTraining) SubmitTrainingSet(ctx context.Context, req features.TrainingRowsRequest) (string, []string, error) {
	return m.sets.SubmitRows(ctx, req)
}

func (m *modelTraining) TrainingSet(ctx context.Context, jobID string) (string, string, features.TrainingLineage, error) {
	return m.sets.TrainingSetState(ctx, jobID)
}

func (m *modelTraining) OpenTrainingSet(ctx context.Context, jobID string) (io.ReadCloser, error) {
	rc, _, err := m.sets.Result(ctx, jobID)
	return rc, err
}

// StartTraining checks the model is declared, then starts its training.
func (m *modelTraining) StartTraining(r *http.Request, model, trainingID, actor string) error {
	if _, _, _, err := m.Model(r.Context(), model); err != nil {
		return err
	}
	_, err := m.runner.Start(r.Context(), training.Input{Model: model, TrainingID: trainingID, Actor: actor})
	return err
}

func (m *modelTraining) TrainingStatus(r *http.Request, model, trainingID string) (any, error) {
	return m.runner.Status(r.Context(), model, trainingID)
}

// DemoModel is the model the dev stack trains on the demo book when it is declared.
const DemoModel = "entry-risk"

// demoTrainingTimeout bounds the demo training at start.
const demoTrainingTimeout = 5 * time.Minute

// trainDemo trains the demo model once the demo book's lines are in the offline store, so
// that its version is READY when the stack is up. A second start on the same data and spec
// finds that version and registers nothing.
func (a *App) trainDemo(ctx context.Context, log *slog.Logger) error {
	if a.training == nil || a.Pipelines == nil {
		return nil
	}
	if _, _, _, err := a.training.Model(ctx, DemoModel); platform.KindOf(err) == platform.KindNotFound {
		return nil // not declared: nothing to train
	}
	ctx, cancel := context.WithTimeout(ctx, demoTrainingTimeout)
	defer cancel()
	began := time.Now()
	for {
		var pending int
		if err := a.DB.QueryRow(ctx, `SELECT count(*) FROM codexion_outbox WHERE published_at IS NULL AND dead_letter_reason IS NULL`).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d ledger events still unpublished: %w", pending, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if _, err := a.Pipelines.Drain(ctx, "ledger-lines"); err != nil {
		return fmt.Errorf("drain ledger-lines: %w", err)
	}
	id := "demo-" + time.Now().UTC().Format("20060102T150405")
	if _, err := a.training.runner.Start(ctx, training.Input{Model: DemoModel, TrainingID: id, Actor: "dev-demo"}); err != nil {
		return err
	}
	for {
		st, err := a.training.runner.Status(ctx, DemoModel, id)
		if err != nil {
			return err
		}
		switch st.State {
		case "failed":
			return errors.New(st.Error)
		case "succeeded":
			log.Info("demo model ready", "model", DemoModel, "version", st.Result.Version, "existing", st.Result.Existing,
				"took_ms", time.Since(began).Milliseconds())
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// retraining keeps a Temporal Schedule per declared model with retrain_every, in the process
// that owns the offline store (where the trainings run). It follows the catalog: a change
// of revision reconciles at once, and every half minute it reconciles anyway, so a schedule
// deleted by hand comes back and one left by a model no longer declared goes.
func (a *App) retraining(log *slog.Logger) lifecycle.Component {
	schedules := training.NewSchedules(a.Temporal, ingest.TaskQueue)
	reconcile := func(ctx context.Context) error {
		snap, err := a.Catalog.Snapshot(ctx)
		if err != nil {
			return err
		}
		want := map[string]time.Duration{}
		for name, v := range catalog.Of[models.ModelSpec](snap, models.KindModel) {
			if v.Spec.RetrainEvery == "" {
				continue
			}
			every, err := time.ParseDuration(v.Spec.RetrainEvery)
			if err != nil {
				return fmt.Errorf("model %s: retrain_every: %w", name, err)
			}
			want[name] = every
		}
		return schedules.Reconcile(ctx, want)
	}
	return &lifecycle.Loop{ComponentName: "model-retraining", Run: func(ctx context.Context) {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		rev := int64(-1)
		for i := 0; ; i++ {
			if r, err := a.Catalog.Revision(ctx); err == nil && (r != rev || i%15 == 0) {
				if err := reconcile(ctx); err != nil {
					if ctx.Err() != nil {
						return
					}
					log.Warn("retrain schedules: will retry", "error", err)
				} else {
					rev = r
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}}
}
