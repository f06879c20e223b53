package dispatch

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

// 100,000 events, one in twenty sent twice, stored and delivered through
// two receivers (two connections, two dispatchers sharing the consumer):
// received equals the events stored, delivered equals the events the
// target got, duplicates equals the second copies, and no event reaches
// the target twice.
func TestCountersAreExactAfter100kEventsThroughTwoReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 100,000 events")
	}
	q1, srv := queuetest.Start(t, queue.Options{})
	nc2, err := nats.Connect(srv.ClientURL(), nats.Token(queuetest.Token))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc2.Close)
	q2, err := queue.Attach(context.Background(), nc2, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	tg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get(HeaderDeliveryID)]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(tg.Close)
	reg := registry.New()
	ep := testEndpoint("exact")
	reg.Upsert(ep)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, q := range []*queue.Queue{q1, q2} {
		d := &Dispatcher{Queue: q, Registry: reg, Resolver: fixedResolver{tg.URL}, Log: logr.Discard(),
			Metrics: NewMetrics(prometheus.NewRegistry()), Concurrency: 32}
		wg.Add(1)
		go func() { defer wg.Done(); _ = d.Start(ctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	const events, workers = 100_000, 16
	var stored, dups atomic.Int64
	var send sync.WaitGroup
	for w := 0; w < workers; w++ {
		send.Add(1)
		go func() {
			defer send.Done()
			q := []*queue.Queue{q1, q2}[w%2]
			for i := w; i < events; i += workers {
				copies := 1
				if i%20 == 0 {
					copies = 2
				}
				for c := 0; c < copies; c++ {
					ev := &queue.Event{EndpointUID: ep.UID, Endpoint: "team-a/ep-exact", Provider: "github",
						DeliveryID: fmt.Sprintf("d-%d", i), ReceivedAt: time.Now(), Body: []byte(`{"n":1}`)}
					for {
						ectx, ecancel := context.WithTimeout(context.Background(), 10*time.Second)
						r, err := q.Enqueue(ectx, ev, time.Hour)
						ecancel()
						if err != nil {
							continue // a provider retries a 503
						}
						if r.Duplicate {
							dups.Add(1)
							_ = q.Incr(ep.UID, queue.CounterDuplicates, 1)
						} else {
							stored.Add(1)
						}
						break
					}
				}
			}
		}()
	}
	send.Wait()
	if stored.Load() != events || dups.Load() != events/20 {
		t.Fatalf("stored %d, duplicates %d; want %d and %d", stored.Load(), dups.Load(), events, events/20)
	}
	for _, q := range []*queue.Queue{q1, q2} {
		if err := q.FlushCounters(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := queue.Counters{Received: events, Delivered: events, Duplicates: events / 20}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		c, err := q1.ReadCounters(context.Background(), ep.UID)
		if err != nil {
			t.Fatal(err)
		}
		c.QueuedBytes = 0 // summed asynchronously, not under test here
		if c == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters %+v, want %+v", c, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for _, n := range got {
		if n > 1 {
			twice++
		}
	}
	if len(got) != events || twice != 0 {
		t.Fatalf("target got %d distinct events, %d more than once; want %d, 0", len(got), twice, events)
	}
}
