package dispatch

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/history"
)

// attemptLog is an AttemptRecorder that keeps what it is given.
type attemptLog struct {
	mu sync.Mutex
	a  []eventsv1.Attempt
}

func (l *attemptLog) Attempt(uid string, p *history.Policy, a *eventsv1.Attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.a = append(l.a, *a)
}

func (l *attemptLog) all() []eventsv1.Attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.a)
}

// Every attempt is recorded with what the target answered: its status,
// the start of its body, the latency, and whether the event is tried
// again or dead-lettered; the event's id is the stored one.
func TestEveryAttemptIsRecordedWithTheTargetsAnswer(t *testing.T) {
	q := startQueue(t)
	var mu sync.Mutex
	calls := map[string]int{}
	tg := newTarget(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		ep := r.Header.Get(HeaderEndpoint)
		mu.Lock()
		calls[ep]++
		n := calls[ep]
		mu.Unlock()
		switch {
		case ep == "team-a/ep-u-dead":
			http.Error(w, "nope", http.StatusBadRequest)
		case n <= 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(strings.Repeat("x", 2000)))
		default:
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte("thanks"))
		}
	})
	reg := registry.New()
	ep := testEndpoint("u-hist")
	ep.History = history.PolicyFor(hookv1.HistorySpec{})
	reg.Upsert(ep)
	dead := testEndpoint("u-dead")
	dead.History = history.PolicyFor(hookv1.HistorySpec{})
	dead.Targets[0].MaxAttempts = 1
	reg.Upsert(dead)
	quiet := testEndpoint("u-quiet")
	quiet.History = history.PolicyFor(hookv1.HistorySpec{Disabled: true})
	reg.Upsert(quiet)
	log := &attemptLog{}
	startDispatcher(t, q, reg, tg, func(d *Dispatcher) { d.History = log })
	ev := event("u-hist", "d-1")
	ev.ID = "evt-1"
	enqueue(t, q, ev)
	enqueue(t, q, event("u-dead", "d-2"))
	enqueue(t, q, event("u-quiet", "d-3"))
	of := func(id string) []eventsv1.Attempt {
		var out []eventsv1.Attempt
		for _, a := range log.all() {
			if a.EventID == id {
				out = append(out, a)
			}
		}
		return out
	}
	eventually(t, 10*time.Second, func() error {
		if n := len(of("evt-1")); n != 3 {
			return fmt.Errorf("%d attempts of evt-1 recorded, want 3", n)
		}
		if len(log.all()) != 4 {
			return fmt.Errorf("%d attempts recorded in all, want 4 (3 + 1 dead letter, none for the endpoint without history)", len(log.all()))
		}
		return nil
	})
	got := of("evt-1")
	for i, a := range got {
		if a.Target != "sink" || a.Attempt != i+1 || a.Time.IsZero() || a.LatencyMillis <= 0 {
			t.Fatalf("attempt %d: %+v", i, a)
		}
	}
	if got[0].Outcome != eventsv1.AttemptFailed || got[0].Code != 503 || got[0].Reason != "HTTP503" || got[0].NextAttempt == nil ||
		len(got[0].Response) != eventsv1.MaxResponseBytes {
		t.Fatalf("first attempt: %+v (response %d bytes)", got[0], len(got[0].Response))
	}
	if got[2].Outcome != eventsv1.AttemptDelivered || got[2].Code != 202 || string(got[2].Response) != "thanks" || got[2].Error != "" || got[2].NextAttempt != nil {
		t.Fatalf("delivering attempt: %+v", got[2])
	}
	var last eventsv1.Attempt
	for _, a := range log.all() {
		if a.EventID != "evt-1" {
			last = a
		}
	}
	if last.Outcome != eventsv1.AttemptDeadLettered || last.Code != 400 || string(last.Response) != "nope\n" || last.NextAttempt != nil || last.EventID == "" {
		t.Fatalf("dead-lettering attempt: %+v", last)
	}
	consistently(t, 500*time.Millisecond, func() error {
		if n := len(log.all()); n != 4 {
			return fmt.Errorf("%d attempts recorded; the endpoint without history recorded some", n)
		}
		return nil
	})
}
