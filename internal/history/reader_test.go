package history

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

var keep = PolicyFor(hookv1.HistorySpec{})

func list(t *testing.T, rd *Reader, uid string, targets []string, q eventsv1.Query) *eventsv1.EventList {
	t.Helper()
	l, err := rd.List(ctxT(t), uid, targets, q, true)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestListFilters(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	now := time.Now()
	e1 := accepted("e1", now)
	e1.Type, e1.DeliveryID, e1.Body = "push", "d1", []byte(`{"msg":"Hello World"}`)
	e2 := accepted("e2", now)
	e2.Type, e2.DeliveryID = "issues", "d2"
	e2.Headers["X-Trace"] = []string{"SpecialHeaderValue"}
	r1 := rejected(now)
	r1.Body = []byte("hello world")
	dup := rejected(now)
	dup.Outcome, dup.Code, dup.Reason, dup.DeliveryID = eventsv1.OutcomeDuplicate, 200, "", "d1"
	for _, ev := range []*eventsv1.Event{e1, r1, e2, dup} {
		r.Request("u1", keep, ev)
	}
	r.Request("u2", keep, accepted("other", now))
	flush(t, r)
	rd := NewReader(js)
	for _, c := range []struct {
		name string
		q    eventsv1.Query
		want []string
	}{
		{"all", eventsv1.Query{}, []string{"e1", r1.ID, "e2", dup.ID}},
		{"accepted", eventsv1.Query{Outcome: eventsv1.OutcomeAccepted}, []string{"e1", "e2"}},
		{"rejected", eventsv1.Query{Outcome: eventsv1.OutcomeRejected}, []string{r1.ID}},
		{"delivery", eventsv1.Query{DeliveryID: "d1"}, []string{"e1", dup.ID}},
		{"delivery and outcome", eventsv1.Query{DeliveryID: "d1", Outcome: eventsv1.OutcomeDuplicate}, []string{dup.ID}},
		{"type", eventsv1.Query{Type: "issues"}, []string{"e2"}},
		{"text in body, any case", eventsv1.Query{Text: "hELLO wORLD"}, []string{"e1"}}, // r1's body was not stored
		{"text in a header value", eventsv1.Query{Text: "specialheader"}, []string{"e2"}},
		{"text in a header name is not searched", eventsv1.Query{Text: "x-trace"}, nil},
		{"status", eventsv1.Query{Status: eventsv1.StatusPending}, []string{"e1", "e2"}},
		{"nothing", eventsv1.Query{Type: "none"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := list(t, rd, "u1", []string{"a"}, c.q)
			if got := ids(l); !slices.Equal(got, c.want) && len(got)+len(c.want) > 0 {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			if l.Continue != "" {
				t.Errorf("Continue %q at the end", l.Continue)
			}
			if l.Scanned != 4 {
				t.Errorf("scanned %d", l.Scanned)
			}
			for _, ev := range l.Items {
				if ev.Outcome != eventsv1.OutcomeAccepted && ev.Status != "" {
					t.Errorf("%s: status %q on a %s request", ev.ID, ev.Status, ev.Outcome)
				}
			}
		})
	}
	if l := list(t, rd, "none", nil, eventsv1.Query{}); len(l.Items) != 0 || l.Continue != "" || l.Items == nil {
		t.Errorf("unknown endpoint: %+v", l)
	}
	if _, err := rd.List(ctxT(t), "u1", nil, eventsv1.Query{Continue: "bogus"}, true); !errors.Is(err, ErrBadContinue) {
		t.Errorf("bad continue: %v", err)
	}
	if _, err := rd.List(ctxT(t), "u.*", nil, eventsv1.Query{}, true); err == nil {
		t.Error("a uid with wildcards was listed")
	}
	// Every listing removed its consumer.
	s, err := js.Stream(ctxT(t), Stream)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Consumers; n != 0 {
		t.Errorf("%d consumers left behind", n)
	}
}

type att struct {
	target  string
	outcome eventsv1.AttemptOutcome
}

func TestStatusDerivation(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	cases := []struct {
		id       string
		attempts []att
		want     eventsv1.Status
		deciding *att // the attempt List shows; nil: none
	}{
		{"none", nil, eventsv1.StatusPending, nil},
		{"delivered-dropped", []att{{"a", eventsv1.AttemptDelivered}, {"b", eventsv1.AttemptDropped}}, eventsv1.StatusDelivered, &att{"a", eventsv1.AttemptDelivered}},
		{"dropped-dropped", []att{{"a", eventsv1.AttemptDropped}, {"b", eventsv1.AttemptDropped}}, eventsv1.StatusDropped, &att{"b", eventsv1.AttemptDropped}},
		{"delivered-failed", []att{{"b", eventsv1.AttemptFailed}, {"a", eventsv1.AttemptDelivered}}, eventsv1.StatusRetrying, &att{"b", eventsv1.AttemptFailed}},
		{"retried-into-dead", []att{{"a", eventsv1.AttemptFailed}, {"b", eventsv1.AttemptDelivered}, {"a", eventsv1.AttemptDeadLettered}}, eventsv1.StatusDeadLettered, &att{"a", eventsv1.AttemptDeadLettered}},
		{"dead-then-retried", []att{{"a", eventsv1.AttemptDeadLettered}, {"b", eventsv1.AttemptDelivered}, {"a", eventsv1.AttemptRetried}}, eventsv1.StatusPending, &att{"a", eventsv1.AttemptRetried}},
		{"one-waiting", []att{{"a", eventsv1.AttemptDelivered}}, eventsv1.StatusPending, nil},
		{"failed-then-delivered", []att{{"a", eventsv1.AttemptFailed}, {"a", eventsv1.AttemptDelivered}, {"b", eventsv1.AttemptDelivered}}, eventsv1.StatusDelivered, &att{"b", eventsv1.AttemptDelivered}},
		{"dead-and-retrying", []att{{"a", eventsv1.AttemptFailed}, {"b", eventsv1.AttemptDeadLettered}}, eventsv1.StatusDeadLettered, &att{"b", eventsv1.AttemptDeadLettered}},
		{"removed-target-ignored", []att{{"a", eventsv1.AttemptDelivered}, {"b", eventsv1.AttemptDelivered}, {"gone", eventsv1.AttemptDeadLettered}}, eventsv1.StatusDelivered, &att{"b", eventsv1.AttemptDelivered}},
	}
	now := time.Now()
	for _, c := range cases {
		r.Request("u1", keep, accepted(c.id, now))
	}
	for _, c := range cases {
		for i, a := range c.attempts {
			r.Attempt("u1", keep, &eventsv1.Attempt{EventID: c.id, Target: a.target, Attempt: i + 1, Outcome: a.outcome, Response: []byte("resp")})
		}
	}
	rej := rejected(now)
	r.Request("u1", keep, rej)
	flush(t, r)

	rd := NewReader(js)
	targets := []string{"a", "b"}
	l := list(t, rd, "u1", targets, eventsv1.Query{})
	if len(l.Items) != len(cases)+1 {
		t.Fatalf("%d items", len(l.Items))
	}
	for i, c := range cases {
		ev := l.Items[i]
		if ev.ID != c.id {
			t.Fatalf("item %d is %s, want %s", i, ev.ID, c.id)
		}
		if ev.Status != c.want {
			t.Errorf("%s: status %s, want %s", c.id, ev.Status, c.want)
		}
		switch {
		case c.deciding == nil && len(ev.Attempts) != 0:
			t.Errorf("%s: attempts %+v, want none", c.id, ev.Attempts)
		case c.deciding != nil && (len(ev.Attempts) != 1 || ev.Attempts[0].Target != c.deciding.target || ev.Attempts[0].Outcome != c.deciding.outcome):
			t.Errorf("%s: attempts %+v, want %+v", c.id, ev.Attempts, *c.deciding)
		}
		g, err := rd.Get(ctxT(t), "u1", c.id, targets, true)
		if err != nil {
			t.Fatal(err)
		}
		if g.Status != c.want || len(g.Attempts) != len(c.attempts) {
			t.Errorf("Get %s: status %s with %d attempts", c.id, g.Status, len(g.Attempts))
		}
	}
	if last := l.Items[len(cases)]; last.ID != rej.ID || last.Status != "" || len(last.Attempts) != 0 {
		t.Errorf("rejected: %+v", last)
	}

	for _, c := range []struct {
		status eventsv1.Status
		want   []string
	}{
		{eventsv1.StatusFailed, []string{"delivered-failed", "retried-into-dead", "dead-and-retrying"}},
		{eventsv1.StatusDeadLettered, []string{"retried-into-dead", "dead-and-retrying"}},
		{eventsv1.StatusRetrying, []string{"delivered-failed"}},
		{eventsv1.StatusPending, []string{"none", "dead-then-retried", "one-waiting"}},
		{eventsv1.StatusDelivered, []string{"delivered-dropped", "failed-then-delivered", "removed-target-ignored"}},
		{eventsv1.StatusDropped, []string{"dropped-dropped"}},
	} {
		if got := ids(list(t, rd, "u1", targets, eventsv1.Query{Status: c.status})); !slices.Equal(got, c.want) {
			t.Errorf("status %s: %v, want %v", c.status, got, c.want)
		}
	}

	// A single target.
	if ev, _ := rd.Get(ctxT(t), "u1", "delivered-failed", []string{"b"}, true); ev.Status != eventsv1.StatusRetrying {
		t.Errorf("target b alone: %s", ev.Status)
	}
	if ev, _ := rd.Get(ctxT(t), "u1", "delivered-failed", []string{"a"}, true); ev.Status != eventsv1.StatusDelivered {
		t.Errorf("target a alone: %s", ev.Status)
	}
	// Targets unknown: every target that has an attempt counts.
	l = list(t, rd, "u1", nil, eventsv1.Query{})
	for i, want := range map[int]eventsv1.Status{0: eventsv1.StatusPending, 6: eventsv1.StatusDelivered, 9: eventsv1.StatusDeadLettered} {
		if l.Items[i].Status != want {
			t.Errorf("no targets, %s: %s, want %s", l.Items[i].ID, l.Items[i].Status, want)
		}
	}
}

func TestListPagination(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	now := time.Now()
	var all, acc, failed []string
	for i := range 30 {
		if i%6 == 5 {
			ev := rejected(now)
			r.Request("u1", keep, ev)
			all = append(all, ev.ID)
			continue
		}
		id := fmt.Sprintf("ev%02d", i)
		r.Request("u1", keep, accepted(id, now))
		all, acc = append(all, id), append(acc, id)
		if i%4 == 0 {
			r.Attempt("u1", keep, &eventsv1.Attempt{EventID: id, Target: "a", Outcome: eventsv1.AttemptFailed})
			failed = append(failed, id)
		}
	}
	flush(t, r)
	rd := NewReader(js)
	pages := func(q eventsv1.Query) (got []string, sizes []int) {
		t.Helper()
		for range 100 {
			l := list(t, rd, "u1", []string{"a"}, q)
			got = append(got, ids(l)...)
			sizes = append(sizes, len(l.Items))
			if l.Continue == "" {
				return got, sizes
			}
			q.Continue = l.Continue
		}
		t.Fatal("no end of pages")
		return nil, nil
	}
	for _, c := range []struct {
		name  string
		q     eventsv1.Query
		want  []string
		sizes []int
	}{
		// The third page ends with the stream: no Continue, no empty page.
		{"all by 10", eventsv1.Query{Limit: 10}, all, []int{10, 10, 10}},
		{"all by 7", eventsv1.Query{Limit: 7}, all, []int{7, 7, 7, 7, 2}},
		{"accepted by 4", eventsv1.Query{Limit: 4, Outcome: eventsv1.OutcomeAccepted}, acc, []int{4, 4, 4, 4, 4, 4, 1}},
		{"failed by 2", eventsv1.Query{Limit: 2, Status: eventsv1.StatusFailed}, failed, nil},
		{"one page", eventsv1.Query{}, all, []int{30}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, sizes := pages(c.q)
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %v\nwant %v", got, c.want)
			}
			if c.sizes != nil && !slices.Equal(sizes, c.sizes) {
				t.Errorf("page sizes %v, want %v", sizes, c.sizes)
			}
		})
	}
}

