package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

var receivedAt = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// startQueue runs a real embedded JetStream in a temp dir.
func startQueue(t *testing.T) *queue.Queue {
	q, _ := queuetest.Start(t, queue.Options{})
	return q
}

// call is one request the target received.
type call struct {
	at     time.Time
	method string
	path   string
	header http.Header
	body   []byte
}

// target is an HTTP target on loopback that records every request and
// answers with respond, which gets the 1-based number of the call.
type target struct {
	srv     *httptest.Server
	respond func(n int, w http.ResponseWriter, r *http.Request)

	mu    sync.Mutex
	calls []call
}

func newTarget(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *target {
	t.Helper()
	tg := &target{respond: respond}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.calls = append(tg.calls, call{at: time.Now(), method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body})
		n := len(tg.calls)
		tg.mu.Unlock()
		tg.respond(n, w, r)
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

func (tg *target) received() []call {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return slices.Clone(tg.calls)
}

// receivedFrom is the calls for one endpoint, told apart by the header the
// dispatcher adds.
func (tg *target) receivedFrom(endpoint string) []call {
	var out []call
	for _, c := range tg.received() {
		if c.header.Get(HeaderEndpoint) == endpoint {
			out = append(out, c)
		}
	}
	return out
}

func ok(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

// fixedResolver sends every target to one base URL; the resolver is not
// under test here.
type fixedResolver struct{ base string }

func (f fixedResolver) Resolve(context.Context, string, registry.Target) (string, error) {
	return f.base, nil
}

// testEndpoint is an endpoint with a policy quick enough for tests.
func testEndpoint(uid string) *registry.Endpoint {
	return &registry.Endpoint{
		UID: uid, Key: types.NamespacedName{Namespace: "team-a", Name: "ep-" + uid},
		Path: "/hook/" + uid, Provider: "github",
		Targets: []*registry.Target{{
			Name: "sink", Key: uid, Service: "sink", Port: 80, Path: "/events",
			MaxAttempts: 5, BackoffInitial: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
			Timeout: 5 * time.Second,
		}},
	}
}

// startDispatcher runs a Dispatcher until the test ends and checks that it
// stops cleanly.
func startDispatcher(t *testing.T, q *queue.Queue, reg *registry.Registry, tg *target, opts ...func(*Dispatcher)) *Dispatcher {
	t.Helper()
	d := &Dispatcher{
		Queue: q, Registry: reg, Resolver: fixedResolver{tg.srv.URL},
		Log: testr.New(t), Metrics: NewMetrics(prometheus.NewRegistry()),
	}
	for _, o := range opts {
		o(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dispatcher stopped with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("dispatcher did not stop within 20s of its context ending")
		}
	})
	return d
}

// lockDispatcher takes the dispatcher's lock, giving up after 5s so that a
// dispatcher stuck in sync fails the test instead of hanging it.
func lockDispatcher(d *Dispatcher) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !d.mu.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// running reports whether the dispatcher has a consumer loop for uid; a
// dispatcher stuck holding its lock counts as running. Call it only once the
// dispatcher has synced at least once (an event arrived): Start creates the runner map unguarded.
func running(d *Dispatcher, uid string) bool {
	if !lockDispatcher(d) {
		return true
	}
	defer d.mu.Unlock()
	_, ok := d.runners[uid]
	return ok
}

// endpointSeen is the endpoint the dispatcher's consumer loop for uid uses
// now, nil without one (or when the dispatcher is stuck). The same caveat
// as for running applies.
func endpointSeen(d *Dispatcher, uid string) *registry.Endpoint {
	if !lockDispatcher(d) {
		return nil
	}
	r := d.runners[uid]
	d.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.u.Load().ep
}

func event(uid, delivery string) *queue.Event {
	return &queue.Event{
		EndpointUID: uid, Endpoint: "team-a/ep-" + uid, Provider: "github",
		DeliveryID: delivery, ReceivedAt: receivedAt,
		Header: map[string][]string{
			"Content-Type":   {"application/json"},
			"X-Github-Event": {"push"},
			"X-Multi":        {"one", "two"},
		},
		Body: []byte(`{"ref":"refs/heads/main","delivery":"` + delivery + `"}`),
	}
}

func enqueue(t *testing.T, q *queue.Queue, ev *queue.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r, err := q.Enqueue(ctx, ev, time.Hour); err != nil || r.Duplicate {
		t.Fatalf("enqueue: %+v, %v", r, err)
	}
}

// eventually polls cond until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not true after %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// consistently polls cond for the whole of d and fails at the first error.
func consistently(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := cond(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countersReach waits until the endpoint's delivery counters equal want.
func countersReach(t *testing.T, q *queue.Queue, uid string, want queue.Counters) {
	t.Helper()
	eventually(t, 15*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := q.ReadCounters(ctx, uid)
		if err != nil {
			return err
		}
		if c != want {
			return fmt.Errorf("counters = %+v, want %+v", c, want)
		}
		return nil
	})
}

func readCounters(t *testing.T, q *queue.Queue, uid string) queue.Counters {
	t.Helper()
	c, err := q.ReadCounters(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readState(t *testing.T, q *queue.Queue, uid string) queue.DeliveryState {
	t.Helper()
	st, err := q.ReadState(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// storedFor is how many events of uid the events stream still holds.
func storedFor(t *testing.T, q *queue.Queue, uid string) uint64 {
	t.Helper()
	ctx := context.Background()
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

func attemptsOf(calls []call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.header.Get(HeaderAttempt)
	}
	return out
}

type dispatchCase struct {
	name     string
	endpoint func(*registry.Endpoint)
	respond  func(n int, w http.ResponseWriter, r *http.Request)
	// wantCounters is the state the endpoint settles in.
	wantCounters queue.Counters
	wantAttempts []string
	// deadLetters, instead of wantCounters and wantAttempts, waits for the
	// event to be dead-lettered after a number of attempts check verifies.
	deadLetters bool
	check       func(t *testing.T, q *queue.Queue, ep *registry.Endpoint, ev *queue.Event, calls []call)
}

func TestDispatcher(t *testing.T) {
	cases := []dispatchCase{{
		name:         "an event is delivered with its original body and headers and our own",
		respond:      ok,
		wantCounters: queue.Counters{Received: 1, Delivered: 1},
		wantAttempts: []string{"1"},
		check: func(t *testing.T, q *queue.Queue, ep *registry.Endpoint, ev *queue.Event, calls []call) {
			c := calls[0]
			if c.method != http.MethodPost || c.path != "/events" {
				t.Errorf("request = %s %s, want POST /events", c.method, c.path)
			}
			if string(c.body) != string(ev.Body) {
				t.Errorf("body = %q, want the original %q", c.body, ev.Body)
			}
			for k, want := range ev.Header {
				if got := c.header.Values(k); !slices.Equal(got, want) {
					t.Errorf("original header %s = %q, want %q", k, got, want)
				}
			}
			for k := range c.header {
				if strings.HasPrefix(k, queue.HeaderOrigPrefix) || strings.HasPrefix(k, "Nats-") {
					t.Errorf("storage header %s leaked to the target", k)
				}
			}
			ours := map[string]string{
				HeaderDeliveryID: ev.DeliveryID,
				HeaderEndpoint:   ep.Key.String(),
				HeaderProvider:   "github",
				HeaderReceivedAt: receivedAt.Format(time.RFC3339Nano),
				HeaderEventSeq:   "1",
			}
			for k, want := range ours {
				if got := c.header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			st := readState(t, q, ep.UID)
			if st.LastDelivery == nil {
				t.Error("no last delivery recorded")
			}
			if st.LastFailure != nil {
				t.Errorf("a failure was recorded for a clean delivery: %+v", *st.LastFailure)
			}
		},
	}, {
		name: "a target that fails twice and then succeeds gets the event on the third attempt",
		respond: func(n int, w http.ResponseWriter, _ *http.Request) {
			if n <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		},
		wantCounters: queue.Counters{Received: 1, Delivered: 1, Retries: 2},
		wantAttempts: []string{"1", "2", "3"},
		check: func(t *testing.T, q *queue.Queue, ep *registry.Endpoint, ev *queue.Event, calls []call) {
			for i, c := range calls {
				if string(c.body) != string(ev.Body) || c.header.Get(HeaderDeliveryID) != ev.DeliveryID {
					t.Errorf("attempt %d carried a different event", i+1)
				}
			}
			st := readState(t, q, ep.UID)
			if st.LastDelivery == nil {
				t.Error("no last delivery recorded")
			}
			if st.LastFailure == nil || st.LastFailure.Reason != "HTTP503" {
				t.Errorf("last failure = %+v, want reason HTTP503", st.LastFailure)
			}
		},
	}, {
		name: "a target's Retry-After delays the next attempt beyond our own backoff",
		respond: func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusOK)
		},
		wantCounters: queue.Counters{Received: 1, Delivered: 1, Retries: 1},
		wantAttempts: []string{"1", "2"},
		check: func(t *testing.T, q *queue.Queue, ep *registry.Endpoint, ev *queue.Event, calls []call) {
			// Our backoff is at most 20ms; only Retry-After explains a
			// second's wait. A little slack covers timer granularity.
			if gap := calls[1].at.Sub(calls[0].at); gap < 950*time.Millisecond {
				t.Errorf("second attempt came %s after the first, want at least the 1s the target asked for", gap)
			}
			if st := readState(t, q, ep.UID); st.LastFailure == nil || st.LastFailure.Reason != "HTTP429" {
				t.Errorf("last failure = %+v, want reason HTTP429", st.LastFailure)
			}
		},
	}, {
		name:     "a target that always fails gets MaxAttempts attempts and the event is dead-lettered",
		endpoint: func(ep *registry.Endpoint) { ep.Targets[0].MaxAttempts = 3 },
		respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		},
		wantCounters: queue.Counters{Received: 1, Retries: 2, DeadLettered: 1},
		wantAttempts: []string{"1", "2", "3"},
		check: func(t *testing.T, q *queue.Queue, ep *registry.Endpoint, ev *queue.Event, _ []call) {
			ctx := context.Background()
			dlq, err := q.JS.Stream(ctx, queue.DLQStream)
			if err != nil {
				t.Fatal(err)
			}
			m, err := dlq.GetLastMsgForSubject(ctx, queue.DLQSubject(ep.UID))
			if err != nil {
				t.Fatalf("no dead letter on %s: %v", queue.DLQSubject(ep.UID), err)
			}
			if string(m.Data) != string(ev.Body) {
				t.Errorf("dead letter body = %q, want the original %q", m.Data, ev.Body)
			}
			if f := readState(t, q, ep.UID).LastFailure; f == nil || f.Attempt != 3 || f.NextAttempt != nil {
				t.Errorf("last failure = %+v, want attempt 3 with no next attempt", f)
			}
			if got := m.Header.Get(queue.HeaderAttempts); got != "3" {
				t.Errorf("%s = %q, want 3", queue.HeaderAttempts, got)
			}
			if got := m.Header.Get(queue.HeaderLastError); !strings.HasPrefix(got, "HTTP500") {
				t.Errorf("%s = %q, want the HTTP500 failure", queue.HeaderLastError, got)
			}
			if got := m.Header.Get(queue.HeaderDelivery); got != ev.DeliveryID {
				t.Errorf("dead letter lost its delivery id: %q", got)
			}
			if got := m.Header.Get("Orig-X-Github-Event"); got != "push" {
				t.Errorf("dead letter lost the original headers: Orig-X-Github-Event = %q", got)
			}
			for k := range m.Header {
				if strings.HasPrefix(k, "Nats-") {
					t.Errorf("dead letter carries the stream header %s", k)
				}
			}
			if n := storedFor(t, q, ep.UID); n != 0 {
				t.Errorf("events stream still holds %d events of the endpoint", n)
			}
			st := readState(t, q, ep.UID)
			if st.LastFailure == nil || st.LastFailure.Reason != "HTTP500" {
				t.Errorf("last failure = %+v, want reason HTTP500", st.LastFailure)
			}
			if st.LastDelivery != nil {
				t.Errorf("a delivery was recorded at %s though none succeeded", st.LastDelivery)
			}
		},
	}, {
		name: "with no attempt limit, an event is retried for RetryFor and then dead-lettered",
		endpoint: func(ep *registry.Endpoint) {
			ep.Targets[0].MaxAttempts, ep.Targets[0].RetryFor = 0, 600*time.Millisecond
			ep.Targets[0].BackoffInitial, ep.Targets[0].BackoffMax = 100*time.Millisecond, 200*time.Millisecond
		},
		respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
			// 500, not 503: a 503 also pauses the target (throttle).
			w.WriteHeader(http.StatusInternalServerError)
		},
		deadLetters: true,
		check: func(t *testing.T, q *queue.Queue, ep *registry.Endpoint, ev *queue.Event, calls []call) {
			// Backoff ceilings 100, 200, 200ms...: at least 50, 100, 100ms
			// apart, so three to seven attempts fit in the span, and the
			// last one comes no earlier than its end.
			if len(calls) < 3 || len(calls) > 8 {
				t.Errorf("%d attempts in a 600ms span with 50-200ms backoff", len(calls))
			}
			if span := calls[len(calls)-1].at.Sub(calls[0].at); span < 550*time.Millisecond {
				t.Errorf("last attempt came %s after the first, before the 600ms retry span ended", span)
			}
			c := readCounters(t, q, ep.UID)
			if c.DeadLettered != 1 || c.Retries != int64(len(calls)-1) || c.Delivered != 0 {
				t.Errorf("counters %+v after %d attempts, want 1 dead-lettered and %d retries", c, len(calls), len(calls)-1)
			}
			st := readState(t, q, ep.UID)
			if f := st.LastFailure; f == nil || f.NextAttempt != nil || f.Attempt != len(calls) || f.DeliveryID != ev.DeliveryID {
				t.Errorf("last failure = %+v, want attempt %d of delivery %q with no next attempt", f, len(calls), ev.DeliveryID)
			}
		},
	}, {
		name:     "a target slower than the timeout counts as a failed attempt with reason Timeout",
		endpoint: func(ep *registry.Endpoint) { ep.Targets[0].Timeout = 250 * time.Millisecond },
		respond: func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
				return
			}
			w.WriteHeader(http.StatusOK)
		},
		wantCounters: queue.Counters{Received: 1, Delivered: 1, Retries: 1},
		wantAttempts: []string{"1", "2"},
		check: func(t *testing.T, q *queue.Queue, ep *registry.Endpoint, ev *queue.Event, calls []call) {
			st := readState(t, q, ep.UID)
			if st.LastFailure == nil || st.LastFailure.Reason != "Timeout" {
				t.Fatalf("last failure = %+v, want reason Timeout", st.LastFailure)
			}
			if !strings.Contains(st.LastFailure.Message, "250ms") {
				t.Errorf("failure message %q does not say the timeout", st.LastFailure.Message)
			}
			if gap := calls[1].at.Sub(calls[0].at); gap < 250*time.Millisecond {
				t.Errorf("second attempt came %s after the first, before the 250ms timeout", gap)
			}
		},
	}}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := startQueue(t)
			tg := newTarget(t, tc.respond)
			reg := registry.New()
			ep := testEndpoint("u1")
			if tc.endpoint != nil {
				tc.endpoint(ep)
			}
			reg.Upsert(ep)
			ev := event(ep.UID, "d-1")
			enqueue(t, q, ev)
			startDispatcher(t, q, reg, tg)

			if tc.deadLetters {
				eventually(t, 15*time.Second, func() error {
					if c := readCounters(t, q, ep.UID); c.DeadLettered != 1 || c.Pending != 0 {
						return fmt.Errorf("counters = %+v, want the event dead-lettered", c)
					}
					return nil
				})
			} else {
				countersReach(t, q, ep.UID, tc.wantCounters)
			}
			calls := tg.received()
			if got := attemptsOf(calls); !tc.deadLetters && !slices.Equal(got, tc.wantAttempts) {
				t.Fatalf("target saw attempts %q, want %q", got, tc.wantAttempts)
			}
			if tc.check != nil {
				tc.check(t, q, ep, ev, calls)
			}
		})
	}
}

