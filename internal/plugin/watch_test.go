package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

// stream answers a watch: each line flushed, then it holds the watch open
// until the client goes away (or returns at once with end).
func stream(lines []eventsv1.WatchEvent, end bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		fl.Flush()
		for _, l := range lines {
			_ = json.NewEncoder(w).Encode(l)
			fl.Flush()
		}
		if !end {
			<-r.Context().Done()
		}
	}
}

func evLine(ev eventsv1.Event) eventsv1.WatchEvent {
	return eventsv1.WatchEvent{Type: eventsv1.WatchTypeEvent, Event: &ev}
}

func atLine(a eventsv1.Attempt) eventsv1.WatchEvent {
	return eventsv1.WatchEvent{Type: eventsv1.WatchTypeAttempt, Attempt: &a}
}

// start runs the plugin until the test cancels it.
func start(t *testing.T, args ...string) (stdout, stderr *syncBuffer, stop func() int) {
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- newRunner(stdout, stderr).run(ctx, args) }()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the command did not end when cancelled")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return stdout, stderr, stop
}

func TestTailFollow(t *testing.T) {
	f := newFakeAPI(t)
	evC := eventsv1.Event{ID: "evt_c", Time: testNow.Add(-10 * time.Second), Outcome: eventsv1.OutcomeAccepted, Code: 200, Provider: "github",
		Status: eventsv1.StatusDelivered}
	evD := eventsv1.Event{ID: "evt_d", Time: testNow.Add(time.Second), Outcome: eventsv1.OutcomeAccepted, Code: 200, Type: "push",
		Status: eventsv1.StatusPending}
	att := eventsv1.Attempt{EventID: "evt_d", Target: "app", Attempt: 1, Time: testNow.Add(2 * time.Second), Outcome: eventsv1.AttemptFailed,
		Code: 503, LatencyMillis: 12, Reason: "HTTP503"}
	watch := stream([]eventsv1.WatchEvent{evLine(evC), evLine(evD), atLine(att), evLine(evB)}, false)
	f.handle("GET", epPath+"/events", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") == "true" {
			watch(w, r)
			return
		}
		writeJSON(w, 200, eventsv1.EventList{Items: []eventsv1.Event{evA, evC}})
	})
	out, errb, stop := start(t, append(f.direct(t), "tail", "stripe", "-f")...)
	want := "" +
		"2026-05-01T11:55:00Z evt_a accepted 200 invoice.paid DeadLettered\n" +
		"2026-05-01T11:59:50Z evt_c accepted 200 github Delivered\n" +
		"2026-05-01T12:00:01Z evt_d accepted 200 push Pending\n" +
		"2026-05-01T12:00:02Z evt_d -> app attempt 1 Failed 503 12ms HTTP503\n" +
		"2026-05-01T11:59:30Z rec_b rejected 401 stripe SignatureMismatch\n"
	waitFor(t, "the followed events", func() bool { return strings.Count(out.String(), "\n") >= 5 })
	if code := stop(); code != 0 {
		t.Fatalf("exit %d after cancel; stderr %q", code, errb.String())
	}
	if out.String() != want || errb.String() != "" {
		t.Fatalf("stdout:\n%s\nwant:\n%s\nstderr %q", out.String(), want, errb.String())
	}
	var list, watches int
	for _, r := range f.got() {
		checkAuth(t, r)
		switch {
		case reflect.DeepEqual(r.query, map[string][]string{"watch": {"true"}}):
			watches++
		case reflect.DeepEqual(r.query, map[string][]string{"since": {"2026-05-01T11:00:00Z"}, "limit": {"500"}}):
			list++
		default:
			t.Errorf("unexpected query %v", r.query)
		}
	}
	if list != 1 || watches != 1 {
		t.Fatalf("%d lists, %d watches", list, watches)
	}
}