func TestListLimits(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	now := time.Now()
	for i := range eventsv1.MaxLimit + 10 {
		r.Request("u1", keep, accepted(fmt.Sprintf("e%03d", i), now))
	}
	flush(t, r)
	rd := NewReader(js)
	l := list(t, rd, "u1", nil, eventsv1.Query{})
	if len(l.Items) != eventsv1.DefaultLimit || l.Continue == "" || l.Scanned != eventsv1.DefaultLimit {
		t.Errorf("default limit: %d items, scanned %d, continue %q", len(l.Items), l.Scanned, l.Continue)
	}
	l = list(t, rd, "u1", nil, eventsv1.Query{Limit: 10 * eventsv1.MaxLimit})
	if len(l.Items) != eventsv1.MaxLimit || l.Continue == "" {
		t.Errorf("capped limit: %d items, continue %q", len(l.Items), l.Continue)
	}
	l = list(t, rd, "u1", nil, eventsv1.Query{Limit: 100, Continue: l.Continue})
	if len(l.Items) != 10 || l.Items[0].ID != "e500" || l.Continue != "" {
		t.Errorf("rest: %d items from %s, continue %q", len(l.Items), l.Items[0].ID, l.Continue)
	}
}

// A page stops at its scan bound (eventsv1.MaxScan records) with a
// Continue, even with no match, and the next one goes on from there.
func TestListScanBound(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{MaxPending: 1 << 16})
	now := time.Now()
	p := &Policy{MaxBodyBytes: -1}
	for i := range eventsv1.MaxScan + 10 {
		r.Request("u1", p, &eventsv1.Event{ID: fmt.Sprintf("e%05d", i), Time: now, Outcome: eventsv1.OutcomeHandshake})
	}
	flush(t, r)
	if n := value(t, r.m.records[kindRequest]); n != eventsv1.MaxScan+10 {
		t.Fatalf("%d records stored", n)
	}
	rd := NewReader(js)
	l := list(t, rd, "u1", nil, eventsv1.Query{Type: "none"})
	if len(l.Items) != 0 || l.Continue == "" || l.Scanned != eventsv1.MaxScan {
		t.Fatalf("first page: %d items, scanned %d, continue %q", len(l.Items), l.Scanned, l.Continue)
	}
	l = list(t, rd, "u1", nil, eventsv1.Query{Continue: l.Continue, Limit: 100})
	if len(l.Items) != 10 || l.Items[0].ID != fmt.Sprintf("e%05d", eventsv1.MaxScan) || l.Continue != "" || l.Scanned != 10 {
		t.Fatalf("second page: %v, scanned %d, continue %q", ids(l), l.Scanned, l.Continue)
	}
}