// TestSuspendedEndpointReceivesNothingUntilResumed uses a second, active
// endpoint as a witness: once its event has arrived the dispatcher is
// demonstrably running, so the suspended endpoint's silence means something.
func TestSuspendedEndpointReceivesNothingUntilResumed(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, ok)
	reg := registry.New()
	paused, witness := testEndpoint("paused"), testEndpoint("witness")
	paused.Suspended = true
	reg.Upsert(paused)
	reg.Upsert(witness)
	d := startDispatcher(t, q, reg, tg)
	pausedName, witnessName := paused.Key.String(), witness.Key.String()

	staysQueued := func(uid string, received int, pending int64) func() error {
		return func() error {
			if n := len(tg.receivedFrom(pausedName)); n != received {
				return fmt.Errorf("suspended endpoint received %d requests, want still %d", n, received)
			}
			if running(d, uid) {
				return errors.New("dispatcher runs a consumer for a suspended endpoint")
			}
			c, err := q.ReadCounters(context.Background(), uid)
			if err != nil {
				return err
			}
			if c.Pending != pending {
				return fmt.Errorf("pending = %d, want %d", c.Pending, pending)
			}
			return nil
		}
	}
	arrived := func(endpoint string, n int) func() error {
		return func() error {
			if got := len(tg.receivedFrom(endpoint)); got != n {
				return fmt.Errorf("%s received %d requests, want %d", endpoint, got, n)
			}
			return nil
		}
	}

	// Suspended from the start.
	enqueue(t, q, event("paused", "p-1"))
	enqueue(t, q, event("witness", "w-1"))
	eventually(t, 10*time.Second, arrived(witnessName, 1))
	consistently(t, 300*time.Millisecond, staysQueued("paused", 0, 1))

	resumed := *paused
	resumed.Suspended = false
	reg.Upsert(&resumed)
	eventually(t, 10*time.Second, arrived(pausedName, 1))
	countersReach(t, q, "paused", queue.Counters{Received: 1, Delivered: 1})

	// Suspended while running.
	suspended := resumed
	suspended.Suspended = true
	reg.Upsert(&suspended)
	eventually(t, 10*time.Second, func() error {
		if running(d, "paused") {
			return errors.New("consumer loop still running after suspension")
		}
		return nil
	})
	enqueue(t, q, event("paused", "p-2"))
	enqueue(t, q, event("witness", "w-2"))
	eventually(t, 10*time.Second, arrived(witnessName, 2))
	consistently(t, 300*time.Millisecond, staysQueued("paused", 1, 1))

	reg.Upsert(&resumed)
	eventually(t, 10*time.Second, arrived(pausedName, 2))
	countersReach(t, q, "paused", queue.Counters{Received: 2, Delivered: 2})
	if got := tg.receivedFrom(pausedName)[1].header.Get(HeaderDeliveryID); got != "p-2" {
		t.Fatalf("second delivery after resuming was %q, want p-2", got)
	}
}

