package queue

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startQueue runs a real embedded JetStream in a temp dir.
func startQueue(t *testing.T) *Queue { return startQueueWith(t, Options{}) }

func startQueueWith(t *testing.T, opts Options) *Queue {
	t.Helper()
	s, err := StartEmbedded(EmbeddedOptions{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir(), Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL(), nats.Token(testToken))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	q, err := Open(context.Background(), nc, opts)
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
	s, err := q.JS.Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	marker := func() error { _, err := s.GetLastMsgForSubject(ctx, SeenSubject("uid-ttl", "d")); return err }
	deadline := time.Now().Add(5 * time.Second)
	for marker() != nil {
		if time.Now().After(deadline) {
			t.Fatal("marker missing 5s after enqueue")
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if marker() != nil {
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
	nc2, err := nats.Connect(q.NC.ConnectedUrl(), nats.Token(testToken))
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
	if err := q.FlushCounters(ctx); err != nil {
		t.Fatal(err)
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
		if err := q.IncrSync(ctx, uid, CounterDelivered, 1); err != nil {
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
	if kept.Received != 2 || kept.Delivered != 1 || kept.Pending != 1 {
		t.Fatalf("other endpoint lost data: %+v", kept)
	}
	st, _ := q.ReadState(ctx, "gone")
	if st.LastDelivery != nil {
		t.Fatal("purged endpoint still has delivery state")
	}
	if markerOf(t, q, "gone", "d") != nil {
		t.Fatal("purged endpoint still has a dedupe marker")
	}
	if markerOf(t, q, "kept", "d") == nil {
		t.Fatal("other endpoint lost its dedupe marker")
	}
}

func TestUIDFromCounterSubject(t *testing.T) {
	if uid, ok := UIDFromCounterSubject(CounterSubject("abc", CounterDelivered)); !ok || uid != "abc" {
		t.Fatalf("got %q %v", uid, ok)
	}
	if uid, ok := UIDFromCounterSubject(CounterSubject(TargetKey("abc", "orders"), CounterDelivered)); !ok || uid != "abc" {
		t.Fatalf("a target's counter gave %q %v, want its endpoint's UID", uid, ok)
	}
	if uid, ok := UIDFromCounterSubject(TallySubject(TargetKey("abc", "orders"))); !ok || uid != "abc" {
		t.Fatalf("a target's tally gave %q %v, want its endpoint's UID", uid, ok)
	}
	if uid, ok := UIDFromCounterSubject("$KV." + StateBucket + "." + TargetKey("abc", "orders") + ".target"); !ok || uid != "abc" {
		t.Fatalf("a target's shared state gave %q %v, want its endpoint's UID", uid, ok)
	}
	if _, ok := UIDFromCounterSubject("$KV." + StateBucket + ".abc.lastFailure"); ok {
		t.Fatal("a last failure, written with every retry counter already, counted as a status signal")
	}
	if _, ok := UIDFromCounterSubject("other.subject"); ok {
		t.Fatal("accepted a foreign subject")
	}
}

func TestReplayMovesDeadLettersBackInOrder(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	for i, body := range []string{"a", "b", "c"} {
		h := nats.Header{}
		h.Set(HeaderOrigPrefix+"X-Github-Event", "push")
		h.Set(HeaderDelivery, "d"+body)
		if err := q.DeadLetter(ctx, "u", []byte(body), h, 3+i, "HTTP500: boom"); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.DeadLetter(ctx, "other", []byte("x"), nats.Header{}, 1, "e"); err != nil {
		t.Fatal(err)
	}
	n, err := q.Replay(ctx, "u")
	if err != nil || n != 3 {
		t.Fatalf("Replay = %d, %v; want 3", n, err)
	}
	s, _ := q.JS.Stream(ctx, EventsStream)
	var got []string
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(HeaderLastError) != "" || m.Header.Get(HeaderAttempts) != "" {
			t.Fatal("replayed event still carries its dead-letter headers")
		}
		if m.Header.Get(HeaderOrigPrefix+"X-Github-Event") != "push" {
			t.Fatal("replayed event lost its original headers")
		}
		got = append(got, string(m.Data))
	}
	if strings.Join(got, "") != "abc" {
		t.Fatalf("replayed out of order: %v", got)
	}
	dlq, _ := q.JS.Stream(ctx, DLQStream)
	info, _ := dlq.Info(ctx, jetstream.WithSubjectFilter(DLQSubject("u")))
	if info.State.Subjects[DLQSubject("u")] != 0 {
		t.Fatal("replayed dead letters are still in the dead-letter stream")
	}
	if n, err := q.Replay(ctx, "u"); err != nil || n != 0 {
		t.Fatalf("second replay = %d, %v; want 0", n, err)
	}
	info, _ = dlq.Info(ctx, jetstream.WithSubjectFilter(DLQSubject("other")))
	if info.State.Subjects[DLQSubject("other")] != 1 {
		t.Fatal("another endpoint's dead letter was touched")
	}
}
