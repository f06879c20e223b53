package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hookgate/hookgate/ingress/dispatch"
	"github.com/hookgate/hookgate/ingress/endpoints"
	"github.com/hookgate/hookgate/ingress/registry"
	ingserver "github.com/hookgate/hookgate/ingress/server"
	"github.com/hookgate/hookgate/internal/queue"
)

func runReceiver(args []string) error {
	fs := flag.NewFlagSet("receiver", flag.ContinueOnError)
	listen := fs.String("listen", ":8080", "address the webhook HTTP server binds")
	metricsAddr := fs.String("metrics-bind-address", ":8081", "address of the Prometheus metrics endpoint; 0 disables it")
	probeAddr := fs.String("health-probe-bind-address", ":8082", "address of /healthz and /readyz")
	natsURL := fs.String("nats-url", "", "external NATS cluster URL; empty runs an embedded JetStream server")
	natsListen := fs.String("nats-listen", "127.0.0.1:4222", "client address of the embedded JetStream server (the manager connects here)")
	natsToken := fs.String("nats-token", "", "token for NATS (also HOOKGATE_NATS_TOKEN); the embedded server requires it when set")
	dataDir := fs.String("data-dir", "/var/lib/hookgate", "where the embedded JetStream stores events")
	syncAlways := fs.Bool("jetstream-sync-always", false, "fsync every JetStream write before acknowledging (single-node durability against power loss)")
	replicas := fs.Int("stream-replicas", 1, "replicas of each stream (3 on an external cluster)")
	maxBody := fs.Int64("max-body-bytes", ingserver.DefaultMaxBodyBytes, "largest accepted webhook body")
	clusterDomain := fs.String("cluster-domain", "cluster.local", "cluster DNS suffix used to address target Services")
	concurrency := fs.Int("delivery-concurrency", 16, "deliveries in flight per endpoint and replica")
	namespace := fs.String("namespace", "", "watch only this namespace (default: all)")
	allowExternalName := fs.Bool("allow-external-name-targets", true, "deliver to ExternalName Services; turn off in multi-tenant clusters, where a tenant could aim the receiver at any host")
	forwardedHeader := fs.String("forwarded-header", "X-Forwarded-For", "which header trusted proxies set: X-Forwarded-For (with X-Forwarded-Proto/Host) or Forwarded (RFC 7239); the other is ignored")
	trusted := fs.String("trusted-proxies", "", "comma-separated CIDRs of proxies (ingress controllers) whose X-Forwarded-For/Forwarded/X-Forwarded-Proto/Host headers are trusted")
	zo := zapFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	setLogger(zo)
	log := ctrl.Log.WithName("receiver")
	trustedProxies, err := ingserver.ParseCIDRs(strings.Split(*trusted, ","))
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	var useForwarded bool
	switch strings.ToLower(*forwardedHeader) {
	case "x-forwarded-for":
	case "forwarded":
		useForwarded = true
	default:
		return fmt.Errorf("--forwarded-header must be X-Forwarded-For or Forwarded, not %q", *forwardedHeader)
	}
	if *maxBody <= 0 || *maxBody > queue.MaxPayload-(256<<10) {
		return fmt.Errorf("--max-body-bytes must be between 1 and %d", queue.MaxPayload-(256<<10))
	}

	token := *natsToken
	if token == "" {
		token = os.Getenv("HOOKGATE_NATS_TOKEN")
	}
	var (
		ns *server.Server
		nc *nats.Conn
	)
	nopts := natsOptions("hookgate-receiver", token)
	if *natsURL == "" {
		host, portStr, err := net.SplitHostPort(*natsListen)
		if err != nil {
			return fmt.Errorf("--nats-listen: %w", err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return fmt.Errorf("--nats-listen: %w", err)
		}
		ns, err = queue.StartEmbedded(queue.EmbeddedOptions{Host: host, Port: port, StoreDir: *dataDir, Token: token, SyncAlways: *syncAlways})
		if err != nil {
			return err
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		log.Info("Embedded JetStream started", "listen", ns.ClientURL(), "dataDir", *dataDir)
		nc, err = nats.Connect("", append(nopts, nats.InProcessServer(ns))...)
	} else {
		nc, err = nats.Connect(*natsURL, nopts...)
	}
	if err != nil {
		return fmt.Errorf("connecting to NATS: %w", err)
	}
	defer nc.Drain() //nolint:errcheck

	ctx := ctrl.SetupSignalHandler()
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	q, err := openQueueRetrying(openCtx, nc, queue.Options{Replicas: *replicas})
	cancel()
	if err != nil {
		return err
	}

	mopts := ctrl.Options{
		Scheme:                 newScheme(),
		Metrics:                metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress: *probeAddr,
		LeaderElection:         false,
	}
	if *namespace != "" {
		mopts.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{*namespace: {}}}
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), mopts)
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	reg := registry.New()
	// A stored event is the body plus headers (up to 64 KiB from the
	// provider, and ours): keep that much room below the server's limit.
	bodyCap := nc.MaxPayload() - 80<<10
	if bodyCap < 64<<10 {
		return fmt.Errorf("the NATS server's max_payload (%d bytes) is too small for webhooks", nc.MaxPayload())
	}
	if *maxBody > bodyCap {
		log.Info("Body limit lowered to fit the NATS server's max_payload", "requested", *maxBody, "limit", bodyCap)
		*maxBody = bodyCap
	}
	if err := (&endpoints.Loader{Client: mgr.GetClient(), Registry: reg, MaxBodyBytes: *maxBody, BodyCap: bodyCap}).SetupWithManager(mgr); err != nil {
		return err
	}
	h := &ingserver.Handler{Registry: reg, Store: q, Log: ctrl.Log.WithName("http"), Metrics: ingserver.NewMetrics(metrics.Registry),
		Proxies: &ingserver.Proxies{Trusted: trustedProxies, UseForwarded: useForwarded}}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	var serving atomic.Bool
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		// Serve only once the registry is filled, so no valid request
		// meets a 404 right after a restart.
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return nil
		}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", *listen, err)
		}
		log.Info("Receiving webhooks", "listen", ln.Addr().String())
		serving.Store(true)
		defer serving.Store(false)
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		}
	})); err != nil {
		return err
	}
	d := &dispatch.Dispatcher{
		Queue:       q,
		Registry:    reg,
		Resolver:    &dispatch.ServiceResolver{Client: mgr.GetClient(), ClusterDomain: *clusterDomain, DenyExternalName: !*allowExternalName},
		Log:         ctrl.Log.WithName("dispatch"),
		Concurrency: *concurrency,
		Metrics:     dispatch.NewMetrics(metrics.Registry),
	}
	if err := mgr.Add(d); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("http", func(*http.Request) error {
		if !serving.Load() {
			return errors.New("webhook listener not serving yet")
		}
		return nil
	}); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("queue", func(*http.Request) error {
		if !nc.IsConnected() {
			return errors.New("not connected to NATS")
		}
		return nil
	}); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

func openQueueRetrying(ctx context.Context, nc *nats.Conn, o queue.Options) (*queue.Queue, error) {
	for {
		q, err := queue.Open(ctx, nc, o)
		if err == nil {
			return q, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("opening JetStream layout: %w", err)
		case <-time.After(time.Second):
		}
	}
}