// TestDispatcherDeliversEveryEventOnce sends a batch through the
// concurrent delivery path and checks nothing is lost or repeated.
func TestDispatcherDeliversEveryEventOnce(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, ok)
	reg := registry.New()
	ep := testEndpoint("batch")
	reg.Upsert(ep)
	startDispatcher(t, q, reg, tg)
	const n = 50
	for i := range n {
		enqueue(t, q, event(ep.UID, "d-"+strconv.Itoa(i)))
	}
	countersReach(t, q, ep.UID, queue.Counters{Received: n, Delivered: n})
	seen := map[string]int{}
	for _, c := range tg.received() {
		seen[c.header.Get(HeaderDeliveryID)]++
	}
	for i := range n {
		if id := "d-" + strconv.Itoa(i); seen[id] != 1 {
			t.Errorf("delivery %s arrived %d times, want once", id, seen[id])
		}
	}
}

// TestPolicyChangeAppliesWithoutRestartingTheConsumer changes an endpoint's
// retry policy while its consumer loop is idle: the next event must follow
// the new policy.
func TestPolicyChangeAppliesWithoutRestartingTheConsumer(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			return // the first event, which starts the consumer loop
		}
		w.WriteHeader(http.StatusBadGateway)
	})
	reg := registry.New()
	ep := testEndpoint("policy")
	ep.Targets[0].MaxAttempts = 5
	reg.Upsert(ep)
	d := startDispatcher(t, q, reg, tg)
	enqueue(t, q, event(ep.UID, "d-0"))
	countersReach(t, q, ep.UID, queue.Counters{Received: 1, Delivered: 1})

	changed := *ep
	tgt := *ep.Targets[0]
	tgt.MaxAttempts = 2
	changed.Targets = []*registry.Target{&tgt}
	changed.Generation++
	reg.Upsert(&changed)
	eventually(t, 10*time.Second, func() error {
		if cur := endpointSeen(d, ep.UID); cur == nil || cur.Generation != changed.Generation {
			return errors.New("dispatcher has not seen the new generation")
		}
		return nil
	})

	enqueue(t, q, event(ep.UID, "d-1"))
	countersReach(t, q, ep.UID, queue.Counters{Received: 2, Delivered: 1, Retries: 1, DeadLettered: 1})
	if got := attemptsOf(tg.received()); !slices.Equal(got, []string{"1", "1", "2"}) {
		t.Fatalf("target saw attempts %q, want the new MaxAttempts of 2", got)
	}
}

