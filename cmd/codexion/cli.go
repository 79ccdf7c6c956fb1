package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/codexion/codexion/app"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/buildinfo"
	"github.com/codexion/codexion/platform/config"
	"github.com/codexion/codexion/platform/logging"
	"github.com/codexion/codexion/platform/postgres"
)

type cli struct {
	configFile  string
	started     bool // set once flags and arguments parsed; errors before are usage errors
	stopSignals func()
	stdout      io.Writer
	stderr      io.Writer
}

func (c *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "codexion",
		Short: "Codexion turns an ERP accounting ledger into a governed ML platform",
		Long: `Codexion: a double-entry ledger on PostgreSQL whose events flow through Kafka into a
feature store, a model registry and a gated serving tier, with lineage and an audit log.

Configuration comes from codexion.yaml (or --config), CODEXION_* environment variables
and --key.path flags, in rising precedence. Run 'codexion config print' to see it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			c.started = true
		},
	}
	root.PersistentFlags().StringVarP(&c.configFile, "config", "c", "", "config file (default codexion.yaml when present, or $CODEXION_CONFIG)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(c.serveCmd(), c.workerCmd(), c.devCmd(), c.migrateCmd(), c.configCmd(), c.ledgerCmd(), c.simulateCmd(), c.eventsCmd(), c.applyCmd(), c.deleteCmd(), c.pipelineCmd(), c.modelCmd(), c.versionCmd())
	return root
}

// load reads the configuration with cmd's flags on top.
func (c *cli) load(cmd *cobra.Command) (*config.Loaded, *slog.Logger, error) {
	l, err := config.Load(config.Options{File: c.configFile, Flags: cmd.Flags()})
	if err != nil {
		return nil, nil, err
	}
	log, err := logging.New(c.stderr, l.Config.Log.Level, l.Config.Log.Format)
	if err != nil {
		return nil, nil, platform.Invalid("%v", err)
	}
	return l, log, nil
}

func withConfigFlags(cmd *cobra.Command) *cobra.Command {
	config.RegisterFlags(cmd.Flags())
	return cmd
}

func (c *cli) serveCmd() *cobra.Command {
	var requireSigned bool
	var pubKey string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API against the configured PostgreSQL, Kafka, Temporal and S3",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, log, err := c.load(cmd)
			if err != nil {
				return err
			}
			if requireSigned {
				if err := verifyLoadedFile(l, pubKey); err != nil {
					return err
				}
				log.Info("config signature verified", "file", l.File)
			}
			a, err := app.New(cmd.Context(), l.Config, app.ModeServe, log)
			if err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&requireSigned, "require-signed-config", false, "refuse to start unless the config file carries a valid signature")
	cmd.Flags().StringVar(&pubKey, "config-pubkey", os.Getenv("CODEXION_CONFIG_PUBKEY"), "Ed25519 public key (PEM) that signs the config [env CODEXION_CONFIG_PUBKEY]")
	return withConfigFlags(cmd)
}

func verifyLoadedFile(l *config.Loaded, pubKey string) error {
	if pubKey == "" {
		return platform.Invalid("--require-signed-config needs --config-pubkey (or CODEXION_CONFIG_PUBKEY) naming the trusted public key")
	}
	if l.File == "" {
		return platform.Invalid("--require-signed-config: no config file was read, so there is nothing signed; pass --config FILE")
	}
	pub, err := config.LoadPublicKey(pubKey)
	if err != nil {
		return err
	}
	return config.Verify(l.File, pub)
}

func (c *cli) workerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the Temporal worker that executes Codexion's workflows",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, log, err := c.load(cmd)
			if err != nil {
				return err
			}
			a, err := app.New(cmd.Context(), l.Config, app.ModeWorker, log)
			if err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}
	return withConfigFlags(cmd)
}

func (c *cli) devCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process on the embedded dev stack (data under .codexion/)",
		Long: `Starts a private PostgreSQL cluster, an in-process Kafka-protocol broker, an in-process
S3-compatible server and Temporal's dev server, all on 127.0.0.1, then the API and the
worker on top. Any of them can be replaced by a real service: set CODEXION_DATABASE_URL,
CODEXION_KAFKA_BROKERS, CODEXION_S3_ENDPOINT or CODEXION_TEMPORAL_ADDRESS.
Tokens for every role go to .codexion/dev-tokens.json. Ctrl-C stops everything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, log, err := c.load(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			d, err := app.StartDev(ctx, l.Config, log)
			if err != nil {
				return err
			}
			d.PrintEndpoints(c.stdout)
			<-ctx.Done()
			c.stopSignals() // a second Ctrl-C now kills at once
			log.Info("stopping the dev stack", "deadline", l.Config.ShutdownTimeout.String())
			return d.Stop()
		},
	}
	return withConfigFlags(cmd)
}

