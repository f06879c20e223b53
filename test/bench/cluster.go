package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/history"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/testenv"
)

const (
	// systemNS stands for the release namespace: the receiver's keys
	// namespace and the manager's --receiver-namespace.
	systemNS = "hookgate-system"
	// benchNS holds the measured endpoints, scaleNS the N endpoints.
	benchNS = "bench"
	scaleNS = "bench-scale"
	// secretName is the signing Secret every endpoint shares, sinkName the
	// ExternalName Service in front of the local delivery target.
	secretName = "github-webhook"
	sinkName   = "sink"
	sinkPath   = "/events"
	// Quotas far above what a run stores, so that no measured request is
	// refused with 503 for a full queue: the ingest endpoint is suspended
	// and keeps everything until the benchmark purges it.
	queueEventsCeiling = 1_000_000
	queueBytesCeiling  = 64 << 30
)

// cluster is the real control plane and the two hookgate processes, run
// as hack/dev runs them: etcd and kube-apiserver from bin/k8s through
// envtest (which installs the CRDs), `hookgate receiver` with embedded
// JetStream and `hookgate manager`, both with an admin kubeconfig.
type cluster struct {
	work       string
	env        *envtest.Environment
	k8s        client.WithWatch
	kubeconfig string
	bin        string
	token      string
	dataDir    string
	sinkPort   int
	ports      struct{ http, probe, metrics, nats, mgrProbe, pprof, mgrPprof int }
	syncAlways bool
	// pprof serves both processes' Go profiles on loopback (-pprof).
	pprof bool
	// history: the receivers record the event history (-history).
	history  bool
	receiver *proc
	manager  *proc
	// nc reads the receiver's JetStream: stored events and counters.
	nc *nats.Conn
	q  *queue.Queue
}

// endpoint is a created WebhookEndpoint as the benchmark uses it.
type endpoint struct {
	key  client.ObjectKey
	uid  string
	path string
}