// TestSuspendingDuringDeliveriesStopsPromptlyAndLosesNothing suspends an
// endpoint while more events are queued than it delivers at once, so that
// its consumer loop has deliveries in flight and messages buffered when it
// is told to stop.
func TestSuspendingDuringDeliveriesStopsPromptlyAndLosesNothing(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(100 * time.Millisecond):
			w.WriteHeader(http.StatusOK)
		}
	})
	reg := registry.New()
	ep := testEndpoint("busy")
	reg.Upsert(ep)
	const n = 20
	for i := range n {
		enqueue(t, q, event(ep.UID, "d-"+strconv.Itoa(i)))
	}
	d := startDispatcher(t, q, reg, tg, func(d *Dispatcher) { d.Concurrency = 2 })
	eventually(t, 10*time.Second, func() error {
		if len(tg.received()) < 3 {
			return errors.New("deliveries have not started")
		}
		return nil
	})

	suspended := *ep
	suspended.Suspended = true
	reg.Upsert(&suspended)
	eventually(t, 10*time.Second, func() error {
		if running(d, ep.UID) {
			return errors.New("consumer loop still running after suspension")
		}
		return nil
	})

	reg.Upsert(ep)
	eventually(t, 30*time.Second, func() error {
		c, err := q.ReadCounters(context.Background(), ep.UID)
		if err != nil {
			return err
		}
		if c.Delivered != n || c.Pending != 0 {
			return fmt.Errorf("delivered %d, pending %d; want %d and 0", c.Delivered, c.Pending, n)
		}
		return nil
	})
}

