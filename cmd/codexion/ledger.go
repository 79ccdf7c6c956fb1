package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/ledger/ledgerclient"
	"github.com/codexion/codexion/ledger/sim"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/apiclient"
	"github.com/codexion/codexion/platform/idempotency"
)

// apiFlags say which API to call and as whom.
type apiFlags struct {
	api, token, role, dataDir string
}

func (f *apiFlags) register(cmd *cobra.Command, defaultRole string) {
	cmd.Flags().StringVar(&f.api, "api", os.Getenv("CODEXION_API"), "API base URL [env CODEXION_API] (default: the dev stack's, else http://127.0.0.1:8080)")
	cmd.Flags().StringVar(&f.token, "token", "", "bearer token [env CODEXION_TOKEN] (default: the dev stack's token for --role)")
	cmd.Flags().StringVar(&f.role, "role", defaultRole, "role whose dev token to use when no token is given")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", ".codexion", "dev stack data directory, for its endpoints and tokens")
}

func (f *apiFlags) client() (*ledgerclient.Client, error) {
	base := f.api
	if base == "" {
		var ep struct {
			HTTP string `json:"http"`
		}
		if data, err := os.ReadFile(filepath.Join(f.dataDir, "endpoints.json")); err == nil && json.Unmarshal(data, &ep) == nil && ep.HTTP != "" {
			base = ep.HTTP
		} else {
			base = "http://127.0.0.1:8080"
		}
	}
	token := f.token
	if token == "" {
		token = os.Getenv("CODEXION_TOKEN")
	}
	if token == "" {
		data, err := os.ReadFile(filepath.Join(f.dataDir, "dev-tokens.json"))
		if err != nil {
			return nil, usageError{fmt.Errorf("no token: pass --token, set CODEXION_TOKEN, or run `codexion dev` for dev tokens")}
		}
		var tokens map[string]string
		if err := json.Unmarshal(data, &tokens); err != nil || tokens[f.role] == "" {
			return nil, usageError{fmt.Errorf("%s has no token for role %q", filepath.Join(f.dataDir, "dev-tokens.json"), f.role)}
		}
		token = tokens[f.role]
	}
	return ledgerclient.New(apiclient.New(base, token)), nil
}

// bookClient is client for commands that act on one book, which must be named.
func (f *apiFlags) bookClient(book string) (*ledgerclient.Client, error) {
	if book == "" {
		return nil, usageError{fmt.Errorf("--book is required")}
	}
	return f.client()
}

func (c *cli) ledgerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Work with the ledger through its API: init, post, import, trial balance"}
	cmd.AddCommand(c.ledgerInitCmd(), c.ledgerPostCmd(), c.ledgerTrialBalanceCmd(), c.ledgerImportCmd())
	return cmd
}

func (c *cli) ledgerInitCmd() *cobra.Command {
	var f apiFlags
	var book, name, currency, template string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a book and load a standard chart of accounts (safe to run twice)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.bookClient(book)
			if err != nil {
				return err
			}
			made, err := cl.InitBook(cmd.Context(), book, name, currency, template)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "book %s ready: %d accounts created from template %s\n", book, made, template)
			return nil
		},
	}
	f.register(cmd, "admin")
	cmd.Flags().StringVar(&book, "book", "", "book code, e.g. acme")
	cmd.Flags().StringVar(&name, "name", "", "book name (default: the code)")
	cmd.Flags().StringVar(&currency, "currency", "EUR", "base currency (ISO 4217)")
	cmd.Flags().StringVar(&template, "template", "sme", "chart of accounts template: sme")
	return cmd
}

