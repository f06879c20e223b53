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
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hookgate/hookgate/ingress/accesslog"
	"github.com/hookgate/hookgate/ingress/dispatch"
	"github.com/hookgate/hookgate/ingress/endpoints"
	"github.com/hookgate/hookgate/ingress/registry"
	ingserver "github.com/hookgate/hookgate/ingress/server"
	"github.com/hookgate/hookgate/internal/history"
	"github.com/hookgate/hookgate/internal/queue"
)

func runReceiver(args []string) error {
	fs := flag.NewFlagSet("receiver", flag.ContinueOnError)
	listen := fs.String("listen", ":8080", "address the webhook HTTP server binds")
	metricsAddr := fs.String("metrics-bind-address", ":8081", "address of the Prometheus metrics endpoint; 0 disables it")
	probeAddr := fs.String("health-probe-bind-address", ":8082", "address of /healthz and /readyz")
	pprofAddr := pprofFlag(fs)
	natsURL := fs.String("nats-url", "", "external NATS cluster URL; empty runs an embedded JetStream server")
	natsListen := fs.String("nats-listen", "127.0.0.1:4222", "client address of the embedded JetStream server (the manager connects here)")
	var natsAuth queue.ClientAuth
	natsAuth.BindFlags(fs)
	natsTLSCert := fs.String("nats-server-tls-cert", "", "certificate of the embedded JetStream's client port (TLS-only when set)")
	natsTLSKey := fs.String("nats-server-tls-key", "", "key of the embedded JetStream's client port")
	dataDir := fs.String("data-dir", "/var/lib/hookgate", "where the embedded JetStream stores events")
	syncAlways := fs.Bool("jetstream-sync-always", false, "fsync every JetStream write before acknowledging (single-node durability against power loss)")
	replicas := fs.Int("stream-replicas", 1, "replicas of each stream (3 on an external cluster)")
	maxBody := fs.Int64("max-body-bytes", ingserver.DefaultMaxBodyBytes, "body limit of endpoints that set none (spec.limits.maxBodyBytes), at most 64 MiB")
	inlineBodyMax := fs.Int64("inline-body-max", queue.DefaultInlineBodyMax, "bodies longer than this are kept in the JetStream object store hookgate-bodies and their event holds a reference; lowered to fit the NATS server's max_payload")
	clusterDomain := fs.String("cluster-domain", "cluster.local", "cluster DNS suffix used to address target Services")
	concurrency := fs.Int("delivery-concurrency", 16, "deliveries in flight per endpoint and replica")
	slots := fs.Int("delivery-slots", 256, "deliveries in flight on this replica, all endpoints together; under a backlog high-priority endpoints get free slots first (0: no bound, no priorities)")
	namespace := fs.String("namespace", "", "watch only this namespace (default: all)")
	keysNS := fs.String("keys-namespace", os.Getenv("POD_NAMESPACE"), "the receiver's own namespace, where the manager mirrors each endpoint's keys (its --receiver-namespace); the only namespace whose Secrets the receiver reads")
	allowExternalName := fs.Bool("allow-external-name-targets", false, "deliver to ExternalName Services, which can name any host: a tenant could aim the receiver anywhere its pod reaches; for local runs and single-tenant clusters")
	forwardedHeader := fs.String("forwarded-header", "X-Forwarded-For", "which header trusted proxies set: X-Forwarded-For (with X-Forwarded-Proto/Host) or Forwarded (RFC 7239); the other is ignored")
	trusted := fs.String("trusted-proxies", "", "comma-separated CIDRs of proxies (ingress controllers) whose X-Forwarded-For/Forwarded/X-Forwarded-Proto/Host headers are believed on --proxied-listen (never on --listen)")
	proxiedListen := fs.String("proxied-listen", "", "address of the listener behind trusted proxies (routes point here; the NetworkPolicy opens it only to the ingress controller); empty for none")
	maxInflight := fs.Int64("max-inflight-requests", ingserver.DefaultMaxInflightRequests, "requests handled at once; more are answered 503 with Retry-After (0: unbounded)")
	maxInflightBytes := fs.Int64("max-inflight-body-bytes", ingserver.DefaultMaxInflightBytes, "body bytes held at once by requests in flight, reserved before reading; more are answered 503 with Retry-After (0: unbounded)")
	shutdownDelay := fs.Duration("shutdown-delay", 0, "after SIGTERM, keep accepting webhooks this long while readiness says no, so load balancers stop sending first (chart: 5s)")
	maxEventsPerEndpoint := fs.Int64("max-queued-events-per-endpoint", queue.DefaultMaxEventsPerEndpoint, "platform ceiling of one endpoint's waiting events, enforced by JetStream and capping spec.limits.maxQueuedEvents")
	maxBytesPerEndpoint := fs.Int64("max-queued-bytes-per-endpoint", 256<<20, "platform ceiling of one endpoint's waiting body bytes, capping spec.limits.maxQueuedBytes")
	maxDeadPerEndpoint := fs.Int64("max-dead-letters-per-endpoint", queue.DefaultMaxDeadLettersPerEndpoint, "ceiling of one endpoint's dead letters; one that does not fit stays queued")
	storeMaxBytes := fs.Int64("store-max-bytes", 0, "bytes the events and dead-letter streams may use together, below the volume's size (0: no limit but the disk); the embedded server's store is bounded to this plus a tenth")
	refusalsPerSource := fs.Float64("refusals-per-source", 20, "refused requests per second one client address may send before it is answered 429 without its body being read (0: no limit)")
	registrySource := fs.String("registry", "kubernetes", "where endpoints and keys come from: kubernetes (WebhookEndpoints and key mirrors through the API) or nats (the edge registry bucket the manager writes with --edge-registry; edge mode, no Kubernetes API)")
	dispatchOn := fs.Bool("dispatch", true, "deliver stored events to their targets; false for a receiver that only stores (an edge receiver, whose targets are in the private cluster)")
	natsDomain := fs.String("nats-domain", "", "JetStream domain of the private cluster's JetStream, reached through a leaf node (edge mode); empty: the JetStream of the server connected to")
	historyOn := fs.Bool("history", true, "record every request and delivery attempt in the history stream (HOOKGATE_HISTORY) for the events API and kubectl hookgate; an endpoint's spec.history says how long and what")
	historyMaxBytes := fs.Int64("history-max-bytes", 1<<30, "bytes the history stream may use; past it the oldest records go first (0: no limit but the disk)")
	var accessOpts accesslog.Options
	accessOpts.BindFlags(fs)
	zo := zapFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	setLogger(zo)
	log := ctrl.Log.WithName("receiver")
	access, err := accessOpts.Open(ctrl.Log.WithName("access-log"), metrics.Registry)
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: after the manager (or the edge
	// receiver) has returned, which is after the HTTP server drained.
	defer func() {
		if err := access.Close(); err != nil {
			log.Error(err, "Closing the access log failed")
		}
	}()
	trustedProxies, err := ingserver.ParseCIDRs(strings.Split(*trusted, ","))
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	if len(trustedProxies) > 0 && *proxiedListen == "" {
		return errors.New("--trusted-proxies needs --proxied-listen: forwarding headers are believed only on the listener behind the proxies, never on the public one")
	}
	var useForwarded bool
	switch strings.ToLower(*forwardedHeader) {
	case "x-forwarded-for":
	case "forwarded":
		useForwarded = true
	default:
		return fmt.Errorf("--forwarded-header must be X-Forwarded-For or Forwarded, not %q", *forwardedHeader)
	}
	edgeMode := *registrySource == "nats"
	switch {
	case *registrySource != "kubernetes" && !edgeMode:
		return fmt.Errorf("--registry must be kubernetes or nats, not %q", *registrySource)
	case edgeMode && *natsURL == "":
		return errors.New("--registry=nats needs --nats-url: an edge receiver stores into the private cluster's JetStream through the NATS server it connects to")
	case edgeMode && *dispatchOn:
		return errors.New("--registry=nats needs --dispatch=false: targets are in the private cluster, whose receivers deliver")
	case *natsDomain != "" && !edgeMode:
		return errors.New("--nats-domain is for edge receivers (--registry=nats): a receiver with the Kubernetes registry makes the layout in its own JetStream")
	}
	if *maxBody <= 0 || *maxBody > queue.MaxBodyBytes {
		return fmt.Errorf("--max-body-bytes must be between 1 and %d", queue.MaxBodyBytes)
	}
	if *inlineBodyMax < 1<<10 || *inlineBodyMax > queue.MaxPayload-queue.MessageHeadroom {
		return fmt.Errorf("--inline-body-max must be between 1024 and %d", queue.MaxPayload-queue.MessageHeadroom)
	}

	if err := natsAuth.Load(); err != nil {
		return err
	}
	var (
		ns *server.Server
		nc *nats.Conn
	)
	nopts, err := natsAuth.Options("hookgate-receiver")
	if err != nil {
		return err
	}
	if *natsURL == "" {
		host, portStr, err := net.SplitHostPort(*natsListen)
		if err != nil {
			return fmt.Errorf("--nats-listen: %w", err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return fmt.Errorf("--nats-listen: %w", err)
		}
		ns, err = queue.StartEmbedded(queue.EmbeddedOptions{Host: host, Port: port, StoreDir: *dataDir, SyncAlways: *syncAlways,
			Token: natsAuth.Token, AllowUnauthenticated: natsAuth.AllowUnauthenticated, MaxStoreBytes: embeddedStoreBytes(*storeMaxBytes, *historyOn, *historyMaxBytes),
			TLSCertFile: *natsTLSCert, TLSKeyFile: *natsTLSKey})
		if err != nil {
			return err
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		log.Info("Embedded JetStream started", "listen", ns.ClientURL(), "dataDir", *dataDir)
	}
	connect := func() (*nats.Conn, error) {
		if ns != nil {
			return nats.Connect("", append(nopts, nats.InProcessServer(ns))...)
		}
		return nats.Connect(*natsURL, nopts...)
	}
	nc, err = connect()
	if err != nil {
		return fmt.Errorf("connecting to NATS: %w", err)
	}
	defer nc.Drain() //nolint:errcheck

	ctx := ctrl.SetupSignalHandler()
	// A body above the inline limit is kept in the object store, in
	// chunks of 128 KiB, and its event holds a reference: the body limit
	// no longer depends on max_payload, which must only take an event with
	// a small body and its headers (up to 64 KiB from the provider, and
	// ours), and a chunk. This holds for an edge receiver too: the object
	// store's subjects cross the leaf link like the events'. (Known once
	// connected; an edge receiver may start before its server.)
	bodyCapOf := func() (int64, error) {
		if nc.MaxPayload()-queue.MessageHeadroom < 64<<10 {
			return 0, fmt.Errorf("the NATS server's max_payload (%d bytes) is too small for webhooks", nc.MaxPayload())
		}
		return queue.MaxBodyBytes, nil
	}
	hf := handlerFlags{maxEventsPerEndpoint: *maxEventsPerEndpoint, maxBytesPerEndpoint: *maxBytesPerEndpoint,
		maxInflight: *maxInflight, maxInflightBytes: *maxInflightBytes, refusalsPerSource: *refusalsPerSource, access: access}
	newServer := func(h *ingserver.Handler, waitForSync func(context.Context) bool) *ingserver.Server {
		return &ingserver.Server{Handler: h, Addr: *listen, ProxiedAddr: *proxiedListen,
			Proxies:     ingserver.Proxies{Trusted: trustedProxies, UseForwarded: useForwarded},
			WaitForSync: waitForSync, ShutdownDelay: *shutdownDelay, Log: log}
	}
	if edgeMode {
		return runEdge(ctx, edgeConfig{nc: nc, auth: &natsAuth, domain: *natsDomain, handler: hf, bodyCap: bodyCapOf,
			maxBody: maxBody, newServer: newServer, probeAddr: *probeAddr, metricsAddr: *metricsAddr})
	}
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	q, err := openQueueRetrying(openCtx, nc, queue.Options{Replicas: *replicas, MaxStoreBytes: *storeMaxBytes, InlineBodyMax: *inlineBodyMax,
		MaxEventsPerEndpoint: *maxEventsPerEndpoint, MaxDeadLettersPerEndpoint: *maxDeadPerEndpoint})
	cancel()
	if err != nil {
		return err
	}
	if err := natsAuth.CheckServerAuth(nc); err != nil {
		return err
	}
	// Publish the last summed counter increments before the connection goes.
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := q.Close(cctx); err != nil {
			log.Error(err, "Flushing counters at shutdown failed")
		}
	}()

	mopts := ctrl.Options{
		Scheme:                 newScheme(),
		Metrics:                metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress: *probeAddr,
		PprofBindAddress:       *pprofAddr,
		LeaderElection:         false,
	}
	if *keysNS == "" {
		return errors.New("--keys-namespace (or POD_NAMESPACE) is required: the receiver reads its keys from Secrets there")
	}
	// Secrets only in the receiver's namespace, whatever --namespace says.
	// Nothing reads managedFields; with thousands of endpoints (often
	// server-side applied) they are most of the cache.
	byObject := endpoints.CacheByObject(*keysNS)
	byObject[&corev1.Service{}] = dispatch.ServiceCache
	mopts.Cache = cache.Options{ByObject: byObject, DefaultTransform: cache.TransformStripManagedFields()}
	if *namespace != "" {
		mopts.Cache.DefaultNamespaces = map[string]cache.Config{*namespace: {}}
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), mopts)
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	reg := registry.New()
	bodyCap, err := bodyCapOf()
	if err != nil {
		return err
	}
	loader := &endpoints.Loader{Client: mgr.GetClient(), Registry: reg, KeysNamespace: *keysNS, MaxBodyBytes: *maxBody, BodyCap: bodyCap}
	if err := loader.SetupWithManager(mgr); err != nil {
		return err
	}
	h := hf.handler(reg, q)
	var rec *history.Recorder
	if *historyOn {
		// Its own connection: its asynchronous publishes do not queue
		// behind, or ahead of, the events' synchronous ones.
		hnc, err := connect()
		if err != nil {
			return fmt.Errorf("connecting to NATS: %w", err)
		}
		defer hnc.Drain() //nolint:errcheck
		if rec, err = history.Start(ctx, hnc, history.StreamOptions{Replicas: *replicas, MaxBytes: *historyMaxBytes},
			history.RecorderOptions{Log: ctrl.Log.WithName("history"), Registerer: metrics.Registry}); err != nil {
			return err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := rec.Close(cctx); err != nil {
				log.Error(err, "Flushing history records at shutdown failed")
			}
		}()
		h.History = rec
	}
	// Serve only once the registry holds every endpoint and its keys.
	warmup := &endpoints.Warmup{Loader: loader, WaitForCacheSync: mgr.GetCache().WaitForCacheSync}
	if err := mgr.Add(warmup); err != nil {
		return err
	}
	srv := newServer(h, warmup.WaitLoaded)
	if err := mgr.Add(srv); err != nil {
		return err
	}
	if err := mgr.Add(h.Quota); err != nil {
		return err
	}
	if *dispatchOn {
		// Deliveries have their own connection: behind the ingest path's
		// publishes on one connection, pulls and acks would wait their
		// turn, and delivery would fall far behind while webhooks arrive.
		dnc, err := connect()
		if err != nil {
			return fmt.Errorf("connecting to NATS: %w", err)
		}
		defer dnc.Drain() //nolint:errcheck
		dq, err := queue.Attach(ctx, dnc, queue.Options{Replicas: *replicas})
		if err != nil {
			return err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := dq.Close(cctx); err != nil {
				log.Error(err, "Flushing counters at shutdown failed")
			}
		}()
		d := &dispatch.Dispatcher{
			Queue:       dq,
			Registry:    reg,
			Resolver:    &dispatch.ServiceResolver{Client: mgr.GetClient(), ClusterDomain: *clusterDomain, AllowExternalName: *allowExternalName},
			Log:         ctrl.Log.WithName("dispatch"),
			Concurrency: *concurrency,
			Slots:       *slots,
			Metrics:     dispatch.NewMetrics(metrics.Registry),
		}
		if rec != nil {
			d.History = rec
		}
		if err := mgr.Add(d); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("http", srv.Ready); err != nil {
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

// handlerFlags are the flags of the webhook handler, shared by the
// Kubernetes-backed receiver and the edge receiver.
type handlerFlags struct {
	maxEventsPerEndpoint, maxBytesPerEndpoint int64
	maxInflight, maxInflightBytes             int64
	refusalsPerSource                         float64
	// access is the access log opened from --access-log; nil when off.
	access *accesslog.Logger
}

func (f handlerFlags) handler(reg *registry.Registry, q *queue.Queue) *ingserver.Handler {
	h := &ingserver.Handler{Registry: reg, Store: q, Log: ctrl.Log.WithName("http"), Metrics: ingserver.NewMetrics(metrics.Registry),
		Quota: &ingserver.Quota{Source: q, MaxEventsCeiling: f.maxEventsPerEndpoint, MaxBytesCeiling: f.maxBytesPerEndpoint,
			Log: ctrl.Log.WithName("quota")},
		Admission: &ingserver.Admission{MaxRequests: f.maxInflight, MaxBytes: f.maxInflightBytes},
		Access:    f.access,
		Sources:   &ingserver.SourceLimiter{Rate: rate.Limit(f.refusalsPerSource), Burst: max(1, int(2*f.refusalsPerSource)), MaxSources: 100000}}
	if f.refusalsPerSource <= 0 {
		h.Sources = nil
	}
	h.Handshakes = &lazyHandshakeSecrets{nc: q.NC}
	return h
}

// embeddedStoreBytes bounds the embedded server's store: the events and
// dead letters' bound and a tenth, and the history's.
func embeddedStoreBytes(store int64, historyOn bool, historyBytes int64) int64 {
	if store <= 0 {
		return 0
	}
	if historyOn {
		if historyBytes <= 0 {
			return 0
		}
		store += historyBytes
	}
	return store + store/10
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
