package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/spf13/afero"
)

// Dev credentials of the embedded S3 server. It does not check signatures; clients
// still sign requests with them exactly as they would against real S3.
const (
	DevS3AccessKey = "codexion-dev"
	DevS3SecretKey = "codexion-dev-secret"
)

// ObjectServer is an S3-compatible server in process over a folder.
type ObjectServer struct {
	Addr string
	Dir  string

	srv  *http.Server
	ln   net.Listener
	done chan error
}

func (o *ObjectServer) Name() string { return "dev-objectstore" }

// Start serves the S3 API over Dir; buckets are folders, so data outlives the process.
func (o *ObjectServer) Start(context.Context) error {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("object store folder %s: %w", o.Dir, err)
	}
	base := afero.NewBasePathFs(afero.NewOsFs(), o.Dir)
	backend, err := s3afero.MultiBucket(base)
	if err != nil {
		return fmt.Errorf("object store over %s: %w", o.Dir, err)
	}
	faker := gofakes3.New(backend, gofakes3.WithAutoBucket(false), gofakes3.WithTimeSkewLimit(0))
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return portInUse(err, "embedded S3 server", o.Addr, "CODEXION_DEV_S3_ADDR")
	}
	o.ln = ln
	o.Addr = ln.Addr().String()
	o.srv = &http.Server{Handler: faker.Server(), ReadHeaderTimeout: 10 * time.Second}
	o.done = make(chan error, 1)
	go func() {
		err := o.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		o.done <- err
	}()
	return nil
}

// Stop stops serving; the folder stays.
func (o *ObjectServer) Stop(ctx context.Context) error {
	if o.srv == nil {
		return nil
	}
	err := o.srv.Shutdown(ctx)
	if serveErr := <-o.done; serveErr != nil {
		return serveErr
	}
	return err
}
