package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/codexion/codexion/internal/testenv"
	"github.com/codexion/codexion/platform/postgres/pgtest"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), func() {}, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	t.Setenv("CODEXION_DATABASE_URL", "")
	t.Chdir(t.TempDir())
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown command", []string{"bogus"}, 2, `unknown command "bogus"`},
		{"unknown flag", []string{"serve", "--nope"}, 2, "unknown flag: --nope"},
		{"extra argument", []string{"version", "x"}, 2, "unknown command"},
		{"missing dependencies", []string{"serve"}, 2, "missing configuration: database.url (set CODEXION_DATABASE_URL)"},
		{"bad flag value", []string{"config", "print", "--http.read_timeout=soon"}, 2, `http.read_timeout (from --http.read_timeout): "soon" is not a duration`},
		{"missing config file", []string{"config", "print", "--config", "nope.yaml"}, 2, "config file nope.yaml does not exist"},
		{"apply without -f", []string{"apply"}, 2, "-f is required"},
		{"apply of a missing folder", []string{"apply", "-f", "nowhere"}, 2, "nowhere"},
		{"pipeline run without --once", []string{"pipeline", "run", "ledger-lines"}, 2, "use --once"},
		{"pipeline run of name and file", []string{"pipeline", "run", "x", "-f", "y.yaml", "--once"}, 2, "not both"},
		{"backfill with a bad offset", []string{"pipeline", "backfill", "ledger-lines", "--from-offset", "x"}, 2, "write partition:offset"},
		{"backfill with a bad time", []string{"pipeline", "backfill", "ledger-lines", "--from", "yesterday"}, 2, "RFC 3339"},
		{"version", []string{"version"}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Fatalf("stderr %q does not contain %q", stderr, tc.want)
			}
			if tc.code != 0 && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("error is not one line: %q", stderr)
			}
		})
	}
}

func TestUnknownConfigKeyAndBadYAML(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("codexion.yaml", []byte("http:\n  adr: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "config", "print")
	if code != 2 || !strings.Contains(stderr, `codexion.yaml line 2: unknown key "adr" in http`) {
		t.Fatalf("exit %d stderr %q", code, stderr)
	}
	if err := os.WriteFile("codexion.yaml", []byte("http: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "config", "print")
	if code != 2 || !strings.Contains(stderr, "is not valid YAML") {
		t.Fatalf("exit %d stderr %q", code, stderr)
	}
}

func TestConfigPrintRedactsSecrets(t *testing.T) {
	t.Chdir(t.TempDir())
	secret := filepath.Join(t.TempDir(), "db-url")
	if err := os.WriteFile(secret, []byte("postgres://app:hunter2@db:5432/c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CODEXION_DATABASE_URL_FILE", secret)
	code, out, stderr := runCLI(t, "config", "print")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "postgres://app:[redacted]@db:5432/c") {
		t.Fatalf("print:\n%s", out)
	}
	t.Setenv("CODEXION_DATABASE_URL_FILE", filepath.Join(t.TempDir(), "missing"))
	if code, _, stderr := runCLI(t, "config", "print"); code != 2 || !strings.Contains(stderr, "cannot read secret file") {
		t.Fatalf("missing secret file: exit %d %q", code, stderr)
	}
}

func TestSignVerifyAndRequireSignedConfig(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if code, _, stderr := runCLI(t, "config", "keygen", "--out", "k"); code != 0 {
		t.Fatalf("keygen: %s", stderr)
	}
	body := "http:\n  addr: 127.0.0.1:18080\n"
	if err := os.WriteFile("codexion.yaml", []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "serve", "--require-signed-config", "--config-pubkey", "k.pub")
	if code != 2 || !strings.Contains(stderr, "codexion.yaml is unsigned") {
		t.Fatalf("unsigned: exit %d %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "config", "sign", "--key", "k", "codexion.yaml"); code != 0 {
		t.Fatalf("sign: %s", stderr)
	}
	if code, out, stderr := runCLI(t, "config", "verify", "--pubkey", "k.pub", "codexion.yaml"); code != 0 || !strings.Contains(out, "signature ok") {
		t.Fatalf("verify: exit %d %q %q", code, out, stderr)
	}
	// One byte changed: the port 18080 becomes 18081.
	if err := os.WriteFile("codexion.yaml", []byte(strings.Replace(body, "18080", "18081", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "config", "verify", "--pubkey", "k.pub", "codexion.yaml")
	if code != 2 || !strings.Contains(stderr, "codexion.yaml was altered after it was signed") {
		t.Fatalf("altered verify: exit %d %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "serve", "--require-signed-config", "--config-pubkey", "k.pub")
	if code != 2 || !strings.Contains(stderr, "was altered") {
		t.Fatalf("altered serve: exit %d %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "config", "sign", "codexion.yaml"); code != 2 || !strings.Contains(stderr, "--key is required") {
		t.Fatalf("sign without key: exit %d %q", code, stderr)
	}
}

func TestDevPortInUseIsOneLineAndStopsWhatStarted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the dev Postgres")
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	pgPort := freePort(t)
	code, _, stderr := runCLI(t, "dev", "--log.level=error", "--dev.kafka_addr="+taken.Addr().String(),
		"--dev.postgres_port="+pgPort, "--dev.data_dir="+filepath.Join(dir, "data"))
	if code != 1 || !strings.Contains(stderr, taken.Addr().String()+" is already in use by another process") {
		t.Fatalf("exit %d stderr %q", code, stderr)
	}
	if c, err := net.Dial("tcp", "127.0.0.1:"+pgPort); err == nil {
		c.Close()
		t.Fatal("Postgres still runs after the failed start")
	}
}

// freePort is a port no other test picks while t runs, so that finding it open after a
// failed start means the start left something running.
func freePort(t *testing.T) string {
	t.Helper()
	return strconv.Itoa(testenv.Port(t))
}

func TestMigrateUpAndStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the test Postgres")
	}
	url := pgtest.New(t) // before leaving the repository, where it finds the test cluster
	t.Chdir(t.TempDir())
	code, out, stderr := runCLI(t, "migrate", "up", "--database.url="+url)
	if code != 0 || !strings.Contains(out, "applied ledger 0001_ledger") {
		t.Fatalf("migrate up: %d %q %q", code, out, stderr)
	}
	code, out, _ = runCLI(t, "migrate", "up", "--database.url="+url)
	if code != 0 || !strings.Contains(out, "database is up to date") {
		t.Fatalf("second migrate up: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "migrate", "status", "--database.url="+url)
	if code != 0 || !strings.Contains(out, "ledger") || strings.Contains(out, "pending") {
		t.Fatalf("migrate status: %d %q", code, out)
	}
	if code, _, stderr := runCLI(t, "migrate", "up", "--database.url=postgres://u:p@127.0.0.1:1/x?connect_timeout=2"); code != 1 || !strings.Contains(stderr, "does not answer") {
		t.Fatalf("migrate against a down server: %d %q", code, stderr)
	}
}
