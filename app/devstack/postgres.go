package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/codexion/codexion/platform"
)

// Postgres is the private cluster that deploy/dev/postgres.sh runs.
type Postgres struct {
	Script string // path of postgres.sh
	Dir    string // cluster folder
	Port   int

	url string
}

func (p *Postgres) Name() string { return "dev-postgres" }

// URL is the cluster's database URL once started.
func (p *Postgres) URL() string { return p.url }

func (p *Postgres) run(ctx context.Context, verb string) (string, error) {
	cmd := exec.CommandContext(ctx, p.Script, verb)
	cmd.Env = append(os.Environ(), "CODEXION_PG_DIR="+p.Dir, "CODEXION_PG_PORT="+strconv.Itoa(p.Port))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 2 {
			return "", platform.Invalid("%s", msg)
		}
		return "", fmt.Errorf("%s %s: %s", filepath.Base(p.Script), verb, msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Start initialises the cluster on first use and starts it; a cluster already running
// from an earlier, interrupted run is reused.
func (p *Postgres) Start(ctx context.Context) error {
	out, err := p.run(ctx, "start")
	if err != nil {
		return err
	}
	lines := strings.Split(out, "\n")
	p.url = lines[len(lines)-1]
	if !strings.HasPrefix(p.url, "postgres://") {
		return fmt.Errorf("postgres.sh start printed %q, not a database URL", p.url)
	}
	return nil
}

// Stop stops the cluster and returns once its port refuses connections, so that whoever
// starts next on that port (or checks it is closed) never meets the old server.
func (p *Postgres) Stop(ctx context.Context) error {
	if _, err := p.run(ctx, "stop"); err != nil {
		return err
	}
	if p.url == "" {
		return nil // never started here
	}
	u, err := url.Parse(p.url)
	if err != nil {
		return fmt.Errorf("postgres url: %w", err)
	}
	return waitClosed(ctx, u.Host)
}
