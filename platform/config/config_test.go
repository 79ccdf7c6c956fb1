package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/codexion/codexion/platform"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedenceFlagsOverEnvOverFile(t *testing.T) {
	file := writeFile(t, "codexion.yaml", "http:\n  addr: 127.0.0.1:7000\n  idle_timeout: 9s\nlog:\n  level: debug\n")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--http.addr=127.0.0.1:9000"}); err != nil {
		t.Fatal(err)
	}
	l, err := Load(Options{
		File:  file,
		Env:   envOf(map[string]string{"CODEXION_HTTP_ADDR": "127.0.0.1:8000", "CODEXION_LOG_LEVEL": "warn"}),
		Flags: fs,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.HTTP.Addr != "127.0.0.1:9000" || l.Sources["http.addr"] != SourceFlag {
		t.Errorf("http.addr = %q from %s, want flag value", c.HTTP.Addr, l.Sources["http.addr"])
	}
	if c.Log.Level != "warn" || l.Sources["log.level"] != SourceEnv {
		t.Errorf("log.level = %q from %s, want env value", c.Log.Level, l.Sources["log.level"])
	}
	if c.HTTP.IdleTimeout != 9*time.Second || l.Sources["http.idle_timeout"] != SourceFile {
		t.Errorf("http.idle_timeout = %v, want 9s from file", c.HTTP.IdleTimeout)
	}
	if c.HTTP.WriteTimeout != Default().HTTP.WriteTimeout || l.Sources["http.write_timeout"] != SourceDefault {
		t.Errorf("http.write_timeout = %v, want default", c.HTTP.WriteTimeout)
	}
}

func TestListsFromEnvAndFile(t *testing.T) {
	file := writeFile(t, "c.yaml", "kafka:\n  brokers: [a:9092, b:9092]\n")
	l, err := Load(Options{File: file, Env: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.Config.Kafka.Brokers, ","); got != "a:9092,b:9092" {
		t.Fatalf("brokers = %q", got)
	}
	l, err = Load(Options{File: file, Env: envOf(map[string]string{"CODEXION_KAFKA_BROKERS": "c:1, d:2"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.Config.Kafka.Brokers, ","); got != "c:1,d:2" {
		t.Fatalf("brokers = %q", got)
	}
}

func TestBadInputNamesTheKey(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"unknown key", "http:\n  adr: x\n", nil, `line 2: unknown key "adr" in http; known keys there: addr,`},
		{"unknown section", "htp:\n  addr: x\n", nil, `unknown key "htp" in the top level`},
		{"malformed yaml", "http: [\n", nil, "is not valid YAML"},
		{"bad enum", "log:\n  format: xml\n", nil, `log.format: "xml" is not allowed; use one of auto, json, text`},
		{"bad duration", "http:\n  read_timeout: soon\n", nil, `http.read_timeout: "soon" is not a duration`},
		{"bad addr env", "", map[string]string{"CODEXION_HTTP_ADDR": "8080"}, `http.addr: "8080" is not host:port`},
		{"scalar for section", "http: 5\n", nil, "http must be a mapping"},
		{"bad database url", "database:\n  url: mysql://x\n", nil, "database.url: must be a URL like postgres://"},
		{"missing secret file", "", map[string]string{"CODEXION_DATABASE_URL_FILE": "/nonexistent/secret"}, "database.url: cannot read secret file named by CODEXION_DATABASE_URL_FILE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Env: envOf(tc.env)}
			if tc.yaml != "" {
				opts.File = writeFile(t, "codexion.yaml", tc.yaml)
			}
			_, err := Load(opts)
			if err == nil {
				t.Fatalf("Load succeeded; want error containing %q", tc.want)
			}
			if platform.KindOf(err) != platform.KindInvalid {
				t.Errorf("kind = %v, want invalid", platform.KindOf(err))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestMissingExplicitFileIsAnError(t *testing.T) {
	_, err := Load(Options{File: filepath.Join(t.TempDir(), "nope.yaml"), Env: envOf(nil)})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecretFromFileAndRedactedInPrint(t *testing.T) {
	secret := writeFile(t, "db", "postgres://app:s3cret-pw@db.internal:5432/codexion\n")
	l, err := Load(Options{Env: envOf(map[string]string{
		"CODEXION_DATABASE_URL_FILE": secret,
		"CODEXION_S3_ENDPOINT":       "s3.internal:9000",
		"CODEXION_S3_ACCESS_KEY":     "AKIA",
		"CODEXION_S3_SECRET_KEY":     "very-secret-key",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.Database.URL != "postgres://app:s3cret-pw@db.internal:5432/codexion" {
		t.Fatalf("database.url = %q", l.Config.Database.URL)
	}
	var out bytes.Buffer
	if err := l.Print(&out); err != nil {
		t.Fatal(err)
	}
	printed := out.String()
	for _, leaked := range []string{"s3cret-pw", "very-secret-key"} {
		if strings.Contains(printed, leaked) {
			t.Fatalf("print leaks %q:\n%s", leaked, printed)
		}
	}
	if !strings.Contains(printed, `url: "postgres://app:[redacted]@db.internal:5432/codexion"  # env CODEXION_DATABASE_URL`) {
		t.Fatalf("print does not show the redacted url with its source:\n%s", printed)
	}
	if !strings.Contains(printed, `secret_key: "[redacted]"`) {
		t.Fatalf("print does not redact s3.secret_key:\n%s", printed)
	}
}

func TestPrintedConfigLoadsBack(t *testing.T) {
	l, err := Load(Options{Env: envOf(map[string]string{"CODEXION_KAFKA_BROKERS": "a:1,b:2"})})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := l.Print(&out); err != nil {
		t.Fatal(err)
	}
	back, err := Load(Options{File: writeFile(t, "p.yaml", out.String()), Env: envOf(nil)})
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, out.String())
	}
	if strings.Join(back.Config.Kafka.Brokers, ",") != "a:1,b:2" || back.Config.HTTP != l.Config.HTTP {
		t.Fatalf("round trip changed the config:\n%s", out.String())
	}
}

func TestRequireDependencies(t *testing.T) {
	c := Default()
	err := c.RequireDependencies()
	if err == nil || !strings.Contains(err.Error(), "database.url (set CODEXION_DATABASE_URL)") {
		t.Fatalf("err = %v", err)
	}
}

// serve refuses to start without a token audience: an issuer's tokens for other
// applications must not be accepted here.
func TestServeRequiresATokenAudience(t *testing.T) {
	c := Default()
	c.Database.URL, c.Kafka.Brokers, c.Temporal.Address = "postgres://u:p@h:5432/d", []string{"h:9092"}, "h:7233"
	c.S3.Endpoint, c.Auth.Issuer = "h:9000", "https://idp.example"
	err := c.RequireDependencies()
	if err == nil || !strings.Contains(err.Error(), "auth.audience (set CODEXION_AUTH_AUDIENCE)") {
		t.Fatalf("err = %v, want auth.audience required", err)
	}
	c.Auth.Audience = "codexion"
	if err := c.RequireDependencies(); err != nil {
		t.Fatal(err)
	}
}

func TestSignVerify(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "k"), filepath.Join(dir, "k.pub")
	if err := GenerateKey(priv, pub); err != nil {
		t.Fatal(err)
	}
	if err := GenerateKey(priv, pub); err == nil {
		t.Fatal("GenerateKey overwrote an existing key")
	}
	sk, err := LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	body := "http:\n  addr: 127.0.0.1:8080\n"
	file := filepath.Join(dir, "codexion.yaml")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Verify(file, pk); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned file: err = %v, want ErrUnsigned", err)
	}
	if _, err := Sign(file, sk); err != nil {
		t.Fatal(err)
	}
	if err := Verify(file, pk); err != nil {
		t.Fatalf("fresh signature does not verify: %v", err)
	}
	// Flip every single byte in turn: each one-byte change must be caught.
	for i := range len(body) {
		altered := []byte(body)
		altered[i] ^= 0x01
		if err := os.WriteFile(file, altered, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Verify(file, pk); !errors.Is(err, ErrAltered) {
			t.Fatalf("byte %d changed: err = %v, want ErrAltered", i, err)
		}
	}
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "o")
	if err := GenerateKey(other, other+".pub"); err != nil {
		t.Fatal(err)
	}
	opk, _ := LoadPublicKey(other + ".pub")
	if err := Verify(file, opk); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("other key: err = %v, want ErrWrongKey", err)
	}
}

func FuzzLoadYAML(f *testing.F) {
	f.Add("http:\n  addr: 127.0.0.1:8080\n")
	f.Add("kafka:\n  brokers: [a:1]\n")
	f.Add("log: {level: debug}\n")
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(Options{File: p, Env: envOf(nil)})
		if err != nil && platform.KindOf(err) != platform.KindInvalid {
			t.Fatalf("non-invalid error for user input: %v", err)
		}
	})
}
