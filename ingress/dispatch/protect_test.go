package dispatch

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/queue"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// serviceResolver sends each target Service to its own test server.
type serviceResolver map[string]string

func (s serviceResolver) Resolve(_ context.Context, _ string, t registry.Target) (string, error) {
	if base, ok := s[t.Service]; ok {
		return base, nil
	}
	return "", fmt.Errorf("no Service %q", t.Service)
}

// twoTargets is an endpoint fanning out to targets a and b.
func twoTargets(uid string) *registry.Endpoint {
	ep := testEndpoint(uid)
	a := *ep.Targets[0]
	a.Name, a.Service, a.Key = "a", "svc-a", queue.TargetKey(uid, "a")
	b := a
	b.Name, b.Service, b.Key = "b", "svc-b", queue.TargetKey(uid, "b")
	ep.Targets = []*registry.Target{&a, &b}
	return ep
}

func TestFanoutGivesEachTargetItsOwnQueue(t *testing.T) {
	q := startQueue(t)
	good := newTarget(t, ok)
	bad := newTarget(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	reg := registry.New()
	ep := twoTargets("fan")
	// b fails slowly: three attempts a second apart.
	ep.Targets[1].MaxAttempts, ep.Targets[1].BackoffInitial, ep.Targets[1].BackoffMax = 3, time.Second, time.Second
	reg.Upsert(ep)
	const n = 5
	for i := range n {
		enqueue(t, q, event(ep.UID, "d-"+strconv.Itoa(i)))
	}
	startDispatcher(t, q, reg, good, func(d *Dispatcher) {
		d.Resolver = serviceResolver{"svc-a": good.srv.URL, "svc-b": bad.srv.URL}
	})

	// a has everything before b has had its second attempts: b's failures
	// do not hold a up.
	countersReach(t, q, ep.Targets[0].Key, queue.Counters{Received: n, Delivered: n})
	if got := len(bad.received()); got > 2*n {
		t.Errorf("b had %d attempts by the time a had all %d events; its failures held a up", got, n)
	}
	countersReach(t, q, ep.Targets[1].Key, queue.Counters{Received: n, Retries: 2 * n, DeadLettered: n})
	// The endpoint's own queue counts the events copied to the targets.
	countersReach(t, q, ep.UID, queue.Counters{Received: n, Delivered: n})
	if got := len(good.received()); got != n {
		t.Errorf("a received %d requests, want each of the %d events once", got, n)
	}
	seen := map[string]bool{}
	for _, c := range good.received() {
		seen[c.header.Get(HeaderDeliveryID)] = true
		if want := `{"ref":"refs/heads/main","delivery":"` + c.header.Get(HeaderDeliveryID) + `"}`; string(c.body) != want {
			t.Errorf("a got body %q", c.body)
		}
	}
	if len(seen) != n {
		t.Errorf("a received delivery ids %v, want %d distinct", seen, n)
	}
	dlq, err := q.JS.Stream(context.Background(), queue.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dlq.GetLastMsgForSubject(context.Background(), queue.DLQSubject(ep.Targets[1].Key)); err != nil {
		t.Errorf("b's dead letters are not under its own key: %v", err)
	}
}

func TestOpenCircuitHoldsEventsWithoutAttemptsUntilAProbeSucceeds(t *testing.T) {
	q := startQueue(t)
	var down atomic.Bool
	down.Store(true)
	tg := newTarget(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	reg := registry.New()
	ep := testEndpoint("cb")
	tp := ep.Targets[0]
	tp.MaxAttempts, tp.BackoffInitial, tp.BackoffMax = 0, 50*time.Millisecond, 100*time.Millisecond
	tp.Breaker = registry.Breaker{Enabled: true, ConsecutiveFailures: 3, OpenFor: 2 * time.Second}
	reg.Upsert(ep)
	const n = 20
	for i := range n {
		enqueue(t, q, event(ep.UID, "d-"+strconv.Itoa(i)))
	}
	d := startDispatcher(t, q, reg, tg, func(d *Dispatcher) { d.Concurrency = 1 })

	eventually(t, 10*time.Second, func() error {
		st, _, err := q.TargetState(context.Background(), ep.UID)
		if err != nil || st.Circuit != queue.CircuitOpen {
			return fmt.Errorf("circuit = %+v, %v; want open", st, err)
		}
		if st.Reason != "HTTP502" {
			return fmt.Errorf("circuit opened for %q, want HTTP502", st.Reason)
		}
		return nil
	})
	opened := len(tg.received())
	// Open for 2s, then one probe, which fails and opens it again: over
	// 3s at most one more attempt reaches the target.
	time.Sleep(3 * time.Second)
	during := len(tg.received()) - opened
	if opened > 4 || during > 2 {
		t.Errorf("target had %d attempts before the circuit opened and %d in the 3s after; an open circuit should send only probes", opened, during)
	}
	if counterValue(t, d.Metrics.Held.WithLabelValues(ep.Name(), "sink", "open")) == 0 {
		t.Error("no event was counted as held by the open circuit")
	}
	down.Store(false)
	eventually(t, 15*time.Second, func() error {
		if c := readCounters(t, q, ep.UID); c.Delivered != n || c.Pending != 0 {
			return fmt.Errorf("counters %+v, want all %d delivered", c, n)
		}
		return nil
	})
	st, _, err := q.TargetState(context.Background(), ep.UID)
	if err != nil || st.Circuit != "" {
		t.Errorf("circuit = %+v, %v after the target recovered; want closed", st, err)
	}
	// Every failed attempt was an event's real attempt; none was lost to
	// the open circuit.
	if c := readCounters(t, q, ep.UID); c.Retries != int64(len(tg.received())-n) {
		t.Errorf("%d retries counted for %d attempts at %d events", c.Retries, len(tg.received()), n)
	}
}

func TestTooManyRequestsPausesTheTarget(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	reg := registry.New()
	ep := testEndpoint("slow")
	reg.Upsert(ep)
	const n = 4
	for i := range n {
		enqueue(t, q, event(ep.UID, "d-"+strconv.Itoa(i)))
	}
	startDispatcher(t, q, reg, tg, func(d *Dispatcher) { d.Concurrency = 1 })
	countersReach(t, q, ep.UID, queue.Counters{Received: n, Delivered: n, Retries: 1})
	calls := tg.received()
	// Nothing, not even the other events, went to the target in the two
	// seconds it asked for (less the second of jitter on the first).
	for _, c := range calls[1:] {
		if gap := c.at.Sub(calls[0].at); gap < 1900*time.Millisecond {
			t.Errorf("a request came %s after the 429 with Retry-After: 2", gap)
		}
	}
}

func TestRateLimitIsSharedBetweenReplicas(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, ok)
	reg := registry.New()
	ep := testEndpoint("rate")
	ep.Targets[0].RequestsPerSecond = 10
	reg.Upsert(ep)
	const n = 40
	for i := range n {
		enqueue(t, q, event(ep.UID, "d-"+strconv.Itoa(i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var members []*queue.Members
	for _, id := range []string{"replica-1", "replica-2"} {
		m, err := q.JoinMembers(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, m)
	}
	// Steady state: each has seen the other (a replica that joins later is
	// seen within a watch update; until then the sum may exceed the limit).
	eventually(t, 5*time.Second, func() error {
		if a, b := members[0].Count(), members[1].Count(); a != 2 || b != 2 {
			return fmt.Errorf("replicas see %d and %d replicas", a, b)
		}
		return nil
	})
	for i, id := range []string{"replica-1", "replica-2"} {
		startDispatcher(t, q, reg, tg, func(d *Dispatcher) { d.ID, d.Members = id, members[i] })
	}
	countersReach(t, q, ep.UID, queue.Counters{Received: n, Delivered: n})
	calls := tg.received()
	// In any one second, the two replicas together sent at most the
	// limit (each its half, paced), give or take the second either
	// replica counted itself alone at start.
	worst := 0
	for i := range calls {
		j := i
		for j < len(calls) && calls[j].at.Sub(calls[i].at) < time.Second {
			j++
		}
		worst = max(worst, j-i)
	}
	if worst > 12 {
		t.Errorf("%d requests within one second from two replicas, limit 10 per second", worst)
	}
}

func TestGateFollowsItsLimit(t *testing.T) {
	g := newGate(2)
	ctx := context.Background()
	if !g.acquire(ctx) || !g.acquire(ctx) {
		t.Fatal("two slots of two not granted")
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if g.acquire(short) {
		t.Fatal("a third slot of two was granted")
	}
	got := make(chan bool)
	go func() { got <- g.acquire(ctx) }()
	g.setLimit(3)
	if !<-got {
		t.Fatal("raising the limit did not let a waiter in")
	}
	g.setLimit(1)
	g.release()
	g.release()
	short2, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if g.acquire(short2) {
		t.Fatal("a slot was granted with 1 in use and a limit of 1")
	}
	g.release()
	if !g.acquire(ctx) {
		t.Fatal("a free slot was refused")
	}
}

// bodyObjects is how many bodies stored by reference the bucket holds.
func bodyObjects(t *testing.T, q *queue.Queue) int {
	t.Helper()
	obs, err := q.JS.ObjectStore(context.Background(), queue.BodiesBucket)
	if err != nil {
		t.Fatal(err)
	}
	list, err := obs.List(context.Background())
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

func TestLargeBodiesAreDeliveredByteForByteAndRemovedAfterwards(t *testing.T) {
	q := startQueue(t)
	a, b := newTarget(t, ok), newTarget(t, ok)
	reg := registry.New()
	single := testEndpoint("big")
	fan := twoTargets("bigfan")
	reg.Upsert(single)
	reg.Upsert(fan)
	body := make([]byte, 3<<20)
	if _, err := crand.Read(body); err != nil {
		t.Fatal(err)
	}
	for _, ep := range []*registry.Endpoint{single, fan} {
		ev := event(ep.UID, "d-big")
		ev.Body = body
		enqueue(t, q, ev)
	}
	if n := bodyObjects(t, q); n != 2 {
		t.Fatalf("%d bodies stored by reference, want the 2 events' bodies", n)
	}
	startDispatcher(t, q, reg, a, func(d *Dispatcher) {
		d.Resolver = serviceResolver{"sink": a.srv.URL, "svc-a": a.srv.URL, "svc-b": b.srv.URL}
	})
	countersReach(t, q, single.UID, queue.Counters{Received: 1, Delivered: 1})
	for _, tk := range fan.Targets {
		countersReach(t, q, tk.Key, queue.Counters{Received: 1, Delivered: 1})
	}
	calls := append(a.received(), b.received()...)
	if len(calls) != 3 {
		t.Fatalf("targets received %d requests, want 3 (one endpoint, two targets)", len(calls))
	}
	for _, c := range calls {
		if !bytes.Equal(c.body, body) {
			t.Errorf("%s received %d bytes that differ from the 3 MiB sent", c.header.Get(HeaderEndpoint), len(c.body))
		}
	}
	eventually(t, 5*time.Second, func() error {
		if n := bodyObjects(t, q); n != 0 {
			return fmt.Errorf("%d bodies still stored after every delivery", n)
		}
		return nil
	})
}
