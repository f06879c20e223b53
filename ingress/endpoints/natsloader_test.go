package endpoints

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/keyring"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

func edgeEndpoint(name, uid string) *hookv1.WebhookEndpoint {
	ep := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, UID: types.UID(uid), Generation: 1}}
	ep.Spec.Provider = hookv1.ProviderGitHub
	ep.Spec.SecretRef = &hookv1.SecretKeyRef{Name: "signing"}
	ep.Spec.Target = &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "ci", Port: 8080}}
	ep.Status.WebhookPath = "/hook/" + uid
	// Status the registry never reads: it must not reach the entry.
	ep.Status.Conditions = []metav1.Condition{{Type: hookv1.ConditionReady, Status: metav1.ConditionTrue}}
	return ep
}

func startNATSLoader(t *testing.T, open func(context.Context) (*queue.EdgeRegistry, error)) (*NATSLoader, *registry.Registry) {
	t.Helper()
	reg := registry.New()
	l := &NATSLoader{Builder: Builder{Registry: reg}, Open: open, CheckInterval: 300 * time.Millisecond, Log: testr.New(t)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if !l.WaitLoaded(wctx) {
		t.Fatal("the NATS loader did not report loaded within 20s")
	}
	return l, reg
}

func put(t *testing.T, r *queue.EdgeRegistry, ep *hookv1.WebhookEndpoint, keys map[string][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.Put(ctx, queue.NewRegistryEntry(ep, keys)); err != nil {
		t.Fatal(err)
	}
}

func gone(t *testing.T, reg *registry.Registry, ep *hookv1.WebhookEndpoint) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := reg.ByPath(ep.Status.WebhookPath); !ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s is still in the registry", ep.Name)
}

func TestTheNATSLoaderLoadsUpdatesAndDeletesEndpointsFromTheEdgeRegistry(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	ctx := context.Background()
	bucket, err := queue.OpenEdgeRegistry(ctx, q.NC)
	if err != nil {
		t.Fatal(err)
	}
	withKeys, noMirror := edgeEndpoint("gh", "uid-a"), edgeEndpoint("pending", "uid-b")
	put(t, bucket, withKeys, map[string][]byte{keyring.MirrorCurrent: []byte("k1")})
	put(t, bucket, noMirror, nil)

	_, reg := startNATSLoader(t, func(ctx context.Context) (*queue.EdgeRegistry, error) {
		return queue.AttachEdgeRegistry(ctx, q.JS)
	})
	// Loaded means every entry is in the registry, not merely watched.
	e, ok := reg.ByPath(withKeys.Status.WebhookPath)
	if !ok || len(e.Keys) != 1 || string(e.Keys[0]) != "k1" || e.Verifier == nil || e.Key.Name != "gh" {
		t.Fatalf("entry with keys loaded as %+v (found %v)", e, ok)
	}
	if e, ok := reg.ByPath(noMirror.Status.WebhookPath); !ok || len(e.Keys) != 0 || e.KeysError == "" {
		t.Fatalf("entry without a mirror loaded as %+v (found %v); want routable with a KeysError (503 SecretUnavailable)", e, ok)
	}

	// A rotation: both keys until the previous one expires, as in-cluster.
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	put(t, bucket, withKeys, map[string][]byte{keyring.MirrorCurrent: []byte("k2"), keyring.MirrorPrevious: []byte("k1"),
		keyring.MirrorPreviousExpiresAt: []byte(expires.Format(time.RFC3339))})
	eventually(t, reg, withKeys, "the rotated keys", func(e *registry.Endpoint) bool {
		keys := e.ValidKeys(time.Now())
		return len(keys) == 2 && bytes.Equal(keys[0], []byte("k2")) && bytes.Equal(keys[1], []byte("k1")) && e.PreviousExpires.Equal(expires)
	})
	// The mirror arrives for the pending one.
	put(t, bucket, noMirror, map[string][]byte{keyring.MirrorCurrent: []byte("k3")})
	eventually(t, reg, noMirror, "the mirrored key", func(e *registry.Endpoint) bool { return len(e.Keys) == 1 && e.KeysError == "" })

	// Deleted, and re-created under the same name with a new UID.
	if err := bucket.Delete(ctx, "uid-a"); err != nil {
		t.Fatal(err)
	}
	gone(t, reg, withKeys)
	again := edgeEndpoint("pending", "uid-c")
	put(t, bucket, again, map[string][]byte{keyring.MirrorCurrent: []byte("k4")})
	if err := bucket.Delete(ctx, "uid-b"); err != nil {
		t.Fatal(err)
	}
	eventually(t, reg, again, "the re-created endpoint", func(e *registry.Endpoint) bool { return e.UID == "uid-c" })
	gone(t, reg, noMirror)
	if n := len(reg.List()); n != 1 {
		t.Fatalf("registry holds %d endpoints, want 1", n)
	}
}

func TestAStatusOnlyChangeDoesNotRewriteTheEdgeRegistryEntry(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	ctx := context.Background()
	bucket, err := queue.OpenEdgeRegistry(ctx, q.NC)
	if err != nil {
		t.Fatal(err)
	}
	ep := edgeEndpoint("gh", "uid-a")
	keys := map[string][]byte{keyring.MirrorCurrent: []byte("k1")}
	if wrote, err := bucket.Put(ctx, queue.NewRegistryEntry(ep, keys)); err != nil || !wrote {
		t.Fatalf("first put: wrote %v, %v", wrote, err)
	}
	ep.Status.Deliveries = &hookv1.DeliveryCounters{Received: 42}
	ep.Status.ObservedGeneration = 7
	if wrote, err := bucket.Put(ctx, queue.NewRegistryEntry(ep, keys)); err != nil || wrote {
		t.Fatalf("status-only change: wrote %v, %v; want no write", wrote, err)
	}
}

// With the leaf link down the edge keeps the registry it has; changes
// made meanwhile arrive once the link is back.
func TestTheNATSLoaderAtTheEdgeCatchesUpAfterTheLeafLinkReturns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JetStream cluster and an edge server")
	}
	e := queuetest.StartEdge(t, 3)
	ctx := context.Background()
	hubNC := e.Hub.Connect(t, 0)
	if _, err := queue.Open(ctx, hubNC, queue.Options{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	bucket, err := queue.OpenEdgeRegistry(ctx, hubNC)
	if err != nil {
		t.Fatal(err)
	}
	a, b := edgeEndpoint("a", "uid-a"), edgeEndpoint("b", "uid-b")
	put(t, bucket, a, map[string][]byte{keyring.MirrorCurrent: []byte("k1")})
	edgeNC := e.Connect(t)
	_, reg := startNATSLoader(t, func(ctx context.Context) (*queue.EdgeRegistry, error) {
		js, err := queue.DomainJetStream(edgeNC, queuetest.Domain)
		if err != nil {
			return nil, err
		}
		return queue.AttachEdgeRegistry(ctx, js)
	})
	if _, ok := reg.ByPath(a.Status.WebhookPath); !ok {
		t.Fatal("endpoint a not loaded at the edge")
	}

	e.Link.Cut()
	e.WaitUnlinked(t, 10*time.Second)
	put(t, bucket, a, map[string][]byte{keyring.MirrorCurrent: []byte("k2")})
	put(t, bucket, b, map[string][]byte{keyring.MirrorCurrent: []byte("kb")})
	// Long enough for the watch's heartbeats and checks to fail.
	time.Sleep(3 * time.Second)
	if e, ok := reg.ByPath(a.Status.WebhookPath); !ok || string(e.Keys[0]) != "k1" {
		t.Fatalf("with the link down the edge lost or changed endpoint a: %+v", e)
	}
	if err := e.Link.Restore(); err != nil {
		t.Fatal(err)
	}
	eventually(t, reg, a, "the key written while the link was down", func(e *registry.Endpoint) bool { return string(e.Keys[0]) == "k2" })
	eventually(t, reg, b, "the endpoint created while the link was down", func(e *registry.Endpoint) bool { return len(e.Keys) == 1 })
	if err := bucket.Delete(ctx, "uid-a"); err != nil {
		t.Fatal(err)
	}
	gone(t, reg, a)
}