// TestDeletedConsumerIsRecreated removes the endpoint's durable consumer
// behind the dispatcher's back (an operator with the nats CLI, a restore):
// delivery must resume rather than stop silently until a restart.
func TestDeletedConsumerIsRecreated(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, ok)
	reg := registry.New()
	ep := testEndpoint("recreated")
	reg.Upsert(ep)
	startDispatcher(t, q, reg, tg)
	enqueue(t, q, event(ep.UID, "d-1"))
	countersReach(t, q, ep.UID, queue.Counters{Received: 1, Delivered: 1})

	if err := q.JS.DeleteConsumer(context.Background(), queue.EventsStream, queue.ConsumerName(ep.UID)); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, event(ep.UID, "d-2"))
	countersReach(t, q, ep.UID, queue.Counters{Received: 2, Delivered: 2})
}

// TestStoppingAndResumingUsesNoAttempts suspends and resumes an endpoint
// several times while events are buffered and in flight: a message handed
// back unsent must not count as an attempt, or events would reach the
// dead-letter stream without ever failing.
func TestStoppingAndResumingUsesNoAttempts(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(50 * time.Millisecond):
			w.WriteHeader(http.StatusOK)
		}
	})
	reg := registry.New()
	ep := testEndpoint("cycles")
	ep.Targets[0].MaxAttempts = 2
	reg.Upsert(ep)
	const n = 12
	for i := range n {
		enqueue(t, q, event(ep.UID, "c-"+strconv.Itoa(i)))
	}
	d := startDispatcher(t, q, reg, tg, func(d *Dispatcher) { d.Concurrency = 1 })
	for cycle := 0; cycle < 3; cycle++ {
		eventually(t, 10*time.Second, func() error {
			if !running(d, ep.UID) {
				return errors.New("not running")
			}
			return nil
		})
		time.Sleep(120 * time.Millisecond) // let a delivery start and others buffer
		suspended := *ep
		suspended.Suspended = true
		reg.Upsert(&suspended)
		eventually(t, 10*time.Second, func() error {
			if running(d, ep.UID) {
				return errors.New("still running")
			}
			return nil
		})
		reg.Upsert(ep)
	}
	eventually(t, 30*time.Second, func() error {
		c, err := q.ReadCounters(context.Background(), ep.UID)
		if err != nil {
			return err
		}
		if c.Delivered != n || c.DeadLettered != 0 {
			return fmt.Errorf("delivered %d, dead-lettered %d; want %d and 0", c.Delivered, c.DeadLettered, n)
		}
		return nil
	})
	for _, c := range tg.received() {
		if a := c.header.Get(HeaderAttempt); a != "1" {
			t.Fatalf("an event reached the target as attempt %s after stops that sent nothing", a)
		}
	}
}

