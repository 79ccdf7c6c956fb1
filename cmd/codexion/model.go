package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/codexion/codexion/models"
	"github.com/codexion/codexion/workflows/training"
)

// trainWaitPoll is how often `model train` asks about its training.
const trainWaitPoll = 500 * time.Millisecond

func (c *cli) modelCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "model", Short: "Train declared models and read registered versions with their lineage"}
	cmd.AddCommand(c.modelListCmd(), c.modelShowCmd(), c.modelVersionsCmd(), c.modelTrainCmd())
	return cmd
}

func (c *cli) modelListCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use: "list", Short: "Registered models, their latest version and aliases", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			var out struct {
				Items []models.RegisteredModel `json:"items"`
			}
			if _, err := cl.Do(cmd.Context(), "GET", "/v1/models", nil, &out); err != nil {
				return apiErr(err)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL\tLATEST\tALIASES\tUPDATED")
			for _, m := range out.Items {
				latest := "-"
				for _, v := range m.LatestVersions {
					latest = v.Version
				}
				aliases := ""
				for _, a := range m.Aliases {
					aliases += a.Alias + "=" + a.Version + " "
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, latest, aliases, time.UnixMilli(m.LastUpdatedTimestamp).UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	f.register(cmd, "ml-engineer")
	return cmd
}

func (c *cli) modelShowCmd() *cobra.Command {
	var f apiFlags
	var version string
	cmd := &cobra.Command{
		Use: "show NAME [--version N]", Short: "A version with its lineage and evaluation (the latest by default), as JSON", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			if version == "" {
				var m models.RegisteredModel
				if _, err := cl.Do(cmd.Context(), "GET", "/v1/models/"+args[0], nil, &m); err != nil {
					return apiErr(err)
				}
				best := 0
				for _, v := range m.LatestVersions {
					if n, _ := strconv.Atoi(v.Version); n > best {
						best, version = n, v.Version
					}
				}
				if version == "" {
					return fmt.Errorf("model %s has no versions yet", args[0])
				}
			}
			var v json.RawMessage
			if _, err := cl.Do(cmd.Context(), "GET", "/v1/models/"+args[0]+"/versions/"+version, nil, &v); err != nil {
				return apiErr(err)
			}
			enc := json.NewEncoder(c.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		},
	}
	f.register(cmd, "ml-engineer")
	cmd.Flags().StringVar(&version, "version", "", "version number (default: the latest)")
	return cmd
}

func (c *cli) modelVersionsCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use: "versions NAME", Short: "A model's versions with their evaluation and training data", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			var out struct {
				Items []models.ModelVersion `json:"items"`
			}
			if _, err := cl.Do(cmd.Context(), "GET", "/v1/models/"+args[0]+"/versions", nil, &out); err != nil {
				return apiErr(err)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tSTATUS\tALIASES\tEVALUATION\tROWS\tTRAINING_SET_SHA256\tRUN")
			for _, v := range out.Items {
				var lin models.Lineage
				_ = json.Unmarshal(v.Lineage, &lin)
				sha := lin.TrainingSet.SHA256
				if len(sha) > 12 {
					sha = sha[:12]
				}
				eval := "-" // registered from elsewhere: no evaluation of Codexion's
				switch {
				case lin.Evaluation != nil:
					eval = fmt.Sprintf("roc_auc %.4f pr_auc %.4f", lin.Evaluation.ROCAUC, lin.Evaluation.PRAUC)
				case lin.Regression != nil:
					eval = fmt.Sprintf("rmse %.4g mae %.4g", lin.Regression.RMSE, lin.Regression.MAE)
				}
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%d\t%s\t%s\n", v.Version, v.Status, v.Aliases, eval, lin.TrainingSet.Rows, sha, v.RunID)
			}
			return tw.Flush()
		},
	}
	f.register(cmd, "ml-engineer")
	return cmd
}

func (c *cli) modelTrainCmd() *cobra.Command {
	var f apiFlags
	var key string
	var wait bool
	cmd := &cobra.Command{
		Use:   "train NAME",
		Short: "Train a declared model (a TrainModel workflow) and wait for the version it registers",
		Long: `Starts the training of a model declared in the catalog (kind: Model): its rows query
picks the training rows, the feature store builds the training set point in time, the model
is fitted and evaluated on the latest rows, and a READY version is registered with its
lineage. The same spec on the same data finds the version it made before. --key makes a
retried command the same training.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			var headers []string
			if key != "" {
				headers = []string{"Idempotency-Key", key}
			}
			var started models.TrainingStarted
			if _, err := cl.Do(cmd.Context(), "POST", "/v1/models/"+args[0]+"/train", nil, &started, headers...); err != nil {
				return apiErr(err)
			}
			fmt.Fprintf(c.stdout, "training %s started (%s)\n", started.TrainingID, started.Status)
			if !wait {
				return nil
			}
			for {
				var st training.Status
				if _, err := cl.Do(cmd.Context(), "GET", started.Status, nil, &st); err != nil {
					return apiErr(err)
				}
				switch st.State {
				case "succeeded":
					if st.Result.Existing {
						fmt.Fprintf(c.stdout, "%s version %s was already trained on this spec and data; nothing new registered\n", st.Model, st.Result.Version)
					} else {
						fmt.Fprintf(c.stdout, "%s version %s registered (run %s)\n", st.Model, st.Result.Version, st.Result.RunID)
					}
					return nil
				case "failed":
					return fmt.Errorf("training %s failed: %s", st.TrainingID, st.Error)
				}
				select {
				case <-cmd.Context().Done():
					return context.Cause(cmd.Context())
				case <-time.After(trainWaitPoll):
				}
			}
		},
	}
	f.register(cmd, "ml-engineer")
	cmd.Flags().StringVar(&key, "key", "", "idempotency key: the same key is the same training")
	cmd.Flags().BoolVar(&wait, "wait", true, "wait for the training to end")
	return cmd
}