func startCluster(ctx context.Context, cfg *config, work string, sinkPort int, key []byte) (_ *cluster, err error) {
	c := &cluster{work: work, sinkPort: sinkPort, dataDir: filepath.Join(work, "receiver-jetstream"), history: cfg.history}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	root := testenv.RepoRoot()
	c.bin = filepath.Join(work, "hookgate")
	progress("building %s", c.bin)
	build := exec.CommandContext(ctx, "go", "build", "-o", c.bin, "./cmd/hookgate")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building hookgate: %w\n%s", err, out)
	}

	progress("starting etcd and kube-apiserver (bin/k8s)")
	if c.env, err = testenv.New(); err != nil {
		return nil, err
	}
	rc, err := c.env.Start()
	if err != nil {
		c.env = nil
		return nil, fmt.Errorf("starting control plane: %w", err)
	}
	admin, err := c.env.AddUser(envtest.User{Name: "bench-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return nil, err
	}
	c.kubeconfig = filepath.Join(work, "kubeconfig")
	if err := os.WriteFile(c.kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := hookv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	rc.QPS = -1 // no client-side throttling: creating N endpoints is the point
	if c.k8s, err = client.NewWithWatch(rc, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	for _, ns := range []string{systemNS, benchNS} {
		if err := c.createNamespace(ctx, ns, key); err != nil {
			return nil, err
		}
	}

	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	c.token = hex.EncodeToString(b)
	for _, p := range []*int{&c.ports.http, &c.ports.probe, &c.ports.metrics, &c.ports.nats, &c.ports.mgrProbe, &c.ports.pprof, &c.ports.mgrPprof} {
		if *p, err = freePort(); err != nil {
			return nil, err
		}
	}
	c.pprof = cfg.pprof
	if c.pprof {
		progress("profiles: receiver http://127.0.0.1:%d/debug/pprof/, manager http://127.0.0.1:%d/debug/pprof/", c.ports.pprof, c.ports.mgrPprof)
	}
	if err := c.startReceiver(ctx, cfg.baseSync); err != nil {
		return nil, err
	}
	c.manager, _, err = startProc("manager", filepath.Join(work, "manager.log"), c.bin, []string{"manager",
		"--nats-url", c.natsURL(),
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(c.ports.mgrProbe),
		"--receiver-namespace", systemNS,
		"--public-base-url", c.receiverURL(),
		"--pprof-bind-address", c.pprofAddr(c.ports.mgrPprof),
		// Nothing registers the admission webhook here.
		"--webhook-port", "0",
	}, c.procEnv(), false)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, "http://127.0.0.1:"+strconv.Itoa(c.ports.mgrProbe)+"/readyz", http.StatusOK, time.Minute); err != nil {
		return nil, fmt.Errorf("manager not ready (log: %s): %w", c.manager.log, err)
	}
	c.nc, err = nats.Connect(c.natsURL(), nats.Name("hookgate-bench"), nats.Token(c.token),
		nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("connecting to the receiver's JetStream: %w", err)
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if c.q, err = queue.Attach(actx, c.nc, queue.Options{}); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *cluster) receiverURL() string { return "http://127.0.0.1:" + strconv.Itoa(c.ports.http) }
func (c *cluster) natsURL() string     { return "nats://127.0.0.1:" + strconv.Itoa(c.ports.nats) }

func (c *cluster) procEnv() []string {
	return []string{"KUBECONFIG=" + c.kubeconfig, queue.TokenEnv + "=" + c.token}
}

// createNamespace makes ns with the signing Secret and the target Service.
func (c *cluster) createNamespace(ctx context.Context, ns string, key []byte) error {
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secretName}, Data: map[string][]byte{hookv1.DefaultSecretKey: key}},
		// The API server refuses loopback addresses in EndpointSlices, so a
		// target on this host is an ExternalName Service, as in test/e2e.
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sinkName},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "127.0.0.1"}},
	}
	for _, o := range objs {
		if err := c.k8s.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// pprofAddr is the --pprof-bind-address of a process: port on loopback
// with -pprof, off without.
func (c *cluster) pprofAddr(port int) string {
	if !c.pprof {
		return "0"
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// receiverPolicy is the flags every benchmark receiver runs with: where
// keys are, local targets, the per-endpoint ceilings, the history.
func (c *cluster) receiverPolicy() []string {
	return []string{
		"--history=" + strconv.FormatBool(c.history),
		"--keys-namespace", systemNS,
		"--allow-external-name-targets=true",
		"--max-queued-events-per-endpoint", strconv.Itoa(queueEventsCeiling),
		"--max-queued-bytes-per-endpoint", strconv.FormatInt(queueBytesCeiling, 10),
	}
}

// startReceiver starts `hookgate receiver` on the benchmark's store and
// waits until it serves. Restarts keep the store, so a restart with
// another --jetstream-sync-always finds the same streams.
func (c *cluster) startReceiver(ctx context.Context, syncAlways bool) error {
	var err error
	c.syncAlways = syncAlways
	c.receiver, _, err = startProc("receiver", filepath.Join(c.work, "receiver.log"), c.bin, append([]string{"receiver",
		"--listen", "127.0.0.1:" + strconv.Itoa(c.ports.http),
		// Read only by the protection section (per-replica deliveries,
		// held events); an idle listener otherwise.
		"--metrics-bind-address", "127.0.0.1:" + strconv.Itoa(c.ports.metrics),
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(c.ports.probe),
		"--pprof-bind-address", c.pprofAddr(c.ports.pprof),
		"--nats-listen", "127.0.0.1:" + strconv.Itoa(c.ports.nats),
		"--data-dir", c.dataDir,
		"--jetstream-sync-always=" + strconv.FormatBool(syncAlways),
	}, c.receiverPolicy()...), c.procEnv(), false)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://127.0.0.1:"+strconv.Itoa(c.ports.probe)+"/readyz", http.StatusOK, 2*time.Minute); err != nil {
		return fmt.Errorf("receiver not ready (log: %s): %w", c.receiver.log, err)
	}
	return nil
}

// restartReceiver stops the receiver and starts it with syncAlways, then
// waits until it routes every path in eps again.
func (c *cluster) restartReceiver(ctx context.Context, syncAlways bool, eps ...endpoint) error {
	progress("restarting the receiver with --jetstream-sync-always=%t", syncAlways)
	c.receiver.stop()
	if err := c.startReceiver(ctx, syncAlways); err != nil {
		return err
	}
	for _, ep := range eps {
		if err := c.waitRouted(ctx, ep, time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// alive fails when the receiver or the manager has exited.
func (c *cluster) alive() error {
	for _, p := range []*proc{c.receiver, c.manager} {
		if done, err := p.exited(); done {
			return fmt.Errorf("%s exited (%v); log: %s", p.name, err, p.log)
		}
	}
	return nil
}

// newEndpoint is the WebhookEndpoint every benchmark endpoint is: GitHub,
// the shared Secret, the local target, quotas above any run.
func (c *cluster) newEndpoint(ns, name string, suspend bool) *hookv1.WebhookEndpoint {
	return &hookv1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: hookv1.WebhookEndpointSpec{
			Provider:  hookv1.ProviderGitHub,
			SecretRef: &hookv1.SecretKeyRef{Name: secretName},
			Target:    &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: sinkName, Port: int32(c.sinkPort), Path: sinkPath}},
			Limits: hookv1.LimitsSpec{
				MaxQueuedEvents: ptr.To[int64](queueEventsCeiling),
				MaxQueuedBytes:  ptr.To[int64](queueBytesCeiling),
			},
			// The most the API allows: the ingest runs' history checks
			// count every record, and the controller's trim (once a
			// minute, to maxEvents) must not cut them meanwhile.
			History: hookv1.HistorySpec{MaxEvents: ptr.To[int32](1000000)},
			Suspend: suspend,
		},
	}
}

// createEndpoint creates one endpoint and waits until it is reconciled
// and the receiver routes its path.
func (c *cluster) createEndpoint(ctx context.Context, ns, name string, suspend bool) (endpoint, error) {
	return c.createEndpointFrom(ctx, c.newEndpoint(ns, name, suspend))
}

// createEndpointFrom creates we (newEndpoint, changed) and waits as
// createEndpoint does.
func (c *cluster) createEndpointFrom(ctx context.Context, we *hookv1.WebhookEndpoint) (endpoint, error) {
	if err := c.k8s.Create(ctx, we); err != nil {
		return endpoint{}, fmt.Errorf("creating WebhookEndpoint %s/%s: %w", we.Namespace, we.Name, err)
	}
	ep, err := c.waitReconciled(ctx, client.ObjectKeyFromObject(we), time.Minute)
	if err != nil {
		return endpoint{}, err
	}
	return ep, c.waitRouted(ctx, ep, time.Minute)
}

// reconciled reports whether the manager finished with we: Ready True,
// or False only for being suspended, for the current generation.
func reconciled(we *hookv1.WebhookEndpoint) bool {
	cond := meta.FindStatusCondition(we.Status.Conditions, hookv1.ConditionReady)
	if cond == nil || we.Status.WebhookPath == "" || we.Status.ObservedGeneration != we.Generation || cond.ObservedGeneration != we.Generation {
		return false
	}
	if we.Spec.Suspend {
		return cond.Status == metav1.ConditionFalse && cond.Reason == hookv1.ReasonSuspended
	}
	return cond.Status == metav1.ConditionTrue
}

func (c *cluster) waitReconciled(ctx context.Context, key client.ObjectKey, d time.Duration) (endpoint, error) {
	deadline := time.Now().Add(d)
	for {
		var we hookv1.WebhookEndpoint
		err := c.k8s.Get(ctx, key, &we)
		if err == nil && reconciled(&we) {
			return endpoint{key: key, uid: string(we.UID), path: we.Status.WebhookPath}, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("conditions %+v", we.Status.Conditions)
			}
			return endpoint{}, fmt.Errorf("WebhookEndpoint %s not reconciled within %s (manager log: %s): %w", key, d, c.manager.log, err)
		}
		select {
		case <-ctx.Done():
			return endpoint{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitRouted waits until the receiver routes ep's path: a GET there is
// answered 405 (and not counted), an unknown path 404.
func (c *cluster) waitRouted(ctx context.Context, ep endpoint, d time.Duration) error {
	if err := waitHTTP(ctx, c.receiverURL()+ep.path, http.StatusMethodNotAllowed, d); err != nil {
		return fmt.Errorf("receiver does not route %s (log: %s): %w", ep.key, c.receiver.log, err)
	}
	return nil
}

// setSuspend patches spec.suspend. The receiver's own watch on the
// endpoint starts or stops delivery; nothing waits for the manager.
func (c *cluster) setSuspend(ctx context.Context, ep endpoint, suspend bool) error {
	var we hookv1.WebhookEndpoint
	if err := c.k8s.Get(ctx, ep.key, &we); err != nil {
		return err
	}
	patch := client.MergeFrom(we.DeepCopy())
	we.Spec.Suspend = suspend
	if err := c.k8s.Patch(ctx, &we, patch); err != nil {
		return fmt.Errorf("setting spec.suspend=%t on %s: %w", suspend, ep.key, err)
	}
	return nil
}

// storedEvents is how many events of ep wait in the events stream.
func (c *cluster) storedEvents(ctx context.Context, ep endpoint) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m, err := c.q.QueuedEvents(ctx)
	if err != nil {
		return 0, err
	}
	return m[ep.uid], nil
}

// historyRecords is how many request records ep's history holds; the
// recorder writes them asynchronously, so it waits (at most 10 s) until
// want are there, or the count stops moving.
func (c *cluster) historyRecords(ctx context.Context, ep endpoint, want uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	count := func() (uint64, error) {
		cons, err := c.q.JS.OrderedConsumer(ctx, history.Stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{history.RequestSubject(ep.uid, "*")}})
		if err != nil {
			return 0, err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return 0, err
		}
		return info.NumPending, nil
	}
	var last uint64
	for deadline := time.Now().Add(10 * time.Second); ; {
		n, err := count()
		if err != nil || n >= want || time.Now().After(deadline) {
			return n, err
		}
		if n == last && last > 0 {
			time.Sleep(time.Second)
			if m, err := count(); err != nil || m == n {
				return m, err
			}
		}
		last = n
		time.Sleep(100 * time.Millisecond)
	}
}

// counter reads one of ep's counters, as status shows it (delivered and
// dead-lettered come from the tally, received is derived: queue.Counters).
func (c *cluster) counter(ctx context.Context, ep endpoint, name string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cs, err := c.q.ReadCounters(ctx, ep.uid)
	if err != nil {
		return 0, err
	}
	switch name {
	case queue.CounterDelivered:
		return cs.Delivered, nil
	case queue.CounterDeadLettered:
		return cs.DeadLettered, nil
	case queue.CounterDuplicates:
		return cs.Duplicates, nil
	case queue.CounterRejected:
		return cs.Rejected, nil
	}
	return 0, fmt.Errorf("counter %q not read by the bench", name)
}

// received reads ep's received count (derived from delivered, dead
// letters and what is stored: see queue.Counters).
func (c *cluster) received(ctx context.Context, ep endpoint) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cs, err := c.q.ReadCounters(ctx, ep.uid)
	return cs.Received, err
}

// waitCounter waits until counter name of ep reaches want; the handler
// and the dispatcher increment counters without waiting for the ack.
func (c *cluster) waitCounter(ctx context.Context, ep endpoint, name string, want int64, d time.Duration) (int64, error) {
	deadline := time.Now().Add(d)
	for {
		n, err := c.counter(ctx, ep, name)
		if err != nil || n >= want || time.Now().After(deadline) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// purge drops ep's stored events, so every ingest run starts on an empty
// queue. Only the events stream: counters and dedupe markers stay, as in
// a receiver that has been running for a while.
func (c *cluster) purge(ctx context.Context, ep endpoint) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := c.q.JS.Stream(ctx, queue.EventsStream)
	if err != nil {
		return err
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(queue.EventsSubject(ep.uid))); err != nil {
		return fmt.Errorf("purging the events of %s: %w", ep.key, err)
	}
	return nil
}

func (c *cluster) stop() {
	if c.nc != nil {
		c.nc.Close()
	}
	c.manager.stop()
	c.receiver.stop()
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			progress("stopping the control plane: %v", err)
		}
	}
}