// TestRedirectsAreNotFollowed plays a tenant whose target answers with a
// redirect to a Service it may not deliver to (here a second server, the
// "admin" endpoint of someone else): the receiver must not send anything
// there, must count the answer as a failed attempt and must not repeat the
// Location in the tenant-visible status.
func TestRedirectsAreNotFollowed(t *testing.T) {
	clients := []struct {
		name string
		set  func(*Dispatcher)
	}{
		{"the dispatcher's own client", func(*Dispatcher) {}},
		// http.Client's default CheckRedirect follows up to ten redirects.
		{"a client passed in by the caller", func(d *Dispatcher) { d.Client = &http.Client{} }},
		{"a caller's client that allows every redirect", func(d *Dispatcher) {
			d.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
		}},
	}
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusFound, http.StatusPermanentRedirect} {
		for _, cl := range clients {
			t.Run(fmt.Sprintf("a %d to another server is a failed attempt with %s", code, cl.name), func(t *testing.T) {
				q := startQueue(t)
				elsewhere := newTarget(t, ok)
				location := elsewhere.srv.URL + "/admin"
				tg := newTarget(t, func(_ int, w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, location, code)
				})
				reg := registry.New()
				ep := testEndpoint("redirected")
				ep.Targets[0].MaxAttempts = 2
				reg.Upsert(ep)
				enqueue(t, q, event(ep.UID, "d-1"))
				startDispatcher(t, q, reg, tg, cl.set)

				// Stop waiting as soon as the other server hears anything.
				eventually(t, 15*time.Second, func() error {
					if len(elsewhere.received()) > 0 {
						return nil
					}
					c, err := q.ReadCounters(context.Background(), ep.UID)
					if err != nil || c.DeadLettered == 0 {
						return fmt.Errorf("not dead-lettered yet: %+v, %v", c, err)
					}
					return nil
				})
				if calls := elsewhere.received(); len(calls) != 0 {
					t.Fatalf("the redirect was followed: the other server received %s %s", calls[0].method, calls[0].path)
				}
				countersReach(t, q, ep.UID, queue.Counters{Received: 1, Retries: 1, DeadLettered: 1})
				if got := attemptsOf(tg.received()); !slices.Equal(got, []string{"1", "2"}) {
					t.Fatalf("target saw attempts %q, want 1 and 2", got)
				}
				want := "HTTP" + strconv.Itoa(code)
				st := readState(t, q, ep.UID)
				if st.LastFailure == nil || st.LastFailure.Reason != want {
					t.Fatalf("last failure = %+v, want reason %s", st.LastFailure, want)
				}
				msg := st.LastFailure.Message
				if !strings.Contains(msg, "redirects are not followed") {
					t.Errorf("failure message %q does not say that redirects are not followed", msg)
				}
				if host := strings.TrimPrefix(elsewhere.srv.URL, "http://"); strings.Contains(msg, host) || strings.Contains(msg, "/admin") {
					t.Errorf("failure message %q repeats the Location %s", msg, location)
				}
			})
		}
	}
}

