package edge_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/dispatch"
	"github.com/hookgate/hookgate/ingress/edge"
	"github.com/hookgate/hookgate/ingress/endpoints"
	"github.com/hookgate/hookgate/ingress/registry"
	ingserver "github.com/hookgate/hookgate/ingress/server"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/keyring"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

type fixedResolver string

func (f fixedResolver) Resolve(context.Context, string, registry.Target) (string, error) {
	return string(f), nil
}

// sink is the target in the private cluster: it records delivery ids.
type sink struct {
	mu  sync.Mutex
	ids map[string]int
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	s.ids[r.Header.Get(verify.GitHubDeliveryHeader)]++
	s.mu.Unlock()
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

func post(t *testing.T, url, id string, secret []byte) int {
	t.Helper()
	body := fmt.Appendf(nil, `{"id":%q}`, id)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set(verify.GitHubDeliveryHeader, id)
	req.Header.Set(verify.GitHubHookIDHeader, "7")
	req.Header.Set(verify.GitHubSignature256Header, verify.SignGitHub(body, secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// The whole edge path in one process: a webhook posted to the edge
// receiver is verified with keys from the edge registry, stored in the
// private cluster's stream through the leaf link, and delivered by a
// dispatcher in the private cluster. With the link cut every request is
// answered 503 (none 2xx), the receiver stays up, and once the link is
// back the provider's retries are stored and delivered: every id
// answered 2xx is delivered.
func TestAnEdgeReceiverStoresThroughTheLeafLinkAndAnswers503WhileItIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JetStream cluster and an edge server")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := queuetest.StartEdge(t, 3)
	hubNC := e.Hub.Connect(t, 0)
	hubQ, err := queue.Open(ctx, hubNC, queue.Options{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}

	// The private side: an endpoint, its mirror's keys in the edge
	// registry (the manager's job), and a dispatcher with a target.
	secret := []byte("edge-test-secret")
	ep := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "gh", UID: "uid-edge", Generation: 1}}
	ep.Spec.Provider = hookv1.ProviderGitHub
	ep.Spec.SecretRef = &hookv1.SecretKeyRef{Name: "signing"}
	ep.Spec.Target = &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "ci", Port: 8080}}
	ep.Status.WebhookPath = "/hook/0123456789abcdef0123456789abcdef"
	keys := map[string][]byte{keyring.MirrorCurrent: secret}
	bucket, err := queue.OpenEdgeRegistry(ctx, hubNC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bucket.Put(ctx, queue.NewRegistryEntry(ep, keys)); err != nil {
		t.Fatal(err)
	}
	target := &sink{ids: map[string]int{}}
	ts := httptest.NewServer(target)
	defer ts.Close()
	hubReg := registry.New()
	endpoints.Builder{Registry: hubReg}.Apply(ctx, ep, func(context.Context) (map[string][]byte, bool, error) { return keys, true, nil })
	d := &dispatch.Dispatcher{Queue: hubQ, Registry: hubReg, Resolver: fixedResolver(ts.URL), Log: testr.New(t),
		Concurrency: 4, Metrics: dispatch.NewMetrics(prometheus.NewRegistry())}
	go func() { _ = d.Start(ctx) }()

	// The edge receiver, as `hookgate receiver --registry=nats` runs it.
	edgeNC := e.Connect(t)
	var srv *ingserver.Server
	var srvMu sync.Mutex
	probe := freeAddr(t)
	r := &edge.Receiver{
		Open: func(ctx context.Context) (*queue.Queue, error) {
			return queue.AttachDomain(ctx, edgeNC, queuetest.Domain, queue.Options{})
		},
		Build: func(q *queue.Queue) ([]edge.Runnable, func() error, error) {
			reg := registry.New()
			loader := &endpoints.NATSLoader{Builder: endpoints.Builder{Registry: reg}, Log: testr.New(t),
				Open: func(ctx context.Context) (*queue.EdgeRegistry, error) {
					js, err := queue.DomainJetStream(edgeNC, queuetest.Domain)
					if err != nil {
						return nil, err
					}
					return queue.AttachEdgeRegistry(ctx, js)
				}}
			h := &ingserver.Handler{Registry: reg, Store: q, Log: testr.New(t), Metrics: ingserver.NewMetrics(prometheus.NewRegistry())}
			s := &ingserver.Server{Handler: h, Addr: "127.0.0.1:0", WaitForSync: loader.WaitLoaded, Log: testr.New(t)}
			srvMu.Lock()
			srv = s
			srvMu.Unlock()
			return []edge.Runnable{loader, s}, func() error { return s.Ready(nil) }, nil
		},
		ProbeAddr: probe, Log: testr.New(t),
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	ready := func() bool {
		resp, err := http.Get("http://" + probe + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	if !waitFor(30*time.Second, ready) {
		t.Fatal("edge receiver not ready within 30s")
	}
	srvMu.Lock()
	url := "http://" + srv.BoundAddr("public") + ep.Status.WebhookPath
	srvMu.Unlock()

	const before, during = 20, 10
	for i := range before {
		if code := post(t, url, "before-"+strconv.Itoa(i), secret); code != 200 {
			t.Fatalf("delivery %d with the link up: %d", i, code)
		}
	}
	if !waitFor(30*time.Second, func() bool { return target.count() == before }) {
		t.Fatalf("the target got %d of %d events stored at the edge", target.count(), before)
	}

	e.Link.Cut()
	e.WaitUnlinked(t, 10*time.Second)
	for i := range during {
		if code := post(t, url, "during-"+strconv.Itoa(i), secret); code != http.StatusServiceUnavailable {
			t.Fatalf("delivery %d with the link cut: %d, want 503", i, code)
		}
	}
	if !ready() {
		t.Fatal("the edge receiver went unready with the leaf link down; it should stay up and answer 503")
	}
	if err := e.Link.Restore(); err != nil {
		t.Fatal(err)
	}
	// The provider retries each until 2xx.
	for i := range during {
		id := "during-" + strconv.Itoa(i)
		if !waitFor(30*time.Second, func() bool { return post(t, url, id, secret) == 200 }) {
			t.Fatalf("%s never answered 2xx after the link returned", id)
		}
	}
	if !waitFor(30*time.Second, func() bool { return target.count() == before+during }) {
		t.Fatalf("the target got %d of %d events", target.count(), before+during)
	}
	target.mu.Lock()
	for id, n := range target.ids {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	target.mu.Unlock()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("edge receiver: %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	addr := s.Listener.Addr().String()
	s.Close()
	return addr
}