// A call out of time before it read anything says so.
func TestListOutOfTime(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	r.Request("u1", keep, accepted("e", time.Now()))
	flush(t, r)
	rd := NewReader(js)
	rd.timeout = time.Nanosecond
	if l, err := rd.List(ctxT(t), "u1", nil, eventsv1.Query{}, true); err == nil {
		t.Fatalf("no error out of time: %+v", l)
	}
}

func TestListSinceUntil(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	t0 := time.Now()
	for i, id := range []string{"h3", "h2", "h1", "h0"} {
		r.Request("u1", keep, accepted(id, t0.Add(-time.Duration(3-i)*time.Hour)))
	}
	flush(t, r)
	rd := NewReader(js)
	l := list(t, rd, "u1", nil, eventsv1.Query{Since: t0.Add(-2*time.Hour - time.Minute)})
	if got := ids(l); !slices.Equal(got, []string{"h2", "h1", "h0"}) {
		t.Errorf("since: %v", got)
	}
	l = list(t, rd, "u1", nil, eventsv1.Query{Until: t0.Add(-2 * time.Hour)}) // exclusive
	if got := ids(l); !slices.Equal(got, []string{"h3"}) || l.Continue != "" {
		t.Errorf("until: %v (continue %q)", got, l.Continue)
	}
	// It stopped at the first record well past Until: h1 was not read.
	if l.Scanned != 3 {
		t.Errorf("until: scanned %d, want 3", l.Scanned)
	}
	l = list(t, rd, "u1", nil, eventsv1.Query{Since: t0.Add(-150 * time.Minute), Until: t0.Add(-30 * time.Minute)})
	if got := ids(l); !slices.Equal(got, []string{"h2", "h1"}) {
		t.Errorf("since and until: %v", got)
	}
	// Since after everything: nothing, at once.
	begin := time.Now()
	l = list(t, rd, "u1", nil, eventsv1.Query{Since: t0.Add(time.Hour)})
	if len(l.Items) != 0 || l.Continue != "" || time.Since(begin) > time.Second {
		t.Errorf("since later: %+v in %v", l, time.Since(begin))
	}
}