// TestConnectionFailuresDoNotDescribeTheNetwork aims a target at a port
// nobody listens on. The dial error (address, "connection refused") would
// tell a tenant probing addresses which ports are open; status says only
// that connecting failed.
func TestConnectionFailuresDoNotDescribeTheNetwork(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()

	q := startQueue(t)
	tg := newTarget(t, ok)
	reg := registry.New()
	ep := testEndpoint("refused")
	ep.Targets[0].MaxAttempts = 1
	reg.Upsert(ep)
	enqueue(t, q, event(ep.UID, "d-1"))
	startDispatcher(t, q, reg, tg, func(d *Dispatcher) { d.Resolver = fixedResolver{"http://" + closed} })

	countersReach(t, q, ep.UID, queue.Counters{Received: 1, DeadLettered: 1})
	st := readState(t, q, ep.UID)
	if st.LastFailure == nil || st.LastFailure.Reason != "ConnectionFailed" {
		t.Fatalf("last failure = %+v, want reason ConnectionFailed", st.LastFailure)
	}
	_, port, _ := net.SplitHostPort(closed)
	for _, leak := range []string{port, "127.0.0.1", "refused", "dial"} {
		if strings.Contains(st.LastFailure.Message, leak) {
			t.Errorf("failure message %q gives away %q", st.LastFailure.Message, leak)
		}
	}
	m, err := func() (*jetstream.RawStreamMsg, error) {
		dlq, err := q.JS.Stream(context.Background(), queue.DLQStream)
		if err != nil {
			return nil, err
		}
		return dlq.GetLastMsgForSubject(context.Background(), queue.DLQSubject(ep.UID))
	}()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get(queue.HeaderLastError); strings.Contains(got, port) {
		t.Errorf("dead letter's %s %q gives away the address", queue.HeaderLastError, got)
	}
}

