package dispatch

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/nats-io/nats.go"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/filter"
	"github.com/hookgate/hookgate/internal/queue"
)

func githubEventType() hookv1.EventTypeInfo {
	info, _ := hookv1.LookupProvider(hookv1.ProviderGitHub)
	return info.EventType
}

func mustFilter(t *testing.T, expr string) *filter.Filter {
	t.Helper()
	f, err := filter.CompileFilter(expr)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// issuesEvent is an event GitHub calls "issues".
func issuesEvent(uid, delivery string) *queue.Event {
	ev := event(uid, delivery)
	ev.Header = map[string][]string{"Content-Type": {"application/json"}, "X-Github-Event": {"issues"}}
	ev.Body = []byte(`{"action":"opened","issue":{"number":7}}`)
	return ev
}

func TestAFilterDropsWhatItsTargetDoesNotWant(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, ok)
	reg := registry.New()
	ep := testEndpoint("flt")
	ep.EventType = githubEventType()
	ep.Targets[0].Filter = mustFilter(t, `event.type == "push" && event.body.ref.endsWith("/main")`)
	reg.Upsert(ep)
	enqueue(t, q, event(ep.UID, "push-1"))
	enqueue(t, q, issuesEvent(ep.UID, "issue-1"))
	// A filter that fails on an event (no "ref" in this body) does not
	// deliver it.
	bad := event(ep.UID, "push-noref")
	bad.Body = []byte(`{"after":"abc"}`)
	enqueue(t, q, bad)
	d := startDispatcher(t, q, reg, tg)
	countersReach(t, q, ep.UID, queue.Counters{Received: 3, Delivered: 1, Dropped: 2})
	calls := tg.received()
	if len(calls) != 1 || calls[0].header.Get(HeaderDeliveryID) != "push-1" {
		t.Fatalf("target got %d requests (%v), want only push-1", len(calls), attemptsOf(calls))
	}
	if n := counterValue(t, d.Metrics.FilterErrors.WithLabelValues(ep.Name(), "sink")); n != 1 {
		t.Errorf("%v filter errors counted, want 1 (the body without ref)", n)
	}
}

func TestFanoutFiltersEachTargetOnItsOwn(t *testing.T) {
	q := startQueue(t)
	a, b := newTarget(t, ok), newTarget(t, ok)
	reg := registry.New()
	ep := twoTargets("fanflt")
	ep.EventType = githubEventType()
	ep.Targets[1].Filter = mustFilter(t, `event.type == "issues" && event.headers["content-type"] == "application/json"`)
	reg.Upsert(ep)
	enqueue(t, q, event(ep.UID, "push-1"))
	enqueue(t, q, issuesEvent(ep.UID, "issue-1"))
	startDispatcher(t, q, reg, a, func(d *Dispatcher) {
		d.Resolver = serviceResolver{"svc-a": a.srv.URL, "svc-b": b.srv.URL}
	})
	countersReach(t, q, ep.Targets[0].Key, queue.Counters{Received: 2, Delivered: 2})
	countersReach(t, q, ep.Targets[1].Key, queue.Counters{Received: 2, Delivered: 1, Dropped: 1})
	if calls := b.received(); len(calls) != 1 || calls[0].header.Get(HeaderDeliveryID) != "issue-1" {
		t.Errorf("b got %d requests, want only issue-1", len(calls))
	}
}

