package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/schemas"
)

func (c *cli) pipelineCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "pipeline", Short: "Run ingestion pipelines from Kafka into the offline store"}
	var file, store string
	var once bool
	run := withConfigFlags(&cobra.Command{
		Use:   "run -f SPEC.yaml",
		Short: "Run a pipeline spec; with --once, drain what the topic holds and exit",
		Long: `Reads the spec's topic from the offsets stored in the offline store, decodes and validates
each CloudEvent, applies the spec's DuckDB SQL transform and appends the rows, offsets and event
ids in one DuckDB transaction. Malformed events go to codexion.dlq.v1. Running it again picks up
where it stopped and never doubles a row.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageError{fmt.Errorf("-f is required: a pipeline spec such as examples/ledger/pipelines/ledger-lines.yaml")}
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				return platform.Invalid("read %s: %v", file, err)
			}
			spec, err := pipelines.ParseSpec(raw)
			if err != nil {
				return platform.Invalid("%s: %v", file, err)
			}
			l, log, err := c.load(cmd)
			if err != nil {
				return err
			}
			brokers := l.Config.Kafka.Brokers
			if len(brokers) == 0 {
				brokers = []string{l.Config.Dev.KafkaAddr}
			}
			if store == "" {
				store = filepath.Join(l.Config.Dev.DataDir, "offline.duckdb")
			}
			set, err := schemas.Load()
			if err != nil {
				return err
			}
			off, err := offline.Open(cmd.Context(), store)
			if err != nil {
				return err
			}
			defer off.Close() //nolint:errcheck // the data is committed per batch
			e := &pipelines.Engine{Spec: spec, Store: off, Brokers: brokers, Schemas: set, Log: log}
			st, err := e.Run(cmd.Context(), once)
			fmt.Fprintf(c.stdout, "pipeline %s: %d events read, %d rows written to %s in %s, %d to the dead-letter topic, %d of other types\n",
				spec.Name, st.Events, st.Rows, spec.Sink.Table, store, st.DeadLetters, st.Skipped)
			return err
		},
	})
	run.Flags().StringVarP(&file, "file", "f", "", "pipeline spec (YAML)")
	run.Flags().StringVar(&store, "offline", "", "offline store file (default <dev.data_dir>/offline.duckdb)")
	run.Flags().BoolVar(&once, "once", false, "drain what is available and exit")
	cmd.AddCommand(run)
	return cmd
}
