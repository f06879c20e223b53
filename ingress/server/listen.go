package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// Server runs the receiver's webhook listeners as a controller-runtime
// Runnable. Trust in forwarding headers belongs to a listener, not to an
// address range:
//
//   - the public listener (Addr) never believes X-Forwarded-For or
//     Forwarded, whoever sends them;
//   - the proxied listener (ProxiedAddr), which the routes point at and the
//     NetworkPolicy opens only to the ingress controller, believes them from
//     Proxies.Trusted.
//
// A pod in the trusted range that sends X-Forwarded-For straight to the
// public port is therefore judged by its own address, and cannot reach the
// proxied port past the NetworkPolicy.
type Server struct {
	// Handler serves both listeners; its Proxies field is set per listener.
	Handler *Handler
	// Addr is the public listener, e.g. ":8080".
	Addr string
	// ProxiedAddr is the listener behind trusted proxies; empty for none.
	ProxiedAddr string
	// Proxies says whose forwarding headers the proxied listener believes.
	Proxies Proxies
	// WaitForSync blocks until the endpoint registry is loaded; nothing is
	// served before, so no valid request meets a 404 after a restart.
	WaitForSync func(context.Context) bool
	// ShutdownDelay is how long the listeners keep accepting after the
	// stop signal while readiness already says no, so that Service
	// endpoints and load balancers stop sending first and no provider meets
	// a refused connection. 0 stops at once.
	ShutdownDelay time.Duration
	// ShutdownTimeout bounds draining in-flight requests. Defaults to 20s.
	ShutdownTimeout time.Duration
	Log             logr.Logger

	serving atomic.Bool
	mu      sync.Mutex
	bound   map[string]string
}

// BoundAddr is the address the named listener ("public", "proxied") is
// bound to, once serving: with port 0 the kernel picks it.
func (s *Server) BoundAddr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound[name]
}

// NeedLeaderElection is false: every replica serves.
func (s *Server) NeedLeaderElection() bool { return false }

// Ready is a readiness check: ready once every listener serves.
func (s *Server) Ready(*http.Request) error {
	if !s.serving.Load() {
		return errors.New("webhook listeners not serving yet")
	}
	return nil
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// Start serves until ctx ends, then stops accepting, lets requests in
// flight finish (each answers only after its event is stored) and returns.
func (s *Server) Start(ctx context.Context) error {
	if s.WaitForSync != nil && !s.WaitForSync(ctx) {
		return nil
	}
	public := *s.Handler
	public.Proxies = nil
	type listener struct {
		name string
		ln   net.Listener
		srv  *http.Server
	}
	var ls []listener
	add := func(name, addr string, h *Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", addr, err)
		}
		ls = append(ls, listener{name: name, ln: ln, srv: s.httpServer(h)})
		return nil
	}
	if err := add("public", s.Addr, &public); err != nil {
		return err
	}
	if s.ProxiedAddr != "" {
		proxied := *s.Handler
		p := s.Proxies
		proxied.Proxies = &p
		if err := add("proxied", s.ProxiedAddr, &proxied); err != nil {
			ls[0].ln.Close()
			return err
		}
	}
	s.mu.Lock()
	s.bound = map[string]string{}
	for _, l := range ls {
		s.bound[l.name] = l.ln.Addr().String()
	}
	s.mu.Unlock()
	errc := make(chan error, len(ls))
	for _, l := range ls {
		s.Log.Info("Receiving webhooks", "listener", l.name, "listen", l.ln.Addr().String())
		go func() { errc <- l.srv.Serve(l.ln) }()
	}
	s.serving.Store(true)
	defer s.serving.Store(false)

	var err error
	select {
	case <-ctx.Done():
		s.serving.Store(false)
		if s.ShutdownDelay > 0 {
			s.Log.Info("Stopping: not ready, still accepting", "for", s.ShutdownDelay.String())
			select {
			case <-time.After(s.ShutdownDelay):
			case err = <-errc:
			}
		}
	case err = <-errc:
	}
	s.serving.Store(false)
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(ls))
	for i, l := range ls {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = l.srv.Shutdown(sctx) }()
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(append(errs, err)...)
}
