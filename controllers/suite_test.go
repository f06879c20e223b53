package controllers

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/history"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/testenv"
)

var (
	testEnv *envtest.Environment
	cfg     *rest.Config
	k8s     client.Client // direct, uncached: assertions see the API server's truth
	q       *queue.Queue
	ns      *server.Server
	cancel  context.CancelFunc
	// clockOffset moves the reconciler's clock forward, for rotation.
	clockOffset atomic.Int64
)

const receiverNamespace = "hookgate-system"

func advanceClock(d time.Duration) { clockOffset.Add(int64(d)) }

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	testEnv, err = testenv.New()
	Expect(err).NotTo(HaveOccurred())
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	scheme := newTestScheme()
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	ns, err = queue.StartEmbedded(queue.EmbeddedOptions{Host: "127.0.0.1", Port: -1, StoreDir: GinkgoT().TempDir(), Token: "controllers-test"})
	Expect(err).NotTo(HaveOccurred())
	nc, err := nats.Connect(ns.ClientURL(), nats.Token("controllers-test"))
	Expect(err).NotTo(HaveOccurred())
	q, err = queue.Open(context.Background(), nc, queue.Options{})
	Expect(err).NotTo(HaveOccurred())
	// The history stream, as a receiver makes it.
	Expect(history.Ensure(context.Background(), q.JS, history.StreamOptions{})).To(Succeed())

	Expect(k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: receiverNamespace}})).To(Succeed())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	Expect(err).NotTo(HaveOccurred())
	var ctx context.Context
	ctx, cancel = context.WithCancel(context.Background())
	changes := make(chan event.GenericEvent, 64)
	r := &Reconciler{
		Client:         mgr.GetClient(),
		APIReader:      mgr.GetAPIReader(),
		Recorder:       mgr.GetEventRecorder("hookgate-controller"),
		Queue:          q,
		PublicBaseURL:  "https://hooks.example.com",
		ResyncInterval: time.Hour, // counters must arrive through the watcher, not the resync
		Changes:        changes,
		Routes: RouteDefaults{
			Kind:              hookv1.RouteNone,
			Host:              "hooks.example.com",
			IngressClass:      "nginx",
			Annotations:       map[string]string{"nginx.ingress.kubernetes.io/limit-rps": "50"},
			ReceiverNamespace: receiverNamespace,
			ReceiverService:   "hookgate-receiver",
			ReceiverPort:      80,
			// What the other specs set; routepolicy_test.go tries the rest.
			Policy: RoutePolicy{
				AllowedAnnotations: []string{"team", "example.com/*"},
				AllowedHosts:       []string{"in.example.org", "*.hooks.example.com"},
				AllowedTLSSecrets:  []string{"hooks-tls"},
				AllowedGateways:    []string{"infra/public"},
			},
		},
		Now:     func() time.Time { return time.Now().Add(time.Duration(clockOffset.Load())) },
		History: &history.Lazy{Conn: func(context.Context) (*nats.Conn, error) { return nc, nil }},
	}
	Expect(r.SetupWithManager(ctx, mgr)).To(Succeed())
	Expect((&ProviderReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("hookgate-controller")}).SetupWithManager(mgr)).To(Succeed())
	Expect((&HandshakeSecretReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("hookgate-controller"), PollInterval: 200 * time.Millisecond,
		Secrets: func(ctx context.Context) (*queue.HandshakeSecrets, error) { return queue.OpenHandshakeSecrets(ctx, nc) },
	}).SetupWithManager(mgr)).To(Succeed())
	Expect(mgr.Add(&CounterWatcher{
		Conn:     func(context.Context) (*nats.Conn, error) { return nc, nil },
		Client:   mgr.GetClient(),
		Interval: 200 * time.Millisecond,
		Out:      changes,
	})).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if ns != nil {
		ns.Shutdown()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// newNamespace gives each spec its own namespace.
func newNamespace(ctx context.Context) string {
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "hg-"}}
	Expect(k8s.Create(ctx, n)).To(Succeed())
	return n.Name
}

func newTestScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(s)).To(Succeed())
	Expect(hookv1.AddToScheme(s)).To(Succeed())
	return s
}
