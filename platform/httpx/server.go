package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Server is the HTTP server as a lifecycle component.
type Server struct {
	srv  *http.Server
	log  *slog.Logger
	ln   net.Listener
	done chan error
}

// ServerOptions bounds the server.
type ServerOptions struct {
	Addr              string
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
}

// maxHeaderBytes bounds request headers.
const maxHeaderBytes = 64 << 10

// NewServer returns a server for h; it listens only when started.
func NewServer(opts ServerOptions, h http.Handler, log *slog.Logger) *Server {
	return &Server{
		log: log,
		srv: &http.Server{
			Addr:              opts.Addr,
			Handler:           h,
			ReadHeaderTimeout: opts.ReadHeaderTimeout,
			ReadTimeout:       opts.ReadTimeout,
			WriteTimeout:      opts.WriteTimeout,
			IdleTimeout:       opts.IdleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
}

func (s *Server) Name() string { return "http" }

// Addr is the address the server listens on, once started.
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.srv.Addr
	}
	return s.ln.Addr().String()
}

// Start binds the address, so a port in use fails here, and serves in the background.
func (s *Server) Start(context.Context) error {
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return CodePortInUse.New("http.addr %s is already in use by another process; stop it or set CODEXION_HTTP_ADDR", s.srv.Addr)
		}
		return fmt.Errorf("listen on %s: %w", s.srv.Addr, err)
	}
	s.ln = ln
	s.done = make(chan error, 1)
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	s.log.Info("http listening", "addr", ln.Addr().String())
	return nil
}

// Stop stops accepting, lets in-flight requests finish until ctx's deadline, then closes.
func (s *Server) Stop(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	if serveErr := <-s.done; serveErr != nil {
		return serveErr
	}
	return err
}
