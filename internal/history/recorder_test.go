package history

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

func TestRecorderRedactsAcceptedAndStoresNothingElse(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	p := PolicyFor(hookv1.HistorySpec{RedactHeaders: []string{"x-customer"}, RedactFields: []string{"customer.email"}})
	ev := accepted("ev1", time.Now())
	ev.Headers["X-Customer"] = []string{"ann"}
	ev.Body = []byte(`{"customer":{"email":"a@b.c","id":7}}`)
	before := *ev
	before.Headers = cloneHeaders(ev.Headers)
	before.Body = slices.Clone(ev.Body)
	rej := rejected(time.Now())
	rej.Status = eventsv1.StatusPending // not stored for a rejected request
	r.Request("u1", p, ev)
	r.Request("u1", p, rej)
	flush(t, r)
	if !reflect.DeepEqual(*ev, before) {
		t.Fatalf("Request modified its event:\n%+v\n%+v", *ev, before)
	}

	rd := NewReader(js)
	got, err := rd.Get(ctxT(t), "u1", "ev1", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Headers["X-Customer"][0] != RedactedValue || got.Headers["X-Github-Event"][0] != "push" {
		t.Errorf("headers %v", got.Headers)
	}
	if string(got.Body) != `{"customer":{"email":"[REDACTED]","id":7}}` {
		t.Errorf("body %s", got.Body)
	}
	if !slices.Equal(got.Redacted, []string{"X-Customer", "customer.email"}) || got.BodyOmitted || got.BodyTruncated {
		t.Errorf("redacted %v omitted %v truncated %v", got.Redacted, got.BodyOmitted, got.BodyTruncated)
	}
	if got.Hidden {
		t.Error("hidden with bodies")
	}
	g, err := rd.Get(ctxT(t), "u1", rej.ID, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if g.Headers != nil || g.Body != nil || g.Status != "" || g.Reason != "SignatureMismatch" || g.Code != 401 || g.Size != 10 {
		t.Errorf("rejected record: %+v", g)
	}
	if n := value(t, r.m.records[kindRequest]); n != 2 {
		t.Errorf("records_total{request} = %d", n)
	}
}

func TestRecorderTTLAndMsgID(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	p := PolicyFor(hookv1.HistorySpec{Retention: &metav1.Duration{Duration: 90 * time.Minute}})
	ev := accepted("ttl1", time.Now())
	r.Request("u1", p, ev)
	r.Request("u1", p, ev) // a repeat: stored once
	r.Attempt("u1", p, &eventsv1.Attempt{EventID: "ttl1", Target: "a", Outcome: eventsv1.AttemptDelivered})
	flush(t, r)
	s, err := js.Stream(ctxT(t), Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctxT(t), RequestSubject("u1", "ttl1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get(jetstream.MsgTTLHeader); got != "5400" {
		t.Errorf("request Nats-TTL %q, want 5400 (90m)", got)
	}
	if got := m.Header.Get(jetstream.MsgIDHeader); got != RequestSubject("u1", "ttl1") {
		t.Errorf("Nats-Msg-Id %q", got)
	}
	a, err := s.GetLastMsgForSubject(ctxT(t), AttemptSubject("u1", "ttl1", "a"))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Header.Get(jetstream.MsgTTLHeader); got != "5400" {
		t.Errorf("attempt Nats-TTL %q", got)
	}
	if n := count(t, js, requestFilter("u1")); n != 1 {
		t.Errorf("%d request records, want 1", n)
	}
}

func TestRecordExpiresByTTL(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	r.Request("u1", &Policy{Retention: time.Second, MaxBodyBytes: -1}, accepted("short", time.Now()))
	flush(t, r)
	if n := count(t, js, requestFilter("u1")); n != 1 {
		t.Fatalf("%d records", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for count(t, js, requestFilter("u1")) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("record with a 1s TTL still there after 5s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRecorderAttemptResponseCut(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	p := PolicyFor(hookv1.HistorySpec{})
	resp := bytes.Repeat([]byte("r"), 3000)
	a := &eventsv1.Attempt{EventID: "e", Target: "a", Outcome: eventsv1.AttemptFailed, Response: resp}
	r.Request("u1", p, accepted("e", time.Now()))
	r.Attempt("u1", p, a)
	flush(t, r)
	if len(a.Response) != 3000 {
		t.Fatal("Attempt modified its attempt")
	}
	ev, err := NewReader(js).Get(ctxT(t), "u1", "e", []string{"a"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Attempts) != 1 || len(ev.Attempts[0].Response) != eventsv1.MaxResponseBytes {
		t.Fatalf("attempts %+v", ev.Attempts)
	}
}

func TestRecorderDisabledRecordsNothing(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	off := PolicyFor(hookv1.HistorySpec{Disabled: true})
	r.Request("u1", off, accepted("e", time.Now()))
	r.Request("u1", off, rejected(time.Now()))
	r.Attempt("u1", off, &eventsv1.Attempt{EventID: "e", Outcome: eventsv1.AttemptDelivered})
	r.Request("u1", nil, accepted("f", time.Now()))
	r.Attempt("u1", nil, &eventsv1.Attempt{EventID: "f", Outcome: eventsv1.AttemptDelivered})
	var nilRec *Recorder
	nilRec.Request("u1", PolicyFor(hookv1.HistorySpec{}), accepted("g", time.Now()))
	nilRec.Attempt("u1", PolicyFor(hookv1.HistorySpec{}), &eventsv1.Attempt{EventID: "g"})
	if err := nilRec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Something recorded after them, so that they would have been stored by now.
	r.Request("u2", PolicyFor(hookv1.HistorySpec{}), accepted("h", time.Now()))
	flush(t, r)
	if n := count(t, js, endpointFilter("u1")); n != 0 {
		t.Fatalf("%d records of a disabled endpoint", n)
	}
	if n := count(t, js, endpointFilter("u2")); n != 1 {
		t.Fatalf("%d records of the enabled one", n)
	}
}

func TestRecorderRejectsUnsafeTokens(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{})
	p := PolicyFor(hookv1.HistorySpec{})
	r.Request("u1.x", p, accepted("e", time.Now()))
	r.Request("*", p, accepted("e", time.Now()))
	r.Request("u1", p, accepted("e.>", time.Now()))
	r.Request("u1", p, accepted("", time.Now()))
	r.Attempt("u1", p, &eventsv1.Attempt{EventID: "a b"})
	// A target is made a token, not refused.
	r.Attempt("u1", p, &eventsv1.Attempt{EventID: "ok", Target: "we.ird *>name"})
	flush(t, r)
	if n := value(t, r.m.droppedErr[kindRequest]); n != 4 {
		t.Errorf("dropped{request,error} = %d, want 4", n)
	}
	if n := value(t, r.m.droppedErr[kindAttempt]); n != 1 {
		t.Errorf("dropped{attempt,error} = %d, want 1", n)
	}
	if n := count(t, js, AttemptSubject("u1", "ok", "we_ird___name")); n != 1 {
		t.Errorf("sanitised target: %d records", n)
	}
	if n := count(t, js, ">"); n != 1 {
		t.Errorf("%d records in all, want 1", n)
	}
}

func TestTargetToken(t *testing.T) {
	for in, want := range map[string]string{"web": "web", "": "_", "a.b": "a_b", "a*b>c d\te": "a_b_c_d_e", "ünï": "ünï"} {
		if got := TargetToken(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if got := AttemptSubject("u", "i", "a.b"); got != "hookgate.history.u.att.i.a_b" {
		t.Error(got)
	}
	if got := RequestSubject("u", "i"); got != "hookgate.history.u.req.i" {
		t.Error(got)
	}
}

// The budget of rejected (and error) records: a burst of twice the rate,
// then the rate, per endpoint, on a fake clock.
func TestRecorderRejectedBudget(t *testing.T) {
	js := start(t)
	r := NewRecorder(js, RecorderOptions{RejectedPerSecond: 5})
	now := time.Unix(1_700_000_000, 0)
	r.now = func() time.Time { return now }
	p := PolicyFor(hookv1.HistorySpec{})
	for range 30 {
		r.Request("u1", p, rejected(now))
	}
	for range 3 {
		e := rejected(now)
		e.Outcome = eventsv1.OutcomeError
		r.Request("u1", p, e)
	}
	// Other outcomes have no budget.
	for i := range 20 {
		r.Request("u1", p, accepted(nuid.Next(), now))
		d := rejected(now)
		d.Outcome = eventsv1.OutcomeDuplicate
		r.Request("u1", p, d)
		if i < 5 {
			h := rejected(now)
			h.Outcome = eventsv1.OutcomeHandshake
			r.Request("u1", p, h)
		}
	}
	// Another endpoint has its own.
	for range 12 {
		r.Request("u2", p, rejected(now))
	}
	flush(t, r)
	// u1: 10 of 33; u2: 10 of 12.
	if n := value(t, r.m.suppressed); n != 23+2 {
		t.Errorf("suppressed %d, want 25", n)
	}
	if n := count(t, js, endpointFilter("u1")); n != 10+20+20+5 {
		t.Errorf("u1 has %d records, want 55", n)
	}
	if n := count(t, js, endpointFilter("u2")); n != 10 {
		t.Errorf("u2 has %d records, want 10", n)
	}
	// 1.5 s later: 7 more tokens (7.5).
	now = now.Add(1500 * time.Millisecond)
	for range 10 {
		r.Request("u1", p, rejected(now))
	}
	flush(t, r)
	if n := value(t, r.m.suppressed); n != 25+3 {
		t.Errorf("suppressed %d after refill, want 28", n)
	}
}

// At MaxPending records awaiting their ack, a record is dropped and
// counted, not waited for.
func TestRecorderMaxPendingDrops(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	// No stream: a subscriber that never answers stands in for a server
	// that does not ack.
	sub, err := q.NC.SubscribeSync("hookgate.history.>")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe() //nolint:errcheck
	r := NewRecorder(q.JS, RecorderOptions{MaxPending: 1})
	p := PolicyFor(hookv1.HistorySpec{})
	begin := time.Now()
	r.Request("u1", p, accepted("a", time.Now()))
	r.Request("u1", p, accepted("b", time.Now()))
	r.Attempt("u1", p, &eventsv1.Attempt{EventID: "a", Outcome: eventsv1.AttemptDelivered})
	if d := time.Since(begin); d > 100*time.Millisecond {
		t.Errorf("recording at the bound took %v", d)
	}
	if _, err := sub.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("the first record was not sent: %v", err)
	}
	if _, err := sub.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatal("a record over the bound was sent")
	}
	if n := value(t, r.m.droppedPend[kindRequest]); n != 1 {
		t.Errorf("dropped{request,pending} = %d", n)
	}
	if n := value(t, r.m.droppedPend[kindAttempt]); n != 1 {
		t.Errorf("dropped{attempt,pending} = %d", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.Close(ctx); err == nil || !strings.Contains(err.Error(), "1 history records") {
		t.Errorf("Close with a record unacked: %v", err)
	}
}

// A failed publish (no stream) is counted from the error handler, and frees its slot.
func TestRecorderAsyncErrorCounted(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	r := NewRecorder(q.JS, RecorderOptions{MaxPending: 1})
	p := PolicyFor(hookv1.HistorySpec{})
	r.Attempt("u1", p, &eventsv1.Attempt{EventID: "a", Outcome: eventsv1.AttemptDelivered})
	flush(t, r) // the publisher gives up after its retries
	if n := value(t, r.m.droppedErr[kindAttempt]); n != 1 {
		t.Fatalf("dropped{attempt,error} = %d", n)
	}
	if n := r.pending.Load(); n != 0 {
		t.Fatalf("%d pending after the failure", n)
	}
	// The slot is free again: the next one is sent, not dropped as pending.
	r.Attempt("u1", p, &eventsv1.Attempt{EventID: "b", Outcome: eventsv1.AttemptDelivered})
	flush(t, r)
	if n, m := value(t, r.m.droppedErr[kindAttempt]), value(t, r.m.droppedPend[kindAttempt]); n != 2 || m != 0 {
		t.Fatalf("dropped error %d pending %d", n, m)
	}
}

func TestRecorderMetricsRegistered(t *testing.T) {
	js := start(t)
	reg := prometheus.NewRegistry()
	r1 := NewRecorder(js, RecorderOptions{Registerer: reg})
	r2 := NewRecorder(js, RecorderOptions{Registerer: reg}) // same names: shares the collectors
	p := PolicyFor(hookv1.HistorySpec{})
	r1.Request("u1", p, accepted("a", time.Now()))
	r2.Attempt("u1", p, &eventsv1.Attempt{EventID: "a", Outcome: eventsv1.AttemptDelivered})
	flush(t, r1)
	flush(t, r2)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue()
		}
	}
	for key, want := range map[string]float64{
		"hookgate_history_records_total,kind=request":                1,
		"hookgate_history_records_total,kind=attempt":                1,
		"hookgate_history_dropped_total,kind=request,reason=pending": 0,
		"hookgate_history_dropped_total,kind=attempt,reason=error":   0,
		"hookgate_history_suppressed_total":                          0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}

func TestStartEnsuresTheStream(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	r, err := Start(ctxT(t), q.NC, StreamOptions{MaxBytes: 1 << 20}, RecorderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Request("u1", PolicyFor(hookv1.HistorySpec{}), accepted("a", time.Now()))
	flush(t, r)
	if n := count(t, q.JS, endpointFilter("u1")); n != 1 {
		t.Fatalf("%d records", n)
	}
}
