package health

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/codexion/codexion/platform/httpx"
)

func serve(t *testing.T, c *Checks, path string) (int, Report) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := httpx.NewRouter(log, nil)
	c.Routes(r)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var rep Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("%s: %v: %s", path, err, rec.Body)
	}
	return rec.Code, rep
}

func TestReadyzListsChecksWhenVerbose(t *testing.T) {
	var c Checks
	c.Add("postgres", func(context.Context) error { return nil })
	c.Add("kafka", func(context.Context) error { return errors.New("dial tcp 127.0.0.1:9092: connection refused") })
	code, rep := serve(t, &c, "/readyz?verbose")
	if code != http.StatusServiceUnavailable || rep.Status != "failed" || len(rep.Checks) != 2 {
		t.Fatalf("code %d report %+v", code, rep)
	}
	if rep.Checks[0].Name != "postgres" || rep.Checks[0].Status != "ok" || rep.Checks[1].Error == "" {
		t.Fatalf("checks = %+v", rep.Checks)
	}
	_, rep = serve(t, &c, "/readyz")
	if len(rep.Checks) != 1 || rep.Checks[0].Name != "kafka" {
		t.Fatalf("non-verbose should list only failures: %+v", rep.Checks)
	}
}

func TestReadyzOKAndLivez(t *testing.T) {
	var c Checks
	c.Add("postgres", func(context.Context) error { return nil })
	if code, rep := serve(t, &c, "/readyz?verbose"); code != 200 || rep.Status != "ok" {
		t.Fatalf("code %d report %+v", code, rep)
	}
	if code, _ := serve(t, &c, "/livez"); code != 200 {
		t.Fatalf("livez %d", code)
	}
}

func TestSlowCheckIsBounded(t *testing.T) {
	var c Checks
	c.Add("slow", func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Minute):
			return nil
		}
	})
	began := time.Now()
	rep := c.Run(context.Background())
	if rep.Status != "failed" || time.Since(began) > checkTimeout+time.Second {
		t.Fatalf("report %+v after %v", rep, time.Since(began))
	}
}
