package queue

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Counters must equal what happened: 100,000 increments from many
// goroutines, summed and published in batches, are all counted.
func TestCountersAreExactUnderLoad(t *testing.T) {
	q := startQueue(t)
	const workers, each = 50, 2000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_ = q.Incr("uid-a", CounterRejected, 1)
				if i%10 == 0 {
					_ = q.Incr("uid-b", CounterDelivered, 1)
				}
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := q.ReadCounters(ctx, "uid-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.ReadCounters(ctx, "uid-b")
	if err != nil {
		t.Fatal(err)
	}
	if a.Rejected != workers*each || b.Delivered != workers*each/10 {
		t.Fatalf("rejected %d (want %d), delivered %d (want %d)", a.Rejected, workers*each, b.Delivered, workers*each/10)
	}
}

// While the server is gone, increments are kept, not dropped, and counted
// once when it is back, also those whose publish may have reached it.
func TestCounterIncrementsSurviveAServerOutage(t *testing.T) {
	dir := t.TempDir()
	s, err := StartEmbedded(EmbeddedOptions{Host: "127.0.0.1", Port: -1, StoreDir: dir, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	port := s.Addr().(*net.TCPAddr).Port
	nc, err := nats.Connect(s.ClientURL(), nats.Token(testToken), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	q, err := Open(ctx, nc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		_ = q.Incr("uid-o", CounterRejected, 1)
	}
	s.Shutdown()
	s.WaitForShutdown()
	for i := 0; i < 500; i++ {
		_ = q.Incr("uid-o", CounterRejected, 1)
	}
	time.Sleep(500 * time.Millisecond) // flushes fail while the server is down
	s2, err := StartEmbedded(EmbeddedOptions{Host: "127.0.0.1", Port: port, StoreDir: dir, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s2.Shutdown(); s2.WaitForShutdown() }()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := q.Close(cctx); err != nil {
		t.Fatalf("flushing after the outage: %v", err)
	}
	c, err := q.ReadCounters(cctx, "uid-o")
	if err != nil {
		t.Fatal(err)
	}
	if c.Rejected != 1000 {
		t.Fatalf("rejected %d, want 1000", c.Rejected)
	}
}

// Received is what was stored: each delivery once, whatever the number of
// redeliveries, including the copy a receiver stored before it died
// (nothing is counted at ingest, so there is nothing to lose), and events
// leave "pending" for "delivered" or "dead-lettered" without changing it.
func TestReceivedIsEveryStoredEventOnce(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		r, err := q.Enqueue(ctx, &Event{EndpointUID: "uid-n", DeliveryID: "same", ReceivedAt: time.Now(), Body: []byte("x")}, time.Hour)
		if err != nil || r.Duplicate != (i > 0) {
			t.Fatalf("request %d: %+v %v", i, r, err)
		}
	}
	if _, err := q.Enqueue(ctx, &Event{EndpointUID: "uid-n", ReceivedAt: time.Now(), Body: []byte("no id")}, time.Hour); err != nil {
		t.Fatal(err)
	}
	c, _ := q.ReadCounters(ctx, "uid-n")
	if c.Received != 2 || c.Pending != 2 {
		t.Fatalf("counters %+v, want received 2 (both pending)", c)
	}
	// The dispatcher's bookkeeping for one delivered, one dead-lettered
	// and then replayed event; the stream then holds only the replayed one.
	for _, cnt := range []struct {
		name, id string
	}{{CounterDelivered, "1"}, {CounterDeadLettered, "2"}, {CounterReplayed, "dlq-1"}} {
		if _, err := q.CountOnce(ctx, "uid-n", cnt.name, cnt.id, 1); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := q.JS.Stream(ctx, EventsStream)
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(EventsSubject("uid-n")), jetstream.WithPurgeKeep(1)); err != nil {
		t.Fatal(err)
	}
	c, _ = q.ReadCounters(ctx, "uid-n")
	if c.Received != 2 || c.Delivered != 1 || c.DeadLettered != 1 || c.Replayed != 1 || c.Pending != 1 {
		t.Fatalf("counters %+v, want received 2: delivered 1, dead-lettered 1 then replayed, 1 pending", c)
	}
}
