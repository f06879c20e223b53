package controllers

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

func startCoreNATS(t *testing.T, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	return s
}

// received collects the endpoints the watcher sends within d.
func received(out <-chan event.GenericEvent, d time.Duration) map[types.UID]int {
	got := map[types.UID]int{}
	deadline := time.After(d)
	for {
		select {
		case ev := <-out:
			got[ev.Object.GetUID()]++
		case <-deadline:
			return got
		}
	}
}

// Counter writes while the watcher's connection is away are signals lost:
// after a reconnect every endpoint is refreshed once, and otherwise only
// the signalled one.
func TestCounterWatcherRefreshesEveryEndpointAfterAReconnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := startCoreNATS(t, port)
	t.Cleanup(func() { s.Shutdown() })
	nc, err := nats.Connect(s.ClientURL(), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	scheme := runtime.NewScheme()
	if err := hookv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var objs []client.Object
	for i, uid := range []types.UID{"uid-a", "uid-b", "uid-c"} {
		objs = append(objs, &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: string(rune('a' + i)), UID: uid}})
	}
	k8s := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithIndex(&hookv1.WebhookEndpoint{}, uidIndex, func(o client.Object) []string { return []string{string(o.GetUID())} }).Build()
	out := make(chan event.GenericEvent, 16)
	w := &CounterWatcher{Conn: func(context.Context) (*nats.Conn, error) { return nc, nil }, Client: k8s, Interval: 50 * time.Millisecond, Out: out}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = w.Start(ctx) }()

	// A signal for one endpoint refreshes that one only.
	deadline := time.Now().Add(5 * time.Second)
	var got map[types.UID]int
	for time.Now().Before(deadline) {
		if err := nc.Publish(queue.CounterSubject("uid-b", queue.CounterQueuedBytes), nil); err != nil {
			t.Fatal(err)
		}
		if got = received(out, 200*time.Millisecond); len(got) > 0 {
			break
		}
	}
	if len(got) != 1 || got["uid-b"] == 0 {
		t.Fatalf("after a signal for uid-b the watcher refreshed %v, want uid-b only", got)
	}

	// The server goes away and comes back: the connection reconnects.
	s.Shutdown()
	s.WaitForShutdown()
	s = startCoreNATS(t, port)
	got = received(out, 3*time.Second)
	for _, uid := range []types.UID{"uid-a", "uid-b", "uid-c"} {
		if got[uid] != 1 {
			t.Fatalf("after a reconnect the watcher refreshed %v, want every endpoint once", got)
		}
	}
	if nc.Stats().Reconnects == 0 {
		t.Fatal("the connection did not reconnect")
	}
	// And then nothing more without a signal.
	if got := received(out, 300*time.Millisecond); len(got) != 0 {
		t.Fatalf("without a signal the watcher refreshed %v", got)
	}
}
