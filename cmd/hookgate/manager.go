package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/controllers"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/eventsapi"
	"github.com/hookgate/hookgate/internal/history"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/webhookcert"
)

func runManager(args []string) error {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	metricsAddr := fs.String("metrics-bind-address", ":8083", "address of the Prometheus metrics endpoint; 0 disables it")
	probeAddr := fs.String("health-probe-bind-address", ":8084", "address of /healthz and /readyz")
	leaderElect := fs.Bool("leader-elect", false, "elect a leader so several replicas can run")
	leaderNS := fs.String("leader-election-namespace", "", "namespace of the leader election Lease (default: the pod's)")
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "NATS URL of the receiver's JetStream (embedded or external)")
	var natsAuth queue.ClientAuth
	natsAuth.BindFlags(fs)
	natsAuthSecret := fs.String("nats-auth-secret", "", "Secret in the manager's namespace holding the NATS token (key \"token\"); created with a random token when missing, for the receiver to read")
	publicURL := fs.String("public-base-url", "", "public base URL of the receiver, e.g. https://hooks.example.com; makes status.url")
	statusInterval := fs.Duration("status-interval", 2*time.Second, "shortest interval between counter updates of one endpoint's status")
	resync := fs.Duration("resync-interval", controllers.DefaultResyncInterval, "interval at which every endpoint's counters are re-read without a signal (a safety net: changes are signalled, and a NATS reconnect refreshes every endpoint)")
	routeKind := fs.String("route-kind", "None", "default route per endpoint: Ingress, HTTPRoute or None")
	routeHost := fs.String("route-host", "", "default public host of routes")
	ingressClass := fs.String("ingress-class", "", "default IngressClass of Ingress routes")
	tlsSecret := fs.String("ingress-tls-secret", "", "default TLS Secret (in the receiver's namespace) of Ingress routes")
	clusterIssuer := fs.String("cluster-issuer", "", "cert-manager ClusterIssuer annotated on Ingress routes")
	routeAnnotations := fs.String("route-annotations", "", "extra route annotations, k=v,k=v")
	gateways := fs.String("gateway", "", "default parent Gateways of HTTPRoutes, namespace/name[,namespace/name]")
	var routePolicy controllers.RoutePolicy // what spec.route may set: --route-allowed-*
	routePolicy.BindFlags(fs)
	receiverNS := fs.String("receiver-namespace", os.Getenv("POD_NAMESPACE"), "namespace of the receiver Service; routes and the receiver's key mirrors (Secrets hookgate-keys-<uid>) are created there")
	receiverSvc := fs.String("receiver-service", "", "name of the receiver Service that routes point at")
	receiverPort := fs.Int("receiver-service-port", 80, "port of the receiver Service")
	edgeRegistry := fs.Bool("edge-registry", false, "publish every endpoint and its mirrored keys into the JetStream bucket "+queue.EdgeRegistryBucket+", for edge receivers (--registry=nats) that cannot reach this cluster's API (edge mode, docs/operations.md)")
	var wh webhookcert.Flags // the validating admission webhook: --webhook-*
	wh.BindFlags(fs)
	eventsAPI := fs.Bool("events-api", true, "serve the events API (kubectl hookgate) on the webhook server's port, under "+eventsv1.PathPrefix+"; needs the webhook server (--webhook-port)")
	concurrency := fs.Int("max-concurrent-reconciles", 8, "endpoints reconciled at once")
	gcPercent := fs.Int("gc-percent", 50, "Go GC target percentage (GOGC) of the manager, whose heap is mostly its long-lived informer caches: 50 keeps the footprint at about 1.5 times the live heap instead of 2; the GOGC environment variable, when set, wins")
	kubeConfig := kubeFlags(fs)
	pprofAddr := pprofFlag(fs)
	zo := zapFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(*gcPercent)
	}
	setLogger(zo)
	if *receiverNS == "" {
		return fmt.Errorf("--receiver-namespace (or POD_NAMESPACE) is required: the receiver reads each endpoint's keys from a Secret the manager writes there")
	}
	kind := hookv1.RouteKind(*routeKind)
	if kind != hookv1.RouteIngress && kind != hookv1.RouteHTTPRoute && kind != hookv1.RouteNone {
		return fmt.Errorf("--route-kind must be Ingress, HTTPRoute or None, not %q", *routeKind)
	}
	ann := map[string]string{}
	for _, kv := range strings.Split(*routeAnnotations, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--route-annotations: %q is not k=v", kv)
		}
		ann[k] = v
	}
	var gws []string
	for _, g := range strings.Split(*gateways, ",") {
		if g = strings.TrimSpace(g); g != "" {
			gws = append(gws, g)
		}
	}

	var (
		certs         *webhookcert.Rotator
		webhookServer webhook.Server
	)
	if wh.Enabled() {
		// The certificate Secret is in the manager's own namespace.
		ns := os.Getenv("POD_NAMESPACE")
		if ns == "" {
			ns = *receiverNS
		}
		var err error
		if certs, webhookServer, err = wh.New(ns); err != nil {
			return err
		}
	}
	mgr, err := ctrl.NewManager(kubeConfig(), ctrl.Options{
		Scheme:                  newScheme(),
		Metrics:                 metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress:  *probeAddr,
		PprofBindAddress:        *pprofAddr,
		LeaderElection:          *leaderElect,
		LeaderElectionID:        "hookgate-manager.hookgate.io",
		LeaderElectionNamespace: *leaderNS,
		// Nothing reads managedFields; with thousands of endpoints (often
		// server-side applied) they are most of the cache.
		Cache:         cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
		WebhookServer: webhookServer,
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	if *natsAuthSecret != "" && natsAuth.TokenFile == "" && os.Getenv(queue.TokenEnv) == "" {
		c, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme()})
		if err != nil {
			return fmt.Errorf("creating client: %w", err)
		}
		bctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		natsAuth.Token, err = controllers.EnsureNATSToken(bctx, c, types.NamespacedName{Namespace: *receiverNS, Name: *natsAuthSecret})
		cancel()
		if err != nil {
			return err
		}
	}
	if err := natsAuth.Load(); err != nil {
		return err
	}
	nopts, err := natsAuth.Options("hookgate-manager")
	if err != nil {
		return err
	}
	var (
		ncOnce sync.Once
		nc     *nats.Conn
		ncErr  error
	)
	conn := func(context.Context) (*nats.Conn, error) {
		ncOnce.Do(func() { nc, ncErr = nats.Connect(*natsURL, nopts...) })
		if ncErr != nil {
			return nil, ncErr
		}
		// Checked on every use: the server is known only once connected.
		if err := natsAuth.CheckServerAuth(nc); err != nil {
			return nil, err
		}
		return nc, nil
	}
	lq := &controllers.LazyQueue{Open: func(ctx context.Context) (*queue.Queue, error) {
		c, err := conn(ctx)
		if err != nil {
			return nil, err
		}
		if !c.IsConnected() {
			return nil, fmt.Errorf("not connected to NATS at %s", *natsURL)
		}
		return queue.Attach(ctx, c, queue.Options{})
	}}
	hist := &history.Lazy{Conn: conn, Log: ctrl.Log.WithName("history")}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hist.Close(cctx)
	}()
	changes := make(chan event.GenericEvent, 1024)
	ctx := ctrl.SetupSignalHandler()
	r := &controllers.Reconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Recorder:                mgr.GetEventRecorder("hookgate-controller"),
		Queue:                   lq,
		PublicBaseURL:           *publicURL,
		ResyncInterval:          *resync,
		Changes:                 changes,
		MaxConcurrentReconciles: *concurrency,
		ProviderCheck:           verify.CheckInfo,
		History:                 hist,
		Routes: controllers.RouteDefaults{
			Kind: kind, Host: *routeHost, IngressClass: *ingressClass, TLSSecret: *tlsSecret,
			ClusterIssuer: *clusterIssuer, Annotations: ann, Gateways: gws, Policy: routePolicy,
			ReceiverNamespace: *receiverNS, ReceiverService: *receiverSvc, ReceiverPort: int32(*receiverPort),
		},
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	// WebhookProviders are checked with the receiver's own constructors,
	// handed in: controllers/ does not import ingress/.
	pr := &controllers.ProviderReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("hookgate-controller"), Check: verify.CheckInfo}
	if err := pr.SetupWithManager(mgr); err != nil {
		return err
	}
	hs := &controllers.HandshakeSecretReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("hookgate-controller"),
		Secrets: func(ctx context.Context) (*queue.HandshakeSecrets, error) {
			c, err := conn(ctx)
			if err != nil {
				return nil, err
			}
			return queue.OpenHandshakeSecrets(ctx, c)
		}}
	if err := hs.SetupWithManager(mgr); err != nil {
		return err
	}
	if *edgeRegistry {
		p := &controllers.EdgeRegistryPublisher{Client: mgr.GetClient(), ReceiverNamespace: *receiverNS,
			Open: func(ctx context.Context) (controllers.EdgeRegistryWriter, error) {
				c, err := conn(ctx)
				if err != nil {
					return nil, err
				}
				if !c.IsConnected() {
					return nil, fmt.Errorf("not connected to NATS at %s", *natsURL)
				}
				return queue.OpenEdgeRegistry(ctx, c)
			}}
		if err := p.SetupWithManager(mgr); err != nil {
			return err
		}
	}
	if err := mgr.Add(&controllers.CounterWatcher{Conn: conn, Client: mgr.GetClient(), Interval: *statusInterval, Out: changes}); err != nil {
		return err
	}
	if certs != nil {
		controllers.SetupAdmissionWebhook(mgr)
		if err := certs.SetupWithManager(mgr); err != nil {
			return err
		}
		if *eventsAPI {
			api := &eventsapi.Server{Endpoints: mgr.GetClient(), Auth: eventsapi.NewAuthorizer(mgr.GetClient(), eventsapi.AuthorizerOptions{}),
				History: hist, DeadLetters: lq, Actions: hist, NotFound: history.ErrNotFound, BadContinue: history.ErrBadContinue, Log: ctrl.Log.WithName("events-api")}
			mgr.GetWebhookServer().Register(eventsv1.PathPrefix, api.Handler())
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
