// Package health serves /livez (the process is up) and /readyz (every dependency
// answers). Checks run concurrently, each within its own deadline, so one slow
// dependency cannot hang the probe.
package health

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/codexion/codexion/platform/httpx"
)

// checkTimeout bounds one dependency check.
const checkTimeout = 3 * time.Second

// Check asks one dependency whether it is usable.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Result is one check's outcome.
type Result struct {
	Name       string  `json:"name"`
	Status     string  `json:"status"` // "ok" or "failed"
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// Report is the readiness document.
type Report struct {
	Status string   `json:"status"`
	Checks []Result `json:"checks,omitempty"`
}

// Checks is the readiness registry.
type Checks struct {
	mu     sync.Mutex
	checks []Check
}

// Add registers a check; the order of Add is the order in reports.
func (c *Checks) Add(name string, fn func(ctx context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks = append(c.checks, Check{Name: name, Fn: fn})
}

// Run runs every check concurrently and reports them in registration order.
func (c *Checks) Run(ctx context.Context) Report {
	c.mu.Lock()
	checks := append([]Check(nil), c.checks...)
	c.mu.Unlock()
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			began := time.Now()
			err := ch.Fn(cctx)
			r := Result{Name: ch.Name, Status: "ok", DurationMS: float64(time.Since(began).Microseconds()) / 1000}
			if err != nil {
				r.Status, r.Error = "failed", err.Error()
			}
			results[i] = r
		})
	}
	wg.Wait()
	rep := Report{Status: "ok", Checks: results}
	for _, r := range results {
		if r.Status != "ok" {
			rep.Status = "failed"
		}
	}
	return rep
}

// Routes registers /livez and /readyz as public routes.
func (c *Checks) Routes(r *httpx.Router) {
	r.HandleFunc("GET /livez", httpx.Public, func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, Report{Status: "ok"})
	})
	r.HandleFunc("GET /readyz", httpx.Public, func(w http.ResponseWriter, req *http.Request) {
		rep := c.Run(req.Context())
		status := http.StatusOK
		if rep.Status != "ok" {
			status = http.StatusServiceUnavailable
		}
		if !req.URL.Query().Has("verbose") {
			failed := rep.Checks[:0:0]
			for _, r := range rep.Checks {
				if r.Status != "ok" {
					failed = append(failed, r)
				}
			}
			rep.Checks = failed
		}
		httpx.WriteJSON(w, status, rep)
	})
}
