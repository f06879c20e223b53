package dispatch

import (
	"net/http"
	"testing"
	"time"

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
