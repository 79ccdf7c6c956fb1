package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/codexion/codexion/app"
	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/workflows/ingest"
)

func (c *cli) applyCmd() *cobra.Command {
	var f apiFlags
	var dir string
	var dryRun, force bool
	cmd := &cobra.Command{
		Use:   "apply -f DIR",
		Short: "Apply pipeline, entity, feature view and feature service specs (YAML)",
		Long: `Sends every .yaml file under DIR (or the one file named) to the API, which parses and
checks each document, checks pipelines' SQL and views' columns against the offline store,
diffs them with what is in force and records the changed ones as new versions, all or
nothing. A change that breaks what runs or what models were trained on (a removed feature,
a pipeline whose output columns change, a new join key) is refused unless --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{fmt.Errorf("-f is required: a folder of specs such as examples/ledger")}
			}
			docs, err := catalog.ReadDir(dir)
			if err != nil {
				return platform.Invalid("%v", err)
			}
			return c.changeCatalog(cmd, f, "POST", "/v1/catalog/apply", catalog.ApplyRequest{Documents: docs}, dryRun, force)
		},
	}
	f.register(cmd, "data-engineer")
	cmd.Flags().StringVarP(&dir, "file", "f", "", "folder (or file) of YAML specs")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and diff only")
	cmd.Flags().BoolVar(&force, "force", false, "accept breaking changes")
	return cmd
}

func (c *cli) deleteCmd() *cobra.Command {
	var f apiFlags
	var dryRun, force bool
	cmd := &cobra.Command{
		Use:   "delete KIND NAME",
		Short: "Remove a pipeline, entity, feature view or feature service from the catalog",
		Long: `Records the removal as a new version (the history stays). An object others refer to cannot
be removed; removing a pipeline (its workflow ends), a view or a service needs --force.
KIND is Pipeline, Entity, FeatureView or FeatureService.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.changeCatalog(cmd, f, "DELETE", "/v1/catalog/"+url.PathEscape(args[0])+"/"+url.PathEscape(args[1]), nil, dryRun, force)
		},
	}
	f.register(cmd, "data-engineer")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check only")
	cmd.Flags().BoolVar(&force, "force", false, "accept removing a pipeline, view or service")
	return cmd
}

// changeCatalog sends an apply or a delete and prints what it did (or would do).
func (c *cli) changeCatalog(cmd *cobra.Command, f apiFlags, method, path string, body any, dryRun, force bool) error {
	cl, err := f.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	if dryRun {
		q.Set("dry_run", "true")
	}
	if force {
		q.Set("force", "true")
	}
	var res catalog.Result
	if _, err := cl.Do(cmd.Context(), method, path+"?"+q.Encode(), body, &res); err != nil {
		return err
	}
	for _, ch := range res.Changes {
		line := fmt.Sprintf("%-15s %-24s %-9s v%d", ch.Kind, ch.Name, ch.Action, ch.Version)
		if len(ch.Breaking) > 0 {
			line += "  breaking: " + strings.Join(ch.Breaking, "; ")
		}
		fmt.Fprintln(c.stdout, line)
	}
	if res.DryRun {
		fmt.Fprintln(c.stdout, "dry run: nothing was recorded")
	} else {
		fmt.Fprintf(c.stdout, "catalog at revision %d\n", res.Revision)
	}
	return nil
}

func (c *cli) pipelineCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "pipeline", Short: "Run and inspect ingestion pipelines from Kafka into the offline store"}
	cmd.AddCommand(c.pipelineRunCmd(), c.pipelineStatusCmd(), c.pipelineSignalCmd("start", "Start the pipeline's Temporal workflow if none runs"),
		c.pipelineSignalCmd("pause", "Pause the pipeline after its current batch"), c.pipelineSignalCmd("resume", "Resume a paused pipeline"),
		c.pipelineBackfillCmd())
	return cmd
}

func (c *cli) pipelineSignalCmd(action, short string) *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use:   action + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			var st ingest.Status
			if _, err := cl.Do(cmd.Context(), "POST", "/v1/pipelines/"+url.PathEscape(args[0])+"/"+action, nil, &st); err != nil {
				return err
			}
			return printJSON(c.stdout, st)
		},
	}
	f.register(cmd, "data-engineer")
	return cmd
}

