package queue

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
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
				_ = q.Incr("uid-a", CounterReceived, 1)
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
	if a.Received != workers*each || b.Delivered != workers*each/10 {
		t.Fatalf("received %d (want %d), delivered %d (want %d)", a.Received, workers*each, b.Delivered, workers*each/10)
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
		_ = q.Incr("uid-o", CounterReceived, 1)
	}
	s.Shutdown()
	s.WaitForShutdown()
	for i := 0; i < 500; i++ {
		_ = q.Incr("uid-o", CounterReceived, 1)
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
	if c.Received != 1000 {
		t.Fatalf("received %d, want 1000", c.Received)
	}
}

// A receiver that stored an event and died before counting it: the
// provider's retry is answered duplicate, and counts the event as
// received; a second retry is a duplicate and counts nothing more.
func TestAnEventStoredByARequestThatDiedIsCountedByItsRetry(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	ev := &Event{EndpointUID: "uid-c", DeliveryID: "d-crash", ReceivedAt: time.Now(), Body: []byte("{}")}
	first, err := q.Enqueue(ctx, ev, time.Hour)
	if err != nil || first.Duplicate {
		t.Fatalf("first store: %+v %v", first, err)
	}
	// ...the process dies here, before CountReceived.
	retry, err := q.Enqueue(ctx, ev, time.Hour)
	if err != nil || !retry.Duplicate || retry.Sequence != first.Sequence {
		t.Fatalf("retry: %+v %v, want a duplicate of sequence %d", retry, err, first.Sequence)
	}
	dup, err := q.CountReceived(ctx, "uid-c", retry)
	if err != nil || dup {
		t.Fatalf("the retry after the crash: duplicate=%v %v, want counted as received", dup, err)
	}
	again, _ := q.Enqueue(ctx, ev, time.Hour)
	dup, err = q.CountReceived(ctx, "uid-c", again)
	if err != nil || !dup {
		t.Fatalf("a later retry: duplicate=%v %v, want a duplicate", dup, err)
	}
	if err := q.FlushCounters(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := q.ReadCounters(ctx, "uid-c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Received != 1 {
		t.Fatalf("received %d, want 1", c.Received)
	}
}

// The normal path: counted once, whatever the number of redeliveries.
func TestReceivedIsCountedOncePerStoredEvent(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		r, err := q.Enqueue(ctx, &Event{EndpointUID: "uid-n", DeliveryID: "same", ReceivedAt: time.Now(), Body: []byte("x")}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		dup, err := q.CountReceived(ctx, "uid-n", r)
		if err != nil || dup != (i > 0) {
			t.Fatalf("request %d: duplicate=%v %v", i, dup, err)
		}
	}
	c, _ := q.ReadCounters(ctx, "uid-n")
	if c.Received != 1 {
		t.Fatalf("received %d, want 1", c.Received)
	}
}
