package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

// staleClient serves one endpoint from an old snapshot, as an informer
// cache does until the watch delivers the newer version; every write goes
// to the server (the fake client), which knows better.
type staleClient struct {
	client.Client
	stale *hookv1.WebhookEndpoint
}

func (c staleClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if ep, ok := obj.(*hookv1.WebhookEndpoint); ok && key == client.ObjectKeyFromObject(c.stale) {
		c.stale.DeepCopyInto(ep)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func staleFixture(t *testing.T) (server client.Client, snapshot *hookv1.WebhookEndpoint) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := hookv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	server = fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&hookv1.WebhookEndpoint{}).Build()
	ep := &hookv1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "hook", UID: "uid-1", Finalizers: []string{hookv1.Finalizer}},
		Spec:       hookv1.WebhookEndpointSpec{Provider: hookv1.ProviderGitHub},
	}
	if err := server.Create(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	return server, ep.DeepCopy()
}

// A reconcile that reads the endpoint from a cache that has not yet seen
// its path must not write another one: the provider was given the first.
func TestPathAssignedOnceEvenFromAStaleCache(t *testing.T) {
	ctx := context.Background()
	server, snapshot := staleFixture(t)
	var cur hookv1.WebhookEndpoint
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(server.Get(ctx, client.ObjectKeyFromObject(snapshot), &cur))
	cur.Status.WebhookPath = PathPrefix + "first"
	must(server.Status().Update(ctx, &cur))

	r := &Reconciler{Client: staleClient{Client: server, stale: snapshot}}
	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(snapshot)})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if !res.Requeue { //nolint:staticcheck // Requeue is what asks for the newer version
		t.Errorf("Reconcile from a stale copy = %+v, want a requeue", res)
	}
	must(server.Get(ctx, client.ObjectKeyFromObject(snapshot), &cur))
	if cur.Status.WebhookPath != PathPrefix+"first" {
		t.Fatalf("webhookPath = %q after a reconcile from a stale copy, want the first path %q", cur.Status.WebhookPath, PathPrefix+"first")
	}
}

// The first reconcile of a new endpoint does assign a path.
func TestPathAssignedToANewEndpoint(t *testing.T) {
	ctx := context.Background()
	server, snapshot := staleFixture(t)
	r := &Reconciler{Client: server}
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(snapshot)}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	var cur hookv1.WebhookEndpoint
	if err := server.Get(ctx, client.ObjectKeyFromObject(snapshot), &cur); err != nil {
		t.Fatal(err)
	}
	if len(cur.Status.WebhookPath) <= len(PathPrefix) {
		t.Fatalf("webhookPath = %q, want one assigned under %s", cur.Status.WebhookPath, PathPrefix)
	}
}

type countingReplays struct {
	QueueReader
	replays int
}

func (q *countingReplays) Replay(context.Context, string) (int64, error) {
	q.replays++
	return 3, nil
}

func (q *countingReplays) ReadCounters(context.Context, string) (queue.Counters, error) {
	return queue.Counters{}, nil
}

// A replay token the server's copy has already recorded is not replayed
// again because the cache still shows the copy from before the replay.
func TestReplayTokenCheckedAgainstTheServer(t *testing.T) {
	ctx := context.Background()
	server, snapshot := staleFixture(t)
	var cur hookv1.WebhookEndpoint
	if err := server.Get(ctx, client.ObjectKeyFromObject(snapshot), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Status.Replay = &hookv1.ReplayStatus{Token: "t1", Replayed: 7}
	if err := server.Status().Update(ctx, &cur); err != nil {
		t.Fatal(err)
	}
	q := &countingReplays{}
	r := &Reconciler{Client: staleClient{Client: server, stale: snapshot}, APIReader: server, Queue: q}
	stale := snapshot.DeepCopy()
	stale.Annotations = map[string]string{hookv1.AnnotationReplay: "t1"}
	if err := r.reconcileReplay(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if q.replays != 0 {
		t.Fatalf("replayed %d times a token the server had recorded", q.replays)
	}
	if stale.Status.Replay == nil || stale.Status.Replay.Replayed != 7 {
		t.Fatalf("status.replay = %+v, want the server's record (7 replayed)", stale.Status.Replay)
	}
	// A new token is replayed once.
	stale.Annotations[hookv1.AnnotationReplay] = "t2"
	if err := r.reconcileReplay(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if q.replays != 1 || stale.Status.Replay.Token != "t2" || stale.Status.Replay.Replayed != 3 {
		t.Fatalf("new token: %d replays, status.replay %+v; want 1 replay recording t2 with 3", q.replays, stale.Status.Replay)
	}
}
