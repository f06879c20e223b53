package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

// startEdgeQueues is a hub cluster with its layout (R3) and a queue
// attached from the edge through the leaf link.
func startEdgeQueues(t *testing.T) (*queuetest.Edge, *queue.Queue, *queue.Queue) {
	t.Helper()
	e := queuetest.StartEdge(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hub, err := queue.Open(ctx, e.Hub.Connect(t, 0), queue.Options{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	enc := e.Connect(t)
	edge, err := queue.WaitForLayout(ctx, func(ctx context.Context) (*queue.Queue, error) {
		return queue.AttachDomain(ctx, enc, queuetest.Domain, queue.Options{})
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, hub, edge
}

func edgeEvent(uid, id string, guarded bool) *queue.Event {
	return &queue.Event{EndpointUID: uid, Endpoint: "ns/ep", Provider: "github", DeliveryID: id,
		ReceivedAt: time.Now(), Body: []byte(`{"id":"` + id + `"}`), ReplayGuard: guarded}
}

func storedOn(t *testing.T, q *queue.Queue, uid string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := q.JS.Stream(ctx, queue.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(queue.EventsSubject(uid)))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[queue.EventsSubject(uid)]
}

func TestAnEdgeQueueStoresInTheHubStreamOnceAndDeduplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JetStream cluster and an edge server")
	}
	_, hub, edge := startEdgeQueues(t)
	ctx := context.Background()
	const uid = "edge-uid-1"
	for i := range 20 {
		// Every third a replay-guarded provider's, whose marker the
		// request waits for.
		ev := edgeEvent(uid, fmt.Sprintf("d-%d", i), i%3 == 0)
		r, err := edge.Enqueue(ctx, ev, time.Hour)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if r.Duplicate {
			t.Fatalf("event %d: a first delivery answered duplicate", i)
		}
		again, err := edge.Enqueue(ctx, edgeEvent(uid, ev.DeliveryID, ev.ReplayGuard), time.Hour)
		if err != nil || !again.Duplicate {
			t.Fatalf("event %d: redelivery: duplicate %v, %v", i, again.Duplicate, err)
		}
	}
	// Three hub servers hold a leaf connection each: the edge must still
	// store every event once, not once per connection.
	if n := storedOn(t, hub, uid); n != 20 {
		t.Fatalf("hub stream holds %d events, want 20", n)
	}
}

func TestAnEdgeQueueFailsFastWhileTheLeafLinkIsCutAndRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JetStream cluster and an edge server")
	}
	e, hub, edge := startEdgeQueues(t)
	ctx := context.Background()
	const uid = "edge-uid-2"
	if _, err := edge.Enqueue(ctx, edgeEvent(uid, "before", false), time.Hour); err != nil {
		t.Fatal(err)
	}
	e.Link.Cut()
	e.WaitUnlinked(t, 10*time.Second)
	start := time.Now()
	_, err := edge.Enqueue(ctx, edgeEvent(uid, "during", false), time.Hour)
	if !errors.Is(err, queue.ErrUnavailable) {
		t.Fatalf("enqueue with the link cut: %v, want ErrUnavailable", err)
	}
	t.Logf("refused after %s: %v", time.Since(start), err)
	if err := e.Link.Restore(); err != nil {
		t.Fatal(err)
	}
	e.WaitLinked(t, 30*time.Second)
	// Interest crosses the link again within moments of the reconnect.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = edge.Enqueue(ctx, edgeEvent(uid, "during", false), time.Hour)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("enqueue after the link returned: %v", err)
	}
	if n := storedOn(t, hub, uid); n != 2 {
		t.Fatalf("hub stream holds %d events, want 2", n)
	}
}
