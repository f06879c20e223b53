package eventsapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

// watchClient is one open watch, read line by line.
type watchClient struct {
	t      *testing.T
	resp   *http.Response
	cancel context.CancelFunc
	lines  chan string
}

func openWatch(t *testing.T, base, path, token string) *watchClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	req.Header.Set(eventsv1.AuthorizationHeader, "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w := &watchClient{t: t, resp: resp, cancel: cancel, lines: make(chan string, 16)}
	t.Cleanup(w.close)
	if resp.StatusCode == http.StatusOK {
		go func() {
			defer close(w.lines)
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				w.lines <- sc.Text()
			}
		}()
	}
	return w
}

func (w *watchClient) close() { w.cancel(); _ = w.resp.Body.Close() }

// status reads a refused watch's Status (an error answer has a body that
// ends; check the code first, as a watch's never does).
func (w *watchClient) status(code int) metav1.Status {
	w.t.Helper()
	if w.resp.StatusCode != code {
		w.t.Fatalf("watch answered %d, want %d", w.resp.StatusCode, code)
	}
	b, err := io.ReadAll(w.resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return statusOf(w.t, w.resp.StatusCode, w.resp.Header, b, code)
}

// next is the next line, which must come within a few seconds: a line
// that is not flushed never comes.
func (w *watchClient) next() eventsv1.WatchEvent {
	w.t.Helper()
	select {
	case l, ok := <-w.lines:
		if !ok {
			w.t.Fatal("the watch ended")
		}
		var we eventsv1.WatchEvent
		if err := json.Unmarshal([]byte(l), &we); err != nil {
			w.t.Fatalf("line %q: %v", l, err)
		}
		return we
	case <-time.After(5 * time.Second):
		w.t.Fatal("no line within 5s: not flushed?")
	}
	return eventsv1.WatchEvent{}
}

func watchHarness(t *testing.T) (*harness, *httptest.Server) {
	h := newHarness(t)
	h.hist.feed = make(chan eventsv1.WatchEvent)
	h.hist.watchDone = make(chan struct{})
	srv := httptest.NewServer(mounted(h.srv.Handler()))
	t.Cleanup(srv.Close)
	return h, srv
}

// mounted is the handler as the manager serves it: registered on the
// webhook server's mux, which wraps each hook in Prometheus
// instrumentation (controller-runtime's metrics.InstrumentedHook), so a
// watch's flushes must get through promhttp's writer.
func mounted(h http.Handler) http.Handler {
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lat"}, []string{})
	cnt := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cnt"}, []string{"code"})
	gge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "gge"})
	mux := http.NewServeMux()
	mux.Handle(eventsv1.PathPrefix, promhttp.InstrumentHandlerDuration(lat,
		promhttp.InstrumentHandlerCounter(cnt, promhttp.InstrumentHandlerInFlight(gge, h))))
	return mux
}

func (h *harness) send(t *testing.T, we eventsv1.WatchEvent) {
	t.Helper()
	select {
	case h.hist.feed <- we:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch does not take events")
	}
}

func (h *harness) waitWatchDone(t *testing.T) error {
	t.Helper()
	select {
	case <-h.hist.watchDone:
	case <-time.After(5 * time.Second):
		t.Fatal("History.Watch did not return after the client went away")
	}
	h.hist.mu.Lock()
	defer h.hist.mu.Unlock()
	return h.hist.watchErr
}

func (h *harness) openWatches() int {
	h.srv.mu.Lock()
	defer h.srv.mu.Unlock()
	n := 0
	for _, c := range h.srv.watches {
		n += c
	}
	return n
}

