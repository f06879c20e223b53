// Package edge runs a receiver outside the private cluster whose webhooks
// it takes (edge mode, docs/operations.md): where the internet reaches it,
// on another cluster or a VM, with no access to the private cluster's
// Kubernetes API and no targets to deliver to. It stores into the private
// cluster's JetStream through a NATS leaf node the private cluster
// connects out to, and reads its endpoints from the edge registry bucket
// the private cluster's manager writes (endpoints.NATSLoader). The private
// cluster's own receivers deliver what it stores.
//
// It is the receiver without controller-runtime's manager, which needs a
// Kubernetes API: Receiver runs the same HTTP server, quota and loader
// runnables, and serves health probes and metrics itself.
package edge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookgate/hookgate/internal/queue"
)

// Runnable is what Receiver runs: ingress/server's Server and Quota, the
// loader. Start blocks until ctx ends; an error stops the receiver.
type Runnable interface {
	Start(ctx context.Context) error
}

// Receiver runs an edge receiver.
type Receiver struct {
	// Open attaches to the private cluster's layout through the leaf link;
	// it is retried until it succeeds, while /readyz says not ready.
	Open func(ctx context.Context) (*queue.Queue, error)
	// Build makes, with the open queue, what to run and a readiness check
	// (nil: ready once running).
	Build func(q *queue.Queue) ([]Runnable, func() error, error)
	// ProbeAddr serves /healthz and /readyz; MetricsAddr serves /metrics
	// from Gatherer. "" or "0" disables either.
	ProbeAddr, MetricsAddr string
	Gatherer               prometheus.Gatherer
	Log                    logr.Logger
}

// Run serves until ctx ends or a runnable fails, then stops everything
// (the HTTP server drains what is in flight) and publishes the counters
// still pending.
func (r *Receiver) Run(ctx context.Context) error {
	var ready func() error
	var readyMu sync.Mutex
	isReady := func() error {
		readyMu.Lock()
		defer readyMu.Unlock()
		if ready == nil {
			return errors.New("waiting for the JetStream layout through the leaf link")
		}
		return ready()
	}
	stopProbes, err := r.serveProbes(isReady)
	if err != nil {
		return err
	}
	defer stopProbes()

	r.Log.Info("Waiting for the JetStream layout of the private cluster")
	q, err := queue.WaitForLayout(ctx, r.Open)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	r.Log.Info("Attached to the JetStream layout")
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := q.Close(cctx); err != nil {
			r.Log.Error(err, "Flushing counters at shutdown failed")
		}
	}()
	runnables, check, err := r.Build(q)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(runnables))
	var wg sync.WaitGroup
	for _, rn := range runnables {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rn.Start(rctx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	readyMu.Lock()
	ready = func() error {
		if check != nil {
			return check()
		}
		return nil
	}
	readyMu.Unlock()
	<-rctx.Done()
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// serveProbes starts the probe and metrics listeners and returns how to
// stop them.
func (r *Receiver) serveProbes(ready func() error) (func(), error) {
	var srvs []*http.Server
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, s := range srvs {
			_ = s.Shutdown(ctx)
		}
	}
	serve := func(addr string, h http.Handler) error {
		if addr == "" || addr == "0" {
			return nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", addr, err)
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		srvs = append(srvs, s)
		go func() { _ = s.Serve(ln) }()
		return nil
	}
	probes := http.NewServeMux()
	probes.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	probes.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	if err := serve(r.ProbeAddr, probes); err != nil {
		return nil, err
	}
	if r.Gatherer != nil {
		m := http.NewServeMux()
		m.Handle("/metrics", promhttp.HandlerFor(r.Gatherer, promhttp.HandlerOpts{}))
		if err := serve(r.MetricsAddr, m); err != nil {
			stop()
			return nil, err
		}
	}
	return stop, nil
}