func TestTailPagesKeepsTheLast(t *testing.T) {
	f := newFakeAPI(t)
	mk := func(ids ...string) []eventsv1.Event {
		var out []eventsv1.Event
		for i, id := range ids {
			out = append(out, eventsv1.Event{ID: id, Time: testNow.Add(time.Duration(i) * time.Second), Outcome: eventsv1.OutcomeAccepted, Code: 200})
		}
		return out
	}
	f.handle("GET", epPath+"/events", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("continue") {
		case "":
			writeJSON(w, 200, eventsv1.EventList{Items: mk("e1", "e2", "e3"), Continue: "p2"})
		case "p2":
			writeJSON(w, 200, eventsv1.EventList{Items: mk("e4"), Continue: "p3"})
		case "p3":
			writeJSON(w, 200, eventsv1.EventList{Items: mk("e5")})
		}
	})
	r := run(t, append(f.direct(t), "tail", "stripe", "--limit", "3", "--since", "30m")...)
	if r.code != 0 {
		t.Fatalf("exit %d %q", r.code, r.stderr)
	}
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		ids = append(ids, strings.Fields(l)[1])
	}
	if !reflect.DeepEqual(ids, []string{"e3", "e4", "e5"}) {
		t.Fatalf("ids %v\n%s", ids, r.stdout)
	}
	if reqs := f.got(); len(reqs) != 3 || reqs[0].query["since"][0] != "2026-05-01T11:30:00Z" || reqs[2].query["continue"][0] != "p3" {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestTailFollowReopensTheWatch(t *testing.T) {
	f := newFakeAPI(t)
	var mu sync.Mutex
	n := 0
	e1 := eventsv1.Event{ID: "w1", Time: testNow, Outcome: eventsv1.OutcomeAccepted, Code: 200, Type: "push"}
	e2 := eventsv1.Event{ID: "w2", Time: testNow, Outcome: eventsv1.OutcomeAccepted, Code: 200, Type: "push"}
	f.handle("GET", epPath+"/events", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		switch i {
		case 1:
			stream([]eventsv1.WatchEvent{evLine(e1)}, true)(w, r) // the server ends it
		case 2:
			writeJSON(w, 503, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
				Code: 503, Reason: metav1.StatusReasonServiceUnavailable, Message: "restarting"})
		default:
			stream([]eventsv1.WatchEvent{evLine(e2)}, false)(w, r)
		}
	})
	out, errb, stop := start(t, append(f.direct(t), "tail", "stripe", "-f", "--limit", "0")...)
	waitFor(t, "both watches", func() bool { return strings.Contains(out.String(), " w2 ") })
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), " w1 ") || !strings.Contains(errb.String(), "Warning: the watch ended (the server ended it); reopening it in") ||
		!strings.Contains(errb.String(), "Warning: reopening the watch failed: Error from server (ServiceUnavailable): restarting; trying again in") ||
		!strings.Contains(errb.String(), "events in between are not shown") {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
}

// target records the forwarded requests.
type fwdTarget struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func newTarget(t *testing.T) *fwdTarget {
	ft := &fwdTarget{}
	ft.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ft.mu.Lock()
		ft.reqs = append(ft.reqs, r)
		ft.body = append(ft.body, b)
		n := len(ft.reqs)
		ft.mu.Unlock()
		if n == 2 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(ft.srv.Close)
	return ft
}

func (ft *fwdTarget) count() int {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return len(ft.reqs)
}