func TestWatchStreamsLinesUntilTheClientGoesAway(t *testing.T) {
	h, srv := watchHarness(t)
	w := openWatch(t, srv.URL, epPath(nsA, "ep", "/events?watch=true"), tokAlice)
	// The status line comes before any event.
	if w.resp.StatusCode != 200 || w.resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("watch answered %d %v", w.resp.StatusCode, w.resp.Header)
	}
	h.send(t, eventsv1.WatchEvent{Type: eventsv1.WatchTypeEvent, Event: &eventsv1.Event{ID: "e1", Body: []byte("b")}})
	if we := w.next(); we.Type != eventsv1.WatchTypeEvent || we.Event.ID != "e1" || string(we.Event.Body) != "b" || we.Event.Hidden {
		t.Fatalf("first line %+v", we)
	}
	h.send(t, eventsv1.WatchEvent{Type: eventsv1.WatchTypeAttempt, Attempt: &eventsv1.Attempt{EventID: "e1", Outcome: eventsv1.AttemptDelivered}})
	if we := w.next(); we.Type != eventsv1.WatchTypeAttempt || we.Attempt.EventID != "e1" {
		t.Fatalf("second line %+v", we)
	}
	if !h.hist.watchedWithBodies() {
		t.Fatal("alice's watch is without bodies")
	}
	if n := h.openWatches(); n != 1 {
		t.Fatalf("%d watches counted", n)
	}
	w.close()
	h.waitWatchDone(t)
	deadline := time.Now().Add(5 * time.Second)
	for h.openWatches() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the watch is still counted after it ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatchFiltersAndHides(t *testing.T) {
	h, srv := watchHarness(t)
	// carol has watch without get.
	w := openWatch(t, srv.URL, epPath(nsA, "ep", "/events?watch=true&type=push&limit=5"), tokCarol)
	if w.resp.StatusCode != 200 {
		t.Fatalf("watch answered %d", w.resp.StatusCode)
	}
	h.send(t, eventsv1.WatchEvent{Type: eventsv1.WatchTypeEvent, Event: &eventsv1.Event{ID: "a", Type: "issues"}})
	h.send(t, eventsv1.WatchEvent{Type: eventsv1.WatchTypeAttempt, Attempt: &eventsv1.Attempt{EventID: "a"}})
	h.send(t, eventsv1.WatchEvent{Type: eventsv1.WatchTypeEvent, Event: &eventsv1.Event{ID: "b", Type: "push", Body: []byte("secret"),
		Headers: map[string][]string{"A": {"b"}}}})
	h.send(t, eventsv1.WatchEvent{Type: eventsv1.WatchTypeAttempt, Attempt: &eventsv1.Attempt{EventID: "b", Response: []byte("resp")}})
	if we := w.next(); we.Event == nil || we.Event.ID != "b" || !we.Event.Hidden || we.Event.Body != nil || we.Event.Headers != nil {
		t.Fatalf("first line %+v", we)
	}
	if we := w.next(); we.Attempt == nil || we.Attempt.EventID != "b" || we.Attempt.Response != nil {
		t.Fatalf("second line %+v", we)
	}
	if h.hist.watchedWithBodies() {
		t.Fatal("carol's watch asked for bodies")
	}
}

func TestWatchPermissionsAndLimits(t *testing.T) {
	h, srv := watchHarness(t)
	h.srv.MaxWatchesPerUser = 1
	// bob may list but not watch.
	w := openWatch(t, srv.URL, epPath(nsA, "ep", "/events?watch=1"), tokBob)
	st := w.status(http.StatusForbidden)
	if st.Message != forbiddenMessage("bob", "watch", "events", nsA, "ep") {
		t.Fatalf("bob: %q", st.Message)
	}
	// carol may watch, but not search the bodies.
	w = openWatch(t, srv.URL, epPath(nsA, "ep", "/events?watch=true&q=x"), tokCarol)
	if w.resp.StatusCode != http.StatusForbidden {
		t.Fatalf("carol's text watch: %d", w.resp.StatusCode)
	}

	first := openWatch(t, srv.URL, epPath(nsA, "ep", "/events?watch=true"), tokAlice)
	if first.resp.StatusCode != 200 {
		t.Fatalf("first watch: %d", first.resp.StatusCode)
	}
	second := openWatch(t, srv.URL, epPath(nsA, "ep", "/events?watch=true"), tokAlice)
	st = second.status(http.StatusTooManyRequests)
	if st.Reason != metav1.StatusReasonTooManyRequests || second.resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second watch: %+v", st)
	}
	// Another user is not counted with alice.
	other := openWatch(t, srv.URL, epPath(nsA, "ep", "/events?watch=true"), tokCarol)
	if other.resp.StatusCode != 200 {
		t.Fatalf("carol's watch: %d", other.resp.StatusCode)
	}
}

// failingWriter fails every write after the status line, as a connection
// that broke would, while the request's context stays alive.
type failingWriter struct {
	header http.Header
	code   int
}

func (f *failingWriter) Header() http.Header         { return f.header }
func (f *failingWriter) WriteHeader(code int)        { f.code = code }
func (f *failingWriter) Write(b []byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWatchEndsOnAWriteError(t *testing.T) {
	h := newHarness(t)
	h.hist.feed = make(chan eventsv1.WatchEvent, 1)
	h.hist.watchDone = make(chan struct{})
	r := httptest.NewRequest("GET", epPath(nsA, "ep", "/events?watch=true"), nil)
	r.Header.Set("Authorization", "Bearer "+tokAlice)
	fw := &failingWriter{header: http.Header{}}
	served := make(chan struct{})
	go func() { h.srv.Handler().ServeHTTP(fw, r); close(served) }()
	h.send(t, eventsv1.WatchEvent{Type: eventsv1.WatchTypeEvent, Event: &eventsv1.Event{ID: "e1"}})
	if err := h.waitWatchDone(t); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("Watch returned %v, want the write error", err)
	}
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not return")
	}
	if fw.code != 200 || h.openWatches() != 0 {
		t.Fatalf("code %d, %d watches", fw.code, h.openWatches())
	}
}