func (c *cli) migrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply or list the database migrations embedded in this binary",
	}
	run := func(fn func(ctx context.Context, db *postgres.Pool) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			db, err := c.openDB(cmd)
			if err != nil {
				return err
			}
			defer db.Stop(context.Background()) //nolint:errcheck // closing a pool has nothing to report
			return fn(cmd.Context(), db)
		}
	}
	up := withConfigFlags(&cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, db *postgres.Pool) error {
			applied, err := postgres.Up(ctx, db.Pool, app.Migrations())
			for _, m := range applied {
				fmt.Fprintf(c.stdout, "applied %s %04d_%s\n", m.Source, m.Version, m.Name)
			}
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(c.stdout, "database is up to date")
			}
			return nil
		}),
	})
	status := withConfigFlags(&cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, db *postgres.Pool) error {
			st, err := postgres.List(ctx, db.Pool, app.Migrations())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SOURCE\tVERSION\tNAME\tAPPLIED")
			for _, s := range st {
				at := "pending"
				if s.AppliedAt != nil {
					at = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
				}
				fmt.Fprintf(tw, "%s\t%04d\t%s\t%s\n", s.Source, s.Version, s.Name, at)
			}
			if len(st) == 0 {
				fmt.Fprintln(tw, "(this build embeds no migrations)")
			}
			return tw.Flush()
		}),
	})
	cmd.AddCommand(up, status)
	return cmd
}

func (c *cli) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print, sign and verify configuration",
	}
	print := withConfigFlags(&cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration with secrets redacted and each value's source",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := config.Load(config.Options{File: c.configFile, Flags: cmd.Flags()})
			if err != nil {
				return err
			}
			return l.Print(c.stdout)
		},
	})
	var keyOut string
	keygen := &cobra.Command{
		Use:   "keygen",
		Short: "Create an Ed25519 key pair for signing config files (KEY and KEY.pub)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := config.GenerateKey(keyOut, keyOut+".pub"); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "wrote %s (private, keep it secret) and %s.pub\n", keyOut, keyOut)
			return nil
		},
	}
	keygen.Flags().StringVar(&keyOut, "out", "codexion-config.key", "path of the private key; the public key gets .pub")
	var signKey string
	sign := &cobra.Command{
		Use:   "sign FILE",
		Short: "Sign a config file with an Ed25519 private key; writes FILE.sig",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if signKey == "" {
				return usageError{fmt.Errorf("--key is required: the private key from `codexion config keygen`")}
			}
			priv, err := config.LoadPrivateKey(signKey)
			if err != nil {
				return err
			}
			if _, err := config.Load(config.Options{File: args[0], Env: func(string) string { return "" }}); err != nil {
				return fmt.Errorf("refusing to sign an invalid config: %w", err)
			}
			sig, err := config.Sign(args[0], priv)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "signed %s -> %s\n", args[0], sig)
			return nil
		},
	}
	sign.Flags().StringVar(&signKey, "key", "", "Ed25519 private key (PEM)")
	var verifyKey string
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check FILE against FILE.sig; exit 2 if it is unsigned, altered or signed by another key",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if verifyKey == "" {
				verifyKey = os.Getenv("CODEXION_CONFIG_PUBKEY")
			}
			if verifyKey == "" {
				return usageError{fmt.Errorf("--pubkey is required (or CODEXION_CONFIG_PUBKEY)")}
			}
			pub, err := config.LoadPublicKey(verifyKey)
			if err != nil {
				return err
			}
			if err := config.Verify(args[0], pub); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "%s: signature ok (key %s)\n", args[0], config.KeyID(pub))
			return nil
		},
	}
	verify.Flags().StringVar(&verifyKey, "pubkey", "", "Ed25519 public key (PEM)")
	cmd.AddCommand(print, keygen, sign, verify)
	return cmd
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			i := buildinfo.Get()
			fmt.Fprintf(c.stdout, "codexion %s (commit %s, %s)\n", i.Version, i.Commit, i.GoVersion)
		},
	}
}

// openDB connects to the configured database for a one-off command.
func (c *cli) openDB(cmd *cobra.Command) (*postgres.Pool, error) {
	l, _, err := c.load(cmd)
	if err != nil {
		return nil, err
	}
	return app.OpenDB(cmd.Context(), l.Config)
}