func TestEveryAttemptCarriesTheEventsIdempotencyKeyAndCloudEventsHeaders(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	reg := registry.New()
	ep := testEndpoint("ce")
	ep.EventType = githubEventType()
	ep.Targets[0].CloudEvents = true
	reg.Upsert(ep)
	enqueue(t, q, event(ep.UID, "d-1"))
	startDispatcher(t, q, reg, tg)
	countersReach(t, q, ep.UID, queue.Counters{Received: 1, Delivered: 1, Retries: 1})
	calls := tg.received()
	key := calls[0].header.Get(HeaderIdempotencyKey)
	if key == "" || calls[1].header.Get(HeaderIdempotencyKey) != key {
		t.Fatalf("Idempotency-Key %q then %q, want one non-empty key on both attempts", key, calls[1].header.Get(HeaderIdempotencyKey))
	}
	want := map[string]string{
		"Ce-Specversion":      "1.0",
		"Ce-Id":               key,
		"Ce-Source":           "/apis/hookgate.io/v1alpha1/namespaces/team-a/webhookendpoints/ep-ce",
		"Ce-Type":             "push",
		"Ce-Time":             receivedAt.Format(time.RFC3339Nano),
		"Ce-Hookgateprovider": "github",
		"Content-Type":        "application/json",
		"X-Github-Event":      "push",
	}
	for h, v := range want {
		if got := calls[1].header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	if string(calls[1].body) != string(event(ep.UID, "d-1").Body) {
		t.Errorf("body %q is not the provider's", calls[1].body)
	}
}

// inFlight records how many requests a target has at once.
type inFlight struct {
	mu       sync.Mutex
	now, max int
}

func (f *inFlight) enter() {
	f.mu.Lock()
	f.now++
	f.max = max(f.max, f.now)
	f.mu.Unlock()
}

func (f *inFlight) leave() {
	f.mu.Lock()
	f.now--
	f.mu.Unlock()
}

// delivered is the order in which a target accepted events (by delivery id).
func delivered(calls []call, ok func(call) bool) []string {
	var out []string
	for _, c := range calls {
		if ok(c) {
			out = append(out, c.header.Get(HeaderDeliveryID))
		}
	}
	return out
}

func TestAnOrderedTargetGetsOneEventAtATimeInOrderThroughRetries(t *testing.T) {
	q := startQueue(t)
	var fl inFlight
	tg := newTarget(t, func(n int, w http.ResponseWriter, r *http.Request) {
		fl.enter()
		defer fl.leave()
		time.Sleep(5 * time.Millisecond)
		// The third event fails twice: everything after it waits.
		if r.Header.Get(HeaderDeliveryID) == "d-2" && r.Header.Get(HeaderAttempt) != "3" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	reg := registry.New()
	ep := testEndpoint("ord")
	ep.Targets[0].Ordered = true
	reg.Upsert(ep)
	const n = 8
	for i := range n {
		enqueue(t, q, event(ep.UID, "d-"+strconv.Itoa(i)))
	}
	startDispatcher(t, q, reg, tg)
	countersReach(t, q, ep.UID, queue.Counters{Received: n, Delivered: n, Retries: 2})
	calls := tg.received()
	got := delivered(calls, func(c call) bool {
		return c.header.Get(HeaderDeliveryID) != "d-2" || c.header.Get(HeaderAttempt) == "3"
	})
	want := []string{"d-0", "d-1", "d-2", "d-3", "d-4", "d-5", "d-6", "d-7"}
	if !slices.Equal(got, want) {
		t.Errorf("delivered in the order %v, want %v", got, want)
	}
	if len(calls) != n+2 || fl.max != 1 {
		t.Errorf("%d requests with up to %d at once, want %d one at a time", len(calls), fl.max, n+2)
	}
}

func TestOrderingByKeyKeepsEachKeysOrderAndLetsOtherKeysPass(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(HeaderDeliveryID) == "a-0" && r.Header.Get(HeaderAttempt) == "1" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	reg := registry.New()
	ep := testEndpoint("okey")
	tp := ep.Targets[0]
	tp.Key, tp.Ordered, tp.Partitions = queue.TargetKey(ep.UID, tp.Name), true, 4
	tp.BackoffInitial, tp.BackoffMax = 500*time.Millisecond, 500*time.Millisecond
	k, err := filter.CompileKey(`event.body.repo`)
	if err != nil {
		t.Fatal(err)
	}
	tp.OrderKey = k
	reg.Upsert(ep)
	// Two repositories whose keys hash to different partitions.
	d := &Dispatcher{Log: testr.New(t)}
	keyed := func(repo, id string) *queue.Event {
		ev := event(ep.UID, id)
		ev.Body = []byte(`{"repo":"` + repo + `"}`)
		return ev
	}
	other := "b"
	part := func(repo string) int {
		return d.partition(&unit{ep: ep}, tp, eventOf(ep, nats.Header{}, keyed(repo, "x").Body))
	}
	for i := 0; part("a") == part(other); i++ {
		other = "b" + strconv.Itoa(i)
	}
	for i := range 3 {
		enqueue(t, q, keyed("a", "a-"+strconv.Itoa(i)))
		enqueue(t, q, keyed(other, "b-"+strconv.Itoa(i)))
	}
	startDispatcher(t, q, reg, tg)
	eventually(t, 15*time.Second, func() error {
		var sum int64
		for p := range tp.Partitions {
			sum += readCounters(t, q, queue.PartitionKey(tp.Key, p)).Delivered
		}
		if sum != 6 {
			return fmt.Errorf("%d of 6 delivered", sum)
		}
		return nil
	})
	calls := tg.received()
	ok := func(c call) bool {
		return c.header.Get(HeaderDeliveryID) != "a-0" || c.header.Get(HeaderAttempt) == "2"
	}
	got := delivered(calls, ok)
	var as, bs []string
	for _, id := range got {
		if strings.HasPrefix(id, "a-") {
			as = append(as, id)
		} else {
			bs = append(bs, id)
		}
	}
	if !slices.Equal(as, []string{"a-0", "a-1", "a-2"}) || !slices.Equal(bs, []string{"b-0", "b-1", "b-2"}) {
		t.Errorf("each key's order lost: %v", got)
	}
	// a-0's retry waits 500ms; the other key does not wait for it.
	if got[0] != "b-0" || slices.Index(got, "b-2") > slices.Index(got, "a-0") {
		t.Errorf("the other key waited for a's retry: %v", got)
	}
}