func TestListenForwardsAcceptedEvents(t *testing.T) {
	f := newFakeAPI(t)
	ft := newTarget(t)
	body1 := []byte(`{"id": "evt_1",  "amount":[1, 2]}`)
	e1 := eventsv1.Event{ID: "evt_1", Time: testNow, Outcome: eventsv1.OutcomeAccepted, Code: 200, Provider: "stripe", DeliveryID: "d-1",
		Type: "invoice.paid", Body: body1, Size: int64(len(body1)), Headers: map[string][]string{
			"Content-Type": {"application/json"}, "Stripe-Signature": {"t=1,v1=abc"}, "X-Multi": {"a", "b"},
			"Connection": {"keep-alive, X-Drop-Me"}, "X-Drop-Me": {"1"}, "Keep-Alive": {"timeout=5"}, "Content-Length": {"999"},
			"Transfer-Encoding": {"chunked"}, "Accept-Encoding": {"gzip"}, "User-Agent": {"Stripe/1.0"}, "Host": {"hooks.example.com"},
		}}
	omitted := eventsv1.Event{ID: "evt_2", Time: testNow, Outcome: eventsv1.OutcomeAccepted, Code: 200, Provider: "stripe", BodyOmitted: true,
		Headers: map[string][]string{"Content-Type": {"application/json"}}}
	body3 := []byte{0, 1, 2, 0xff, '\n', ' '}
	e3 := eventsv1.Event{ID: "evt_3", Time: testNow, Outcome: eventsv1.OutcomeAccepted, Code: 200, Provider: "stripe", DeliveryID: "d-3",
		Body: body3, BodyTruncated: true, Headers: map[string][]string{"Content-Type": {"application/octet-stream"}}}
	dup := e1
	dup.ID, dup.Outcome = "rec_dup", eventsv1.OutcomeDuplicate
	f.handle("GET", epPath+"/events", stream([]eventsv1.WatchEvent{
		evLine(evB), evLine(e1), atLine(eventsv1.Attempt{EventID: "evt_1", Target: "billing", Outcome: eventsv1.AttemptDelivered}),
		evLine(dup), evLine(omitted), evLine(e3),
	}, false))
	fwd := ft.srv.URL + "/hooks/stripe"
	out, errb, stop := start(t, append(f.direct(t), "listen", "stripe", "--forward-to", fwd)...)
	waitFor(t, "two forwards", func() bool { return strings.Contains(out.String(), "<-- [500]") })
	time.Sleep(20 * time.Millisecond) // nothing more may come
	if code := stop(); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	wantOut := "Ready! Forwarding events of webhookendpoint shop/stripe to " + fwd + " (a copy: deliveries to the endpoint's targets go on). Ctrl-C to stop.\n" +
		"--> invoice.paid [evt_1]\n" +
		"<-- [200] POST " + fwd + " [evt_1]\n" +
		"--> stripe [evt_3]\n" +
		"<-- [500] POST " + fwd + " [evt_3]\n"
	if out.String() != wantOut {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out.String(), wantOut)
	}
	wantErr := "Warning: event evt_2 skipped: its body is not kept (spec.history.body is Omit, or it could not be redacted)\n" +
		"Warning: event evt_3 is forwarded truncated: only its first 6 bytes are kept (spec.history.maxBodyBytes)\n"
	if errb.String() != wantErr {
		t.Fatalf("stderr:\n%s\nwant:\n%s", errb.String(), wantErr)
	}
	if ft.count() != 2 {
		t.Fatalf("%d requests forwarded, want 2", ft.count())
	}
	ours := func(ev eventsv1.Event) http.Header {
		return http.Header{"Hookgate-Endpoint": {"shop/stripe"}, "Hookgate-Delivery-Id": {ev.DeliveryID},
			"Hookgate-Provider": {"stripe"}, "Hookgate-Received-At": {ev.Time.UTC().Format(time.RFC3339Nano)}, "Idempotency-Key": {ev.ID}}
	}
	want1 := ours(e1)
	for k, v := range map[string][]string{"Content-Type": {"application/json"}, "Stripe-Signature": {"t=1,v1=abc"}, "X-Multi": {"a", "b"},
		"Accept-Encoding": {"gzip"}, "User-Agent": {"Stripe/1.0"}} {
		want1[k] = v
	}
	want3 := ours(e3)
	want3["Content-Type"] = []string{"application/octet-stream"}
	for i, tc := range []struct {
		body   []byte
		header http.Header
	}{{body1, want1}, {body3, want3}} {
		r := ft.reqs[i]
		got := r.Header.Clone()
		if cl := got.Get("Content-Length"); cl != fmt.Sprint(len(tc.body)) {
			t.Errorf("request %d: Content-Length %q", i, cl)
		}
		got.Del("Content-Length")
		if r.Method != "POST" || r.URL.Path != "/hooks/stripe" || string(ft.body[i]) != string(tc.body) || len(r.TransferEncoding) != 0 {
			t.Errorf("request %d: %s %s %q %v", i, r.Method, r.URL.Path, ft.body[i], r.TransferEncoding)
		}
		if !reflect.DeepEqual(got, tc.header) {
			t.Errorf("request %d headers:\n%v\nwant:\n%v", i, got, tc.header)
		}
		if r.Host != strings.TrimPrefix(ft.srv.URL, "http://") {
			t.Errorf("request %d: Host %q", i, r.Host)
		}
	}
	w := f.got()[0]
	checkAuth(t, w)
	if !reflect.DeepEqual(w.query, map[string][]string{"watch": {"true"}, "outcome": {"accepted"}}) {
		t.Fatalf("watch query %v", w.query)
	}
}

func TestListenStopsOnHiddenEvents(t *testing.T) {
	f := newFakeAPI(t)
	ft := newTarget(t)
	f.handle("GET", epPath+"/events", stream([]eventsv1.WatchEvent{
		evLine(eventsv1.Event{ID: "evt_h", Outcome: eventsv1.OutcomeAccepted, Code: 200, Hidden: true}),
	}, false))
	r := run(t, append(f.direct(t), "listen", "stripe", "--forward-to", ft.srv.URL)...)
	if r.code != 1 || r.stderr != "error: event evt_h came without its headers and body: you may not get webhookendpoints/events in shop, which listen needs to forward events\n" {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	if ft.count() != 0 {
		t.Fatal("a hidden event was forwarded")
	}
	if r := run(t, append(f.direct(t), "listen", "stripe")...); r.code != 1 || !strings.HasPrefix(r.stderr, "error: --forward-to is required\n") {
		t.Fatalf("no --forward-to: %d %q", r.code, r.stderr)
	}
	if r := run(t, append(f.direct(t), "listen", "stripe", "--forward-to", "localhost:3000")...); r.code != 1 || !strings.Contains(r.stderr, "want an http:// or https:// URL") {
		t.Fatalf("bad --forward-to: %d %q", r.code, r.stderr)
	}
}

func TestWatchRefusedIsFinal(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("GET", epPath+"/events", 403, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Code: 403, Reason: metav1.StatusReasonForbidden, Message: "no watch for you"})
	r := run(t, append(f.direct(t), "tail", "stripe", "-f", "--limit", "0")...)
	if r.code != 1 || r.stderr != "Error from server (Forbidden): no watch for you\n" || len(f.got()) != 1 {
		t.Fatalf("exit %d stderr %q, %d requests", r.code, r.stderr, len(f.got()))
	}
}
