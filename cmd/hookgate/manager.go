package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hookgate/hookgate/controllers"
	"github.com/hookgate/hookgate/internal/queue"
)

func runManager(args []string) error {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	metricsAddr := fs.String("metrics-bind-address", ":8083", "address of the Prometheus metrics endpoint; 0 disables it")
	probeAddr := fs.String("health-probe-bind-address", ":8084", "address of /healthz and /readyz")
	leaderElect := fs.Bool("leader-elect", false, "elect a leader so several replicas can run")
	leaderNS := fs.String("leader-election-namespace", "", "namespace of the leader election Lease (default: the pod's)")
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "NATS URL of the receiver's JetStream (embedded or external)")
	natsToken := fs.String("nats-token", "", "token for NATS (also HOOKGATE_NATS_TOKEN)")
	publicURL := fs.String("public-base-url", "", "public base URL of the receiver, e.g. https://hooks.example.com; makes status.url")
	statusInterval := fs.Duration("status-interval", 2*time.Second, "shortest interval between counter updates of one endpoint's status")
	resync := fs.Duration("resync-interval", time.Minute, "interval at which every endpoint's counters are re-read")
	zo := zapFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	setLogger(zo)

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  newScheme(),
		Metrics:                 metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress:  *probeAddr,
		LeaderElection:          *leaderElect,
		LeaderElectionID:        "hookgate-manager.hookgate.io",
		LeaderElectionNamespace: *leaderNS,
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	var (
		ncOnce sync.Once
		nc     *nats.Conn
		ncErr  error
	)
	conn := func(context.Context) (*nats.Conn, error) {
		ncOnce.Do(func() { nc, ncErr = nats.Connect(*natsURL, natsOptions("hookgate-manager", *natsToken)...) })
		return nc, ncErr
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
	changes := make(chan event.GenericEvent, 1024)
	ctx := ctrl.SetupSignalHandler()
	r := &controllers.Reconciler{
		Client:         mgr.GetClient(),
		Recorder:       mgr.GetEventRecorder("hookgate-controller"),
		Queue:          lq,
		PublicBaseURL:  *publicURL,
		ResyncInterval: *resync,
		Changes:        changes,
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	if err := mgr.Add(&controllers.CounterWatcher{Conn: conn, Client: mgr.GetClient(), Interval: *statusInterval, Out: changes}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