func (c *cli) ledgerPostCmd() *cobra.Command {
	var f apiFlags
	var file, key string
	cmd := &cobra.Command{
		Use:   "post -f ENTRY.json",
		Short: "Post one journal entry from a JSON file (- for stdin); re-posting the same file replays it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageError{fmt.Errorf("-f is required: a JSON entry file, or - for stdin")}
			}
			var data []byte
			var err error
			if file == "-" {
				data, err = io.ReadAll(io.LimitReader(os.Stdin, 4<<20))
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return platform.Invalid("read %s: %v", file, err)
			}
			var in ledger.EntryInput
			if err := json.Unmarshal(data, &in); err != nil {
				return platform.Invalid("%s is not a JSON entry: %v", file, err)
			}
			if key == "" { // the content decides the key: the same file posts once
				sum := sha256.Sum256(data)
				key = "cli-" + hex.EncodeToString(sum[:16])
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			var e ledger.Entry
			r, err := cl.Do(cmd.Context(), "POST", "/v1/ledger/entries", in, &e, idempotency.Header, key)
			if err != nil {
				return apiErr(err)
			}
			note := ""
			if r.Header.Get(idempotency.ReplayedHeader) == "true" {
				note = " (already posted; replayed)"
			}
			fmt.Fprintf(c.stdout, "posted entry %s on %s%s\n", e.ID, e.PostingDate, note)
			return nil
		},
	}
	f.register(cmd, "finance")
	cmd.Flags().StringVarP(&file, "file", "f", "", "entry JSON file, or - for stdin")
	cmd.Flags().StringVar(&key, "idempotency-key", "", "idempotency key (default: derived from the file's content)")
	return cmd
}

func (c *cli) ledgerTrialBalanceCmd() *cobra.Command {
	var f apiFlags
	var book, asOf, from, to, out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "trial-balance",
		Short: "Print the trial balance of a book as of a date, or for a period (--from, --to)",
		Long: `Prints each account's opening balance, the period's debits and credits and its closing
balance, in debit and credit columns, with totals that agree. As of a date (the default,
today) the period starts with the book's first posting. --out writes it to a file instead:
an Excel workbook for a name ending in .xlsx, CSV otherwise; amounts stay exact decimals.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (from == "") != (to == "") {
				return usageError{fmt.Errorf("a period needs both --from and --to")}
			}
			if from != "" && asOf != "" {
				return usageError{fmt.Errorf("give --as-of, or a period with --from and --to, not both")}
			}
			cl, err := f.bookClient(book)
			if err != nil {
				return err
			}
			var tb *ledger.TrialBalance
			if from != "" {
				tb, err = cl.PeriodTrialBalance(cmd.Context(), book, from, to)
			} else {
				tb, err = cl.TrialBalance(cmd.Context(), book, asOf)
			}
			if err != nil {
				return apiErr(err)
			}
			switch {
			case out != "":
				fh, err := os.Create(out)
				if err != nil {
					return err
				}
				sheet := tb.Sheet()
				write := sheet.WriteCSV
				if strings.EqualFold(filepath.Ext(out), ".xlsx") {
					write = sheet.WriteXLSX
				}
				if err := write(fh); err != nil {
					fh.Close() //nolint:errcheck // the write error is the one to report
					return err
				}
				if err := fh.Close(); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "trial balance of %s (%d accounts) written to %s\n", tb.Book, len(tb.Rows), out)
				return nil
			case asJSON:
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(tb)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
			period := "as of " + tb.AsOf
			if tb.From != "" {
				period = "from " + tb.From + " to " + tb.AsOf
			}
			fmt.Fprintf(c.stdout, "Trial balance of %s %s (%s)\n", tb.Book, period, tb.Currency)
			fmt.Fprintln(tw, "account\tname\topening Dr\topening Cr\tperiod Dr\tperiod Cr\tclosing Dr\tclosing Cr\t")
			for _, r := range append(tb.Rows, tb.Totals) {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Account, r.Name, r.OpeningDebit, r.OpeningCredit,
					r.PeriodDebit, r.PeriodCredit, r.ClosingDebit, r.ClosingCredit)
			}
			return tw.Flush()
		},
	}
	f.register(cmd, "finance")
	cmd.Flags().StringVar(&book, "book", "", "book code")
	cmd.Flags().StringVar(&asOf, "as-of", "", "date YYYY-MM-DD (default today)")
	cmd.Flags().StringVar(&from, "from", "", "first day of the period YYYY-MM-DD (with --to)")
	cmd.Flags().StringVar(&to, "to", "", "last day of the period YYYY-MM-DD (with --from)")
	cmd.Flags().StringVar(&out, "out", "", "write it to this file instead of printing: Excel for .xlsx, else CSV")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (c *cli) ledgerImportCmd() *cobra.Command {
	var f apiFlags
	var book string
	var atomic bool
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Import entries from CSV (columns: " + fmt.Sprint(ledgerclient.CSVColumns) + ")",
		Long: `Rows that share an entry value, one after the other, form one entry. Every problem is
reported with its line number. With --atomic the whole file posts or nothing does; without it,
each entry stands alone. Re-running the same file replays instead of posting twice.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.bookClient(book)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return platform.Invalid("read %s: %v", args[0], err)
			}
			sum := sha256.Sum256(data)
			res, err := cl.Import(cmd.Context(), bytes.NewReader(data), book, atomic, fmt.Sprintf("import-%s-atomic-%t", hex.EncodeToString(sum[:12]), atomic))
			if err != nil {
				return apiErr(err)
			}
			for _, e := range res.Errors {
				fmt.Fprintln(c.stderr, args[0]+":"+e.String())
			}
			fmt.Fprintf(c.stdout, "%d entries read, %d posted, %d problems\n", res.Entries, res.Posted, len(res.Errors))
			if len(res.Errors) > 0 {
				if res.Posted == 0 {
					return platform.Invalid("%s: %d problem(s); nothing was posted", args[0], len(res.Errors))
				}
				return platform.Invalid("%s: %d problem(s); the other %d entries were posted", args[0], len(res.Errors), res.Posted)
			}
			return nil
		},
	}
	f.register(cmd, "finance")
	cmd.Flags().StringVar(&book, "book", "", "book code")
	cmd.Flags().BoolVar(&atomic, "atomic", false, "all entries or none")
	return cmd
}

