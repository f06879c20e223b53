package queue

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// startQueue runs a real embedded JetStream in a temp dir.
func startQueue(t *testing.T) *Queue {
	t.Helper()
	s, err := StartEmbedded(EmbeddedOptions{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	q, err := Open(context.Background(), nc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestEnqueueStoresOnceAndRecognisesRedeliveries(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	ev := &Event{EndpointUID: "uid-1", Endpoint: "ns/a", Provider: "github", DeliveryID: "d-1", ReceivedAt: time.Now(),
		Header: map[string][]string{"X-Github-Event": {"push"}}, Body: []byte(`{"a":1}`)}
	r1, err := q.Enqueue(ctx, ev, time.Hour)
	if err != nil || r1.Duplicate {
		t.Fatalf("first enqueue: %+v, %v", r1, err)
	}
	r2, err := q.Enqueue(ctx, ev, time.Hour)
	if err != nil || !r2.Duplicate {
		t.Fatalf("redelivery was not recognised: %+v, %v", r2, err)
	}
	other := *ev
	other.DeliveryID = "d-2"
	if r3, err := q.Enqueue(ctx, &other, time.Hour); err != nil || r3.Duplicate {
		t.Fatalf("a new delivery id was treated as a duplicate: %+v, %v", r3, err)
	}
	noID := *ev
	noID.DeliveryID = ""
	for i := 0; i < 2; i++ {
		if r, err := q.Enqueue(ctx, &noID, time.Hour); err != nil || r.Duplicate {
			t.Fatalf("an event without delivery id was deduplicated: %+v, %v", r, err)
		}
	}
	c, err := q.ReadCounters(ctx, "uid-1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Pending != 4 {
		t.Fatalf("pending = %d, want 4 stored events", c.Pending)
	}
}

func TestDedupeMarkerExpiresWithTheWindow(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	ev := &Event{EndpointUID: "uid-ttl", DeliveryID: "d", ReceivedAt: time.Now(), Body: []byte("x")}
	if _, err := q.Enqueue(ctx, ev, time.Second); err != nil {
		t.Fatal(err)
	}
	// The stream's own 2-minute Nats-Msg-Id window would still catch a
	// re-publish, so check the marker itself.
	key := dedupeKey("uid-ttl", "d")
	if _, err := q.dedupe.Get(ctx, key); err != nil {
		t.Fatalf("marker missing right after enqueue: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := q.dedupe.Get(ctx, key); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dedupe marker outlived its 1s window by 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestCountersAddUpAcrossConnections(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	nc2, err := nats.Connect(q.NC.ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	q2, err := Attach(ctx, nc2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := q.IncrSync(ctx, "u", CounterDelivered, 1); err != nil {
			t.Fatal(err)
		}
		if err := q2.IncrSync(ctx, "u", CounterDelivered, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Incr("u", CounterRejected, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-q.JS.PublishAsyncComplete():
	case <-time.After(5 * time.Second):
		t.Fatal("async counter publish not acknowledged")
	}
	c, err := q2.ReadCounters(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if c.Delivered != 15 || c.Rejected != 1 {
		t.Fatalf("counters = %+v, want delivered 15 rejected 1", c)
	}
}

func TestPurgeRemovesEverythingOfOneEndpointOnly(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	for _, uid := range []string{"gone", "kept"} {
		if _, err := q.Enqueue(ctx, &Event{EndpointUID: uid, DeliveryID: "d", ReceivedAt: time.Now(), Body: []byte("x")}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := q.IncrSync(ctx, uid, CounterReceived, 1); err != nil {
			t.Fatal(err)
		}
		if err := q.RecordDelivery(ctx, uid, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Purge(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	gone, _ := q.ReadCounters(ctx, "gone")
	kept, _ := q.ReadCounters(ctx, "kept")
	if gone != (Counters{}) {
		t.Fatalf("purged endpoint still has %+v", gone)
	}
	if kept.Received != 1 || kept.Pending != 1 {
		t.Fatalf("other endpoint lost data: %+v", kept)
	}
	st, _ := q.ReadState(ctx, "gone")
	if st.LastDelivery != nil {
		t.Fatal("purged endpoint still has delivery state")
	}
	if _, err := q.dedupe.Get(ctx, dedupeKey("gone", "d")); err == nil {
		t.Fatal("purged endpoint still has a dedupe marker")
	}
	if _, err := q.dedupe.Get(ctx, dedupeKey("kept", "d")); err != nil {
		t.Fatalf("other endpoint lost its dedupe marker: %v", err)
	}
}

func TestUIDFromCounterSubject(t *testing.T) {
	if uid, ok := UIDFromCounterSubject(CounterSubject("abc", CounterDelivered)); !ok || uid != "abc" {
		t.Fatalf("got %q %v", uid, ok)
	}
	if _, ok := UIDFromCounterSubject("other.subject"); ok {
		t.Fatal("accepted a foreign subject")
	}
}
