package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/config"
)

// PipelineFileRun is what a standalone pipeline run did.
type PipelineFileRun struct {
	Spec  string // the pipeline's name ("" when it did not start)
	Table string
	Store string // the offline store file
	Stats pipelines.Stats
}

// RunPipelineFile runs the pipeline spec in raw (read from file) in this process, against
// the offline store file store (default <dev.data_dir>/offline.duckdb): for backfills and
// trials without a server. With once it drains what is available and returns.
func RunPipelineFile(ctx context.Context, cfg config.Config, file string, raw []byte, store string, once bool, log *slog.Logger) (PipelineFileRun, error) {
	var run PipelineFileRun
	objs, err := Kinds().Parse(file, raw)
	if err != nil {
		return run, platform.Invalid("%v", err)
	}
	if len(objs) != 1 || objs[0].Kind != pipelines.KindName {
		return run, platform.Invalid("%s: expected one document of kind Pipeline", file)
	}
	spec := objs[0].Spec.(pipelines.Spec)
	brokers := cfg.Kafka.Brokers
	if len(brokers) == 0 {
		brokers = []string{cfg.Dev.KafkaAddr}
	}
	if store == "" {
		store = filepath.Join(cfg.Dev.DataDir, "offline.duckdb")
	}
	events, err := Events()
	if err != nil {
		return run, err
	}
	set, err := events.Set()
	if err != nil {
		return run, err
	}
	off, err := offline.Open(ctx, store, offline.FileRoots(cfg.Features.FileRoots...))
	if err != nil {
		return run, fmt.Errorf("%w\n(a running `codexion dev` or `serve` holds its offline store and runs applied pipelines itself: use `codexion pipeline run NAME --once`)", err)
	}
	defer off.Close() //nolint:errcheck // the data is committed per batch
	e := &pipelines.Engine{Spec: spec, Store: off, Brokers: brokers, Schemas: set, Log: log}
	run = PipelineFileRun{Spec: spec.Name, Table: spec.Sink.Table, Store: store}
	run.Stats, err = e.Run(ctx, once)
	return run, err
}