func (c *cli) simulateCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "simulate", Short: "Generate realistic activity through the API"}
	var f apiFlags
	var book, start string
	var days int
	var seed uint64
	var anomalies float64
	led := &cobra.Command{
		Use:   "ledger",
		Short: "Post a small company's bookkeeping (sales, bills, payroll, rent, fees, labelled anomalies)",
		Long: `Posts a deterministic simulation through the ledger API: the same seed gives the same
entries, and running it again replays them (idempotency keys) instead of doubling the books.
The book must exist (codexion ledger init --book NAME --template sme).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.bookClient(book)
			if err != nil {
				return err
			}
			from, err := time.Parse(ledger.DateLayout, start)
			if err != nil {
				return usageError{fmt.Errorf("--start %q is not a date YYYY-MM-DD", start)}
			}
			entries, err := sim.Generate(sim.Options{Book: book, Start: from, Days: days, Seed: seed, AnomaliesPerDay: anomalies})
			if err != nil {
				return usageError{err}
			}
			res, err := sim.Post(cmd.Context(), cl.Client, entries)
			if err != nil {
				return apiErr(err)
			}
			fmt.Fprintf(c.stdout, "simulated %d days of %s: %d entries posted, %d already there, %d labelled anomalies\n",
				days, book, res.Posted, res.Replayed, res.Anomalies)
			return nil
		},
	}
	f.register(led, "finance")
	led.Flags().StringVar(&book, "book", "", "book code")
	led.Flags().IntVar(&days, "days", 90, "days to simulate")
	led.Flags().Uint64Var(&seed, "seed", 1, "random seed; the same seed gives the same entries")
	led.Flags().StringVar(&start, "start", "2026-01-01", "first day")
	led.Flags().Float64Var(&anomalies, "anomalies-per-day", 0, "mean number of extra labelled anomalies a day (0 to 10), of every kind")
	cmd.AddCommand(led)
	return cmd
}

// apiErr turns a client-side 4xx into a usage-class error (exit 2) and keeps the rest.
func apiErr(err error) error {
	var ae *apiclient.Error
	if errors.As(err, &ae) && ae.Status < 500 {
		return platform.Invalid("%s", ae.Error())
	}
	return err
}