func (c *cli) pipelineBackfillCmd() *cobra.Command {
	var f apiFlags
	var from, to, key string
	var fromOffsets, toOffsets []string
	cmd := &cobra.Command{
		Use:   "backfill NAME [--from TIME --to TIME | --from-offset P:O --to-offset P:O]",
		Short: "Ingest a range of the pipeline's topic again (events ingested before are skipped)",
		Long: `Runs a Backfill workflow on Temporal over a time range (message timestamps, RFC 3339) or an
offset range (partition:offset, repeatable) of the pipeline's topic and waits for it. Rows of
events already ingested are skipped by id, so a backfill is safe to repeat; the pipeline's own
position is left alone. A file pipeline ingests its pending files.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req ingest.BackfillRequest
			for flag, v := range map[string]string{"from": from, "to": to} {
				if v == "" {
					continue
				}
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return usageError{fmt.Errorf("--%s %q: write an RFC 3339 time such as 2026-03-01T00:00:00Z", flag, v)}
				}
				if flag == "from" {
					req.From = &t
				} else {
					req.To = &t
				}
			}
			var err error
			if req.FromOffsets, err = partitionOffsets("from-offset", fromOffsets); err != nil {
				return err
			}
			if req.ToOffsets, err = partitionOffsets("to-offset", toOffsets); err != nil {
				return err
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			var headers []string
			if key != "" {
				headers = []string{"Idempotency-Key", key}
			}
			var st ingest.BackfillStatus
			if _, err := cl.Do(cmd.Context(), "POST", "/v1/pipelines/"+url.PathEscape(args[0])+"/backfill", req, &st, headers...); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "backfill %s: %d events read, %d new rows, %d to the dead-letter topic\n", st.WorkflowID, st.Events, st.Rows, st.DeadLetters)
			return nil
		},
	}
	f.register(cmd, "data-engineer")
	cmd.Flags().StringVar(&from, "from", "", "start time (RFC 3339), inclusive")
	cmd.Flags().StringVar(&to, "to", "", "end time (RFC 3339), exclusive")
	cmd.Flags().StringArrayVar(&fromOffsets, "from-offset", nil, "partition:offset to start at (repeatable)")
	cmd.Flags().StringArrayVar(&toOffsets, "to-offset", nil, "partition:offset to stop before (repeatable)")
	cmd.Flags().StringVar(&key, "idempotency-key", "", "a retried command with the same key joins the same backfill")
	return cmd
}

func partitionOffsets(flag string, vals []string) (map[int]int64, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[int]int64{}
	for _, v := range vals {
		p, o, ok := strings.Cut(v, ":")
		pn, err1 := strconv.Atoi(p)
		on, err2 := strconv.ParseInt(o, 10, 64)
		if !ok || err1 != nil || err2 != nil || pn < 0 || on < 0 {
			return nil, usageError{fmt.Errorf("--%s %q: write partition:offset, e.g. 0:1500", flag, v)}
		}
		out[pn] = on
	}
	return out, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cli) pipelineRunCmd() *cobra.Command {
	var f apiFlags
	var file, store string
	var once bool
	cmd := withConfigFlags(&cobra.Command{
		Use:   "run NAME --once | run -f SPEC.yaml [--once]",
		Short: "Drain an applied pipeline through the API, or run a spec file against an offline store file",
		Long: `With NAME, asks the running Codexion to drain the applied pipeline: it returns once the
pipeline has ingested everything its topic held (the process that owns the offline store
runs applied pipelines continuously).

With -f, runs the spec in this process against the offline store file (--offline), which no
other process may have open: for backfills and trials without a server. It reads the topic
from the offsets stored in the file, decodes and validates each CloudEvent, applies the
transform and appends rows, offsets and event ids in one DuckDB transaction; malformed
events go to codexion.dlq.v1. Running it again picks up where it stopped.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if file != "" {
					return usageError{fmt.Errorf("give a pipeline NAME or -f SPEC, not both")}
				}
				if !once {
					return usageError{fmt.Errorf("applied pipelines run continuously in the server; use --once to drain one, or `codexion pipeline status %s`", args[0])}
				}
				cl, err := f.client()
				if err != nil {
					return err
				}
				var st ingest.Status
				if _, err := cl.Do(cmd.Context(), "POST", "/v1/pipelines/"+url.PathEscape(args[0])+"/drain", nil, &st); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "pipeline %s v%d drained: nothing left on its topic\n", st.Name, st.Version)
				if st.Workflow != nil {
					events, rows, dead := st.Workflow.Events, st.Workflow.Rows, st.Workflow.DeadLetters
					if r := st.Running; r != nil && r.Version == st.Version { // the run in progress has not reported yet
						events, rows, dead = events+r.Events, rows+r.Rows, dead+r.DeadLetters
					}
					fmt.Fprintf(c.stdout, "workflow %s: %d events, %d rows, %d to the dead-letter topic so far\n",
						st.WorkflowID, events, rows, dead)
				}
				return nil
			}
			if file == "" {
				return usageError{fmt.Errorf("give an applied pipeline's NAME, or -f with a spec such as examples/ledger/pipelines/ledger-lines.yaml")}
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				return platform.Invalid("read %s: %v", file, err)
			}
			l, log, err := c.load(cmd)
			if err != nil {
				return err
			}
			run, err := app.RunPipelineFile(cmd.Context(), l.Config, file, raw, store, once, log)
			if run.Spec != "" {
				fmt.Fprintf(c.stdout, "pipeline %s: %d events read, %d rows written to %s in %s, %d to the dead-letter topic, %d of other types\n",
					run.Spec, run.Stats.Events, run.Stats.Rows, run.Table, run.Store, run.Stats.DeadLetters, run.Stats.Skipped)
			}
			return err
		},
	})
	f.register(cmd, "data-engineer")
	cmd.Flags().StringVarP(&file, "file", "f", "", "pipeline spec (YAML) to run in this process")
	cmd.Flags().StringVar(&store, "offline", "", "offline store file for -f (default <dev.data_dir>/offline.duckdb)")
	cmd.Flags().BoolVar(&once, "once", false, "drain what is available and exit")
	return cmd
}

func (c *cli) pipelineStatusCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show pipelines: version, the workflow's status (events, rows, last error, paused), the run in progress, lag",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			path := "/v1/pipelines"
			if len(args) == 1 {
				path += "/" + url.PathEscape(args[0])
			}
			var out json.RawMessage
			if _, err := cl.Do(cmd.Context(), "GET", path, nil, &out); err != nil {
				return err
			}
			var pretty any
			_ = json.Unmarshal(out, &pretty)
			return printJSON(c.stdout, pretty)
		},
	}
	f.register(cmd, "data-engineer")
	return cmd
}