// Endpoints without stored events cost no consumer loop: none runs for 300
// idle endpoints; an event to one of them starts one, which stops again
// once it has been idle, and the next event starts it again.
func TestOnlyEndpointsWithEventsRunAConsumerLoop(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, ok)
	reg := registry.New()
	var eps []*registry.Endpoint
	for i := 0; i < 300; i++ {
		ep := testEndpoint(fmt.Sprintf("idle-%d", i))
		reg.Upsert(ep)
		eps = append(eps, ep)
	}
	d := startDispatcher(t, q, reg, tg, func(d *Dispatcher) {
		d.ScanInterval, d.IdleAfter = 100*time.Millisecond, time.Second
	})
	loops := func() int {
		if !lockDispatcher(d) {
			t.Fatal("dispatcher stuck")
		}
		defer d.mu.Unlock()
		n := 0
		for _, r := range d.runners {
			select {
			case <-r.done:
			default:
				n++
			}
		}
		return n
	}
	time.Sleep(500 * time.Millisecond)
	if n := loops(); n != 0 {
		t.Fatalf("%d consumer loops for endpoints without events", n)
	}
	ep := eps[123]
	for round := 1; round <= 2; round++ {
		enqueue(t, q, event(ep.UID, fmt.Sprintf("d-%d", round)))
		countersReach(t, q, ep.UID, queue.Counters{Received: int64(round), Delivered: int64(round)})
		if n := loops(); n != 1 {
			t.Fatalf("round %d: %d consumer loops, want 1", round, n)
		}
		eventually(t, 10*time.Second, func() error {
			if n := loops(); n != 0 {
				return fmt.Errorf("%d consumer loops still running", n)
			}
			return nil
		})
	}
}