func TestListAndGetWithoutBodies(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	r.Request("u1", keep, accepted("e1", time.Now()))
	r.Attempt("u1", keep, &eventsv1.Attempt{EventID: "e1", Target: "a", Outcome: eventsv1.AttemptFailed, Response: []byte("oops")})
	r.Request("u1", keep, rejected(time.Now()))
	flush(t, r)
	rd := NewReader(js)
	l, err := rd.List(ctxT(t), "u1", []string{"a"}, eventsv1.Query{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 2 {
		t.Fatalf("%d items", len(l.Items))
	}
	for _, ev := range l.Items {
		if ev.Headers != nil || ev.Body != nil || !ev.Hidden {
			t.Errorf("%s not stripped: %+v", ev.ID, ev)
		}
		for _, a := range ev.Attempts {
			if a.Response != nil {
				t.Errorf("%s: response kept", ev.ID)
			}
		}
	}
	if len(l.Items[0].Attempts) != 1 || l.Items[0].Attempts[0].Outcome != eventsv1.AttemptFailed {
		t.Errorf("attempt metadata lost: %+v", l.Items[0].Attempts)
	}
	ev, err := rd.Get(ctxT(t), "u1", "e1", []string{"a"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Headers != nil || ev.Body != nil || !ev.Hidden || len(ev.Attempts) != 1 || ev.Attempts[0].Response != nil {
		t.Errorf("Get not stripped: %+v", ev)
	}
	ev, _ = rd.Get(ctxT(t), "u1", "e1", []string{"a"}, true)
	if ev.Hidden || string(ev.Attempts[0].Response) != "oops" || ev.Body == nil {
		t.Errorf("Get with bodies: %+v", ev)
	}
}

func TestGet(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	now := time.Now()
	r.Request("u1", keep, accepted("e1", now))
	r.Request("u2", keep, accepted("e1", now)) // same id, other endpoint
	seq := []att{{"b", eventsv1.AttemptFailed}, {"a", eventsv1.AttemptDelivered}, {"b", eventsv1.AttemptFailed}, {"b", eventsv1.AttemptDelivered}}
	for i, a := range seq {
		r.Attempt("u1", keep, &eventsv1.Attempt{EventID: "e1", Target: a.target, Attempt: i + 1, Outcome: a.outcome})
		r.Attempt("u1", keep, &eventsv1.Attempt{EventID: "e2", Target: a.target, Outcome: eventsv1.AttemptDeadLettered})
	}
	r.Attempt("u2", keep, &eventsv1.Attempt{EventID: "e1", Target: "a", Outcome: eventsv1.AttemptDeadLettered})
	flush(t, r)
	rd := NewReader(js)
	ev, err := rd.Get(ctxT(t), "u1", "e1", []string{"a", "b"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != eventsv1.StatusDelivered {
		t.Errorf("status %s", ev.Status)
	}
	if len(ev.Attempts) != len(seq) {
		t.Fatalf("attempts %+v", ev.Attempts)
	}
	for i, a := range ev.Attempts {
		if a.Attempt != i+1 || a.Target != seq[i].target || a.Outcome != seq[i].outcome || a.EventID != "e1" {
			t.Errorf("attempt %d: %+v", i, a)
		}
	}
	if ev, err := rd.Get(ctxT(t), "u2", "e1", []string{"a"}, true); err != nil || ev.Status != eventsv1.StatusDeadLettered || len(ev.Attempts) != 1 {
		t.Errorf("u2: %+v %v", ev, err)
	}
	for _, id := range []string{"missing", "e2", "e>", "e*", "*", ">", "e1.x", "e 1", ""} {
		if _, err := rd.Get(ctxT(t), "u1", id, nil, true); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
	}
	if _, err := rd.Get(ctxT(t), "u*", "e1", nil, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get with a wildcard uid: %v", err)
	}
}

// An attempt that lands before its request record (asynchronous writes
// race) is still the event's.
func TestGetAttemptBeforeItsRequest(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	r.Attempt("u1", keep, &eventsv1.Attempt{EventID: "e1", Target: "a", Outcome: eventsv1.AttemptDelivered})
	flush(t, r)
	r.Request("u1", keep, accepted("e1", time.Now()))
	flush(t, r)
	ev, err := NewReader(js).Get(ctxT(t), "u1", "e1", []string{"a"}, true)
	if err != nil || ev.Status != eventsv1.StatusDelivered || len(ev.Attempts) != 1 {
		t.Fatalf("%+v %v", ev, err)
	}
}

func TestWatch(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	r.Request("u1", keep, accepted("before", time.Now()))
	flush(t, r)
	rd := NewReader(js)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan eventsv1.WatchEvent, 10)
	stop := errors.New("enough")
	done := make(chan error, 1)
	go func() {
		n := 0
		done <- rd.Watch(ctx, "u1", false, func(we eventsv1.WatchEvent) error {
			got <- we
			if n++; n == 3 {
				return stop
			}
			return nil
		})
	}()
	waitConsumers(t, js, 1)
	r.Request("u2", keep, accepted("other", time.Now()))
	r.Request("u1", keep, accepted("new", time.Now()))
	r.Attempt("u1", keep, &eventsv1.Attempt{EventID: "new", Target: "a", Outcome: eventsv1.AttemptFailed, Response: []byte("x")})
	r.Request("u1", keep, rejected(time.Now()))
	flush(t, r)
	recv := func() eventsv1.WatchEvent {
		select {
		case we := <-got:
			return we
		case <-time.After(5 * time.Second):
			t.Fatal("no watch event")
		}
		return eventsv1.WatchEvent{}
	}
	we := recv()
	if we.Type != eventsv1.WatchTypeEvent || we.Event == nil || we.Event.ID != "new" || we.Event.Status != eventsv1.StatusPending ||
		!we.Event.Hidden || we.Event.Body != nil || we.Event.Headers != nil {
		t.Errorf("first: %+v %+v", we, we.Event)
	}
	we = recv()
	if we.Type != eventsv1.WatchTypeAttempt || we.Attempt == nil || we.Attempt.EventID != "new" || we.Attempt.Response != nil {
		t.Errorf("second: %+v %+v", we, we.Attempt)
	}
	we = recv()
	if we.Type != eventsv1.WatchTypeEvent || we.Event.Outcome != eventsv1.OutcomeRejected || we.Event.Status != "" {
		t.Errorf("third: %+v", we.Event)
	}
	select {
	case err := <-done:
		if !errors.Is(err, stop) {
			t.Fatalf("Watch returned %v, want fn's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return fn's error")
	}

	// The end of ctx ends it without an error.
	wctx, wcancel := context.WithCancel(context.Background())
	go func() { done <- rd.Watch(wctx, "u1", true, func(eventsv1.WatchEvent) error { return nil }) }()
	waitConsumers(t, js, 1)
	wcancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watch ended by ctx: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not end with its ctx")
	}
}

// waitConsumers waits until the stream has at least n consumers.
func waitConsumers(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := js.Stream(context.Background(), Stream)
		if err != nil {
			t.Fatal(err)
		}
		if s.CachedInfo().State.Consumers >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no consumer after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTrim(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	now := time.Now()
	for i := range 10 {
		id := fmt.Sprintf("r%d", i)
		r.Request("u1", keep, accepted(id, now))
		r.Attempt("u1", keep, &eventsv1.Attempt{EventID: id, Target: "a", Outcome: eventsv1.AttemptDelivered})
	}
	for i := range 3 {
		r.Request("u2", keep, accepted(fmt.Sprintf("o%d", i), now))
	}
	flush(t, r)
	ctx := ctxT(t)
	old := trimMargin
	trimMargin = 0
	defer func() { trimMargin = old }()

	// Each request has its own subject: a Keep applied per subject
	// would keep them all.
	if err := Trim(ctx, js, "u1", 3); err != nil {
		t.Fatal(err)
	}
	l := list(t, NewReader(js), "u1", []string{"a"}, eventsv1.Query{})
	if got := ids(l); !slices.Equal(got, []string{"r7", "r8", "r9"}) {
		t.Fatalf("kept %v, want r7 r8 r9", got)
	}
	for _, ev := range l.Items {
		if ev.Status != eventsv1.StatusDelivered {
			t.Errorf("%s lost its attempt: %s", ev.ID, ev.Status)
		}
	}
	if n := count(t, js, attemptFilter("u1")); n != 3 {
		t.Errorf("%d attempts left, want the 3 of the requests kept", n)
	}
	if n := count(t, js, endpointFilter("u2")); n != 3 {
		t.Errorf("other endpoint: %d records", n)
	}
	// Keeping more than there is changes nothing.
	if err := Trim(ctx, js, "u1", 100); err != nil {
		t.Fatal(err)
	}
	if n := count(t, js, endpointFilter("u1")); n != 6 {
		t.Errorf("%d records after a Trim above the count", n)
	}

	// With the margin, an attempt that raced ahead of the oldest request
	// kept stays.
	trimMargin = old
	r.Attempt("u1", keep, &eventsv1.Attempt{EventID: "r10", Target: "a", Outcome: eventsv1.AttemptDelivered})
	flush(t, r)
	r.Request("u1", keep, accepted("r10", now))
	flush(t, r)
	if err := Trim(ctx, js, "u1", 1); err != nil {
		t.Fatal(err)
	}
	if ev, err := NewReader(js).Get(ctx, "u1", "r10", []string{"a"}, true); err != nil || ev.Status != eventsv1.StatusDelivered {
		t.Errorf("r10: %+v %v", ev, err)
	}
	if n := count(t, js, requestFilter("u1")); n != 1 {
		t.Errorf("%d requests after Trim 1", n)
	}

	// Keep 0 keeps none, attempts included.
	if err := Trim(ctx, js, "u1", 0); err != nil {
		t.Fatal(err)
	}
	if n := count(t, js, endpointFilter("u1")); n != 0 {
		t.Errorf("%d records after Trim 0", n)
	}
	if err := Trim(ctx, js, "u1.>", 1); err == nil {
		t.Error("Trim with a wildcard uid")
	}
}

func TestPurge(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	for _, uid := range []string{"u1", "u2"} {
		r.Request(uid, keep, accepted("e", time.Now()))
		r.Request(uid, keep, rejected(time.Now()))
		r.Attempt(uid, keep, &eventsv1.Attempt{EventID: "e", Target: "a", Outcome: eventsv1.AttemptDelivered})
	}
	flush(t, r)
	if err := Purge(ctxT(t), js, "u1"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, js, endpointFilter("u1")); n != 0 {
		t.Errorf("%d records of u1 after Purge", n)
	}
	if n := count(t, js, endpointFilter("u2")); n != 3 {
		t.Errorf("%d records of u2", n)
	}
	for _, uid := range []string{"*", ">", "u2.>", ""} {
		if err := Purge(ctxT(t), js, uid); err == nil {
			t.Errorf("Purge(%q) accepted", uid)
		}
	}
	if n := count(t, js, endpointFilter("u2")); n != 3 {
		t.Errorf("%d records of u2 after refused purges", n)
	}
}

// Without the stream (no receiver made it yet) there is nothing to read.
func TestMissingStream(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	rd := NewReader(q.JS)
	if l, err := rd.List(ctxT(t), "u1", nil, eventsv1.Query{}, true); err != nil || len(l.Items) != 0 {
		t.Errorf("List: %+v %v", l, err)
	}
	if _, err := rd.Get(ctxT(t), "u1", "e", nil, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get: %v", err)
	}
	if err := Trim(ctxT(t), q.JS, "u1", 5); err != nil {
		t.Errorf("Trim: %v", err)
	}
	if err := Purge(ctxT(t), q.JS, "u1"); err != nil {
		t.Errorf("Purge: %v", err)
	}
}

// A stream without direct gets is read through the stream API.
func TestReaderWithoutDirectGets(t *testing.T) {
	js := start(t)
	cfg := StreamOptions{}.config()
	cfg.AllowDirect = false
	if _, err := js.UpdateStream(ctxT(t), cfg); err != nil {
		t.Fatal(err)
	}
	r := NewRecorder(js, RecorderOptions{})
	r.Request("u1", keep, accepted("e1", time.Now()))
	r.Request("u1", keep, accepted("e2", time.Now()))
	r.Attempt("u1", keep, &eventsv1.Attempt{EventID: "e1", Target: "a", Outcome: eventsv1.AttemptFailed})
	r.Attempt("u1", keep, &eventsv1.Attempt{EventID: "e1", Target: "a", Outcome: eventsv1.AttemptDeadLettered})
	r.Attempt("u1", keep, &eventsv1.Attempt{EventID: "e2", Target: "a", Outcome: eventsv1.AttemptDelivered})
	flush(t, r)
	rd := NewReader(NewReaderJS(t, js))
	l := list(t, rd, "u1", []string{"a"}, eventsv1.Query{})
	if len(l.Items) != 2 || l.Items[0].Status != eventsv1.StatusDeadLettered || l.Items[1].Status != eventsv1.StatusDelivered {
		t.Fatalf("%+v", l.Items)
	}
	ev, err := rd.Get(ctxT(t), "u1", "e1", []string{"a"}, true)
	if err != nil || len(ev.Attempts) != 2 || ev.Status != eventsv1.StatusDeadLettered {
		t.Fatalf("%+v %v", ev, err)
	}
	if _, err := rd.Get(ctxT(t), "u1", "nope", nil, true); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

// NewReaderJS returns a fresh JetStream context on js's connection, so
// that no stream info cached before the update is used.
func NewReaderJS(t *testing.T, js jetstream.JetStream) jetstream.JetStream {
	t.Helper()
	fresh, err := jetstream.New(js.Conn())
	if err != nil {
		t.Fatal(err)
	}
	return fresh
}

func TestEnsure(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	ctx := ctxT(t)
	if err := Ensure(ctx, q.JS, StreamOptions{MaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	s, err := q.JS.Stream(ctx, Stream)
	if err != nil {
		t.Fatal(err)
	}
	c := s.CachedInfo().Config
	if !c.AllowMsgTTL || !c.AllowDirect || c.Storage != jetstream.FileStorage || c.Retention != jetstream.LimitsPolicy ||
		c.MaxAge != DefaultMaxAge || c.MaxBytes != 1<<20 || c.Discard != jetstream.DiscardOld || c.Replicas != 1 || c.Description == "" {
		t.Fatalf("config %+v", c)
	}
	// Again with the same options: looked at, not updated.
	apiCalls := func() uint64 {
		a, err := q.JS.AccountInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return a.API.Total
	}
	before := apiCalls()
	if err := Ensure(ctx, q.JS, StreamOptions{MaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if n := apiCalls() - before; n != 2 { // the stream's info, and this account info
		t.Errorf("a second Ensure made %d API calls, want 2 (no update)", n)
	}
	if err := Ensure(ctx, q.JS, StreamOptions{MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	s, _ = q.JS.Stream(ctx, Stream)
	if c := s.CachedInfo().Config; c.MaxAge != time.Hour || c.MaxBytes != -1 {
		t.Errorf("updated config %+v", c)
	}
}
