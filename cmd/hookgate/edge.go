package main

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/hookgate/hookgate/ingress/edge"
	"github.com/hookgate/hookgate/ingress/endpoints"
	"github.com/hookgate/hookgate/ingress/registry"
	ingserver "github.com/hookgate/hookgate/ingress/server"
	"github.com/hookgate/hookgate/internal/queue"
)

// edgeConfig is what runReceiver hands an edge receiver (--registry=nats).
type edgeConfig struct {
	nc                     *nats.Conn
	auth                   *queue.ClientAuth
	domain                 string
	handler                handlerFlags
	bodyCap                func() (int64, error)
	maxBody                *int64
	newServer              func(*ingserver.Handler, func(context.Context) bool) *ingserver.Server
	probeAddr, metricsAddr string
}

// runEdge runs a receiver without the Kubernetes API: endpoints from the
// edge registry bucket, events stored through the leaf link, no dispatch.
func runEdge(ctx context.Context, c edgeConfig) error {
	log := ctrl.Log.WithName("receiver")
	js := func() (jetstream.JetStream, error) {
		if c.domain == "" {
			return jetstream.New(c.nc)
		}
		return queue.DomainJetStream(c.nc, c.domain)
	}
	r := &edge.Receiver{
		Open: func(ctx context.Context) (*queue.Queue, error) {
			if !c.nc.IsConnected() {
				return nil, errors.New("not connected to NATS")
			}
			if err := c.auth.CheckServerAuth(c.nc); err != nil {
				return nil, err
			}
			if c.domain == "" {
				return queue.Attach(ctx, c.nc, queue.Options{})
			}
			return queue.AttachDomain(ctx, c.nc, c.domain, queue.Options{})
		},
		Build: func(q *queue.Queue) ([]edge.Runnable, func() error, error) {
			bodyCap, err := c.bodyCap()
			if err != nil {
				return nil, nil, err
			}
			reg := registry.New()
			loader := &endpoints.NATSLoader{
				Builder: endpoints.Builder{Registry: reg, MaxBodyBytes: *c.maxBody, BodyCap: bodyCap},
				Open: func(ctx context.Context) (*queue.EdgeRegistry, error) {
					j, err := js()
					if err != nil {
						return nil, err
					}
					return queue.AttachEdgeRegistry(ctx, j)
				},
				Log: ctrl.Log.WithName("edge-registry"),
			}
			h := c.handler.handler(reg, q)
			srv := c.newServer(h, loader.WaitLoaded)
			ready := func() error {
				if !c.nc.IsConnected() {
					return errors.New("not connected to NATS")
				}
				return srv.Ready(nil)
			}
			return []edge.Runnable{loader, srv, h.Quota}, ready, nil
		},
		ProbeAddr:   c.probeAddr,
		MetricsAddr: c.metricsAddr,
		Gatherer:    metrics.Registry,
		Log:         log,
	}
	log.Info("Edge mode: endpoints from NATS, no dispatch", "domain", c.domain)
	return r.Run(ctx)
}
