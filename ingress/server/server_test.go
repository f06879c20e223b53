package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

const (
	hookPath  = PathPrefix + "f3a9c2"
	endpointU = "uid-1"
	bodyLimit = 1024
)

var (
	// now is the receiver's injected clock; Standard Webhooks timestamps
	// are signed relative to it, so no test depends on the wall clock.
	now          = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	githubKey    = []byte("it's a secret to everybody")
	standardKey  = verify.StandardWebhooksSecret([]byte("0123456789abcdef0123456789abcdef"))
	endpointName = types.NamespacedName{Namespace: "team-a", Name: "github"}
	payload      = `{"action":"opened","number":7}`
)

// fixture is one receiver in front of a real embedded JetStream.
type fixture struct {
	srv     *natsserver.Server
	nc      *nats.Conn
	q       *queue.Queue
	h       *Handler
	metrics *Metrics
}

// newFixture starts an embedded JetStream in a temp dir, opens the layout
// on it and serves ep from a fresh registry.
func newFixture(t *testing.T, ep *registry.Endpoint) *fixture {
	t.Helper()
	// A short publish timeout keeps the "server is gone" case fast: the
	// connection buffers while it reconnects and only the timeout ends it.
	q, s := queuetest.Start(t, queue.Options{PublishTimeout: time.Second})
	nc := q.NC
	reg := registry.New()
	reg.Upsert(ep)
	m := NewMetrics(prometheus.NewRegistry())
	return &fixture{srv: s, nc: nc, q: q, metrics: m, h: &Handler{
		Registry: reg, Store: q, Log: testr.New(t), Metrics: m,
		Now: func() time.Time { return now },
	}}
}

// serveAuth answers r with f's handler, sending Authorization auth when
// it is not empty.
func (f *fixture) serveAuth(r *http.Request, auth string) *httptest.ResponseRecorder {
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	return rec
}

func githubEndpoint() *registry.Endpoint {
	return &registry.Endpoint{
		UID: endpointU, Key: endpointName, Generation: 1, Path: hookPath, Provider: "github",
		Verifier:     verify.NewGitHub(verify.GitHubOptions{}),
		Keys:         [][]byte{githubKey},
		DedupeWindow: time.Hour,
		MaxBodyBytes: bodyLimit,
	}
}

func standardEndpoint() *registry.Endpoint {
	ep := githubEndpoint()
	ep.Provider = "standardwebhooks"
	ep.Verifier = verify.NewStandardWebhooks(0)
	ep.Keys = [][]byte{standardKey}
	return ep
}

// githubRequest is a delivery as GitHub sends it, plus credentials meant
// for the receiver that must never be stored.
func githubRequest(body, delivery string, key []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-GitHub-Event", "pull_request")
	r.Header.Set(verify.GitHubDeliveryHeader, delivery)
	r.Header.Set(verify.GitHubSignature256Header, verify.SignGitHub([]byte(body), key))
	r.Header.Set("Authorization", "Bearer receiver-token")
	r.Header.Set("Cookie", "session=abc")
	return r
}

func standardRequest(body, id string, ts time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for k, vs := range verify.StandardWebhooksHeaders(id, ts, []byte(body), standardKey) {
		r.Header[k] = vs
	}
	return r
}

// chunked hides the body's length, as a client sending
// Transfer-Encoding: chunked does.
func chunked(r *http.Request) *http.Request {
	r.Body = io.NopCloser(io.MultiReader(r.Body))
	r.ContentLength = -1
	r.TransferEncoding = []string{"chunked"}
	return r
}

// response is what one request should get.
type response struct {
	status int
	// outcome and reason are the JSON body and the metric labels.
	outcome, reason string
}

// counters are the receiver-side counters of the endpoint.
type counters struct{ received, rejected, duplicates int64 }

type serverCase struct {
	name     string
	endpoint func() *registry.Endpoint
	// breakQueue runs after the fixture is up and before any request.
	breakQueue func(t *testing.T, f *fixture)
	// send are the requests, in order; each function builds a fresh one.
	send []func() *http.Request
	// overNetwork sends through a loopback httptest server rather than
	// calling ServeHTTP directly.
	overNetwork bool
	want        []response

	wantStored int
	// checkStored inspects the stored events when wantStored > 0.
	checkStored func(t *testing.T, msgs []*jetstream.RawStreamMsg)
	// wantCounters is nil when the queue is unreachable afterwards.
	wantCounters *counters
}

func TestHandler(t *testing.T) {
	cases := []serverCase{{
		name:     "a request to a path no endpoint serves is refused with 404 and nothing is stored",
		endpoint: githubEndpoint,
		send: []func() *http.Request{func() *http.Request {
			r := githubRequest(payload, "d-1", githubKey)
			r.URL.Path = PathPrefix + "unknown"
			return r
		}},
		want:         []response{{http.StatusNotFound, "rejected", "UnknownPath"}},
		wantCounters: &counters{},
	}, {
		name:     "a GET is refused with 405 and not counted: it is not a delivery",
		endpoint: githubEndpoint,
		send: []func() *http.Request{func() *http.Request {
			r := githubRequest(payload, "d-1", githubKey)
			r.Method = http.MethodGet
			return r
		}},
		want:         []response{{http.StatusMethodNotAllowed, "rejected", "MethodNotAllowed"}},
		wantCounters: &counters{},
	}, {
		name: "a client outside sourceRanges is refused with 403 and counted as rejected",
		endpoint: func() *registry.Endpoint {
			ep := githubEndpoint()
			ep.SourceRanges = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
			return ep
		},
		// httptest.NewRequest comes from 192.0.2.1.
		send:         []func() *http.Request{func() *http.Request { return githubRequest(payload, "d-1", githubKey) }},
		want:         []response{{http.StatusForbidden, "rejected", "SourceNotAllowed"}},
		wantCounters: &counters{rejected: 1},
	}, {
		name: "a client inside sourceRanges is accepted",
		endpoint: func() *registry.Endpoint {
			ep := githubEndpoint()
			ep.SourceRanges = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
			return ep
		},
		send:         []func() *http.Request{func() *http.Request { return githubRequest(payload, "d-1", githubKey) }},
		want:         []response{{http.StatusOK, "accepted", ""}},
		wantStored:   1,
		wantCounters: &counters{received: 1},
	}, {
		name:     "a body over the limit announced by Content-Length is refused with 413",
		endpoint: githubEndpoint,
		send: []func() *http.Request{func() *http.Request {
			return githubRequest(strings.Repeat("x", bodyLimit+1), "d-1", githubKey)
		}},
		want:         []response{{http.StatusRequestEntityTooLarge, "rejected", "BodyTooLarge"}},
		wantCounters: &counters{rejected: 1},
	}, {
		name:     "a chunked body over the limit without Content-Length is refused with 413",
		endpoint: githubEndpoint,
		send: []func() *http.Request{func() *http.Request {
			return chunked(githubRequest(strings.Repeat("x", 4*bodyLimit), "d-1", githubKey))
		}},
		want:         []response{{http.StatusRequestEntityTooLarge, "rejected", "BodyTooLarge"}},
		wantCounters: &counters{rejected: 1},
	}, {
		name:     "a chunked body over the limit sent over a real connection is refused with 413",
		endpoint: githubEndpoint,
		send: []func() *http.Request{func() *http.Request {
			return chunked(githubRequest(strings.Repeat("x", 4*bodyLimit), "d-1", githubKey))
		}},
		overNetwork:  true,
		want:         []response{{http.StatusRequestEntityTooLarge, "rejected", "BodyTooLarge"}},
		wantCounters: &counters{rejected: 1},
	}, {
		name:     "a chunked body exactly at the limit is accepted",
		endpoint: githubEndpoint,
		send: []func() *http.Request{func() *http.Request {
			return chunked(githubRequest(strings.Repeat("x", bodyLimit), "d-1", githubKey))
		}},
		want:         []response{{http.StatusOK, "accepted", ""}},
		wantStored:   1,
		wantCounters: &counters{received: 1},
	}, {
		name:     "a forged signature is refused with 401 and nothing is enqueued",
		endpoint: githubEndpoint,
		send: []func() *http.Request{func() *http.Request {
			return githubRequest(payload, "d-1", []byte("not the secret"))
		}},
		want:         []response{{http.StatusUnauthorized, "rejected", "SignatureMismatch"}},
		wantCounters: &counters{rejected: 1},
	}, {
		name:     "a body changed after signing is refused with 401 and nothing is enqueued",
		endpoint: githubEndpoint,
		send: []func() *http.Request{func() *http.Request {
			r := githubRequest(payload, "d-1", githubKey)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(payload, "7", "8", 1)))
			return r
		}},
		want:         []response{{http.StatusUnauthorized, "rejected", "SignatureMismatch"}},
		wantCounters: &counters{rejected: 1},
	}, {
		name:     "a missing signature is refused with 401 and nothing is enqueued",
		endpoint: githubEndpoint,
		send: []func() *http.Request{func() *http.Request {
			r := githubRequest(payload, "d-1", githubKey)
			r.Header.Del(verify.GitHubSignature256Header)
			return r
		}},
		want:         []response{{http.StatusUnauthorized, "rejected", "MissingSignature"}},
		wantCounters: &counters{rejected: 1},
	}, {
		name:       "a valid GitHub delivery is stored with its original headers and without credentials",
		endpoint:   githubEndpoint,
		send:       []func() *http.Request{func() *http.Request { return githubRequest(payload, "d-1", githubKey) }},
		want:       []response{{http.StatusOK, "accepted", ""}},
		wantStored: 1,
		checkStored: func(t *testing.T, msgs []*jetstream.RawStreamMsg) {
			m := msgs[0]
			if m.Subject != queue.EventsSubject(endpointU) {
				t.Errorf("subject = %q, want %q", m.Subject, queue.EventsSubject(endpointU))
			}
			if string(m.Data) != payload {
				t.Errorf("stored body = %q, want the original %q", m.Data, payload)
			}
			wantHeaders := map[string]string{
				"Orig-X-Github-Event":      "pull_request",
				"Orig-X-Github-Delivery":   "d-1",
				"Orig-Content-Type":        "application/json",
				"Orig-X-Hub-Signature-256": verify.SignGitHub([]byte(payload), githubKey),
				queue.HeaderDelivery:       "d-1",
				queue.HeaderEndpoint:       "team-a/github",
				queue.HeaderProvider:       "github",
				queue.HeaderReceivedAt:     now.Format(time.RFC3339Nano),
			}
			for k, v := range wantHeaders {
				if got := m.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range []string{"Authorization", "Cookie", "Host", "Content-Length"} {
				for _, stored := range []string{k, queue.HeaderOrigPrefix + k} {
					if _, ok := m.Header[stored]; ok {
						t.Errorf("header %s was stored; it must never leave the receiver", stored)
					}
				}
			}
		},
		wantCounters: &counters{received: 1},
	}, {
		name:     "the same delivery sent twice is stored once and the second answer says duplicate",
		endpoint: githubEndpoint,
		send: []func() *http.Request{
			func() *http.Request { return githubRequest(payload, "d-1", githubKey) },
			func() *http.Request { return githubRequest(payload, "d-1", githubKey) },
		},
		want:         []response{{http.StatusOK, "accepted", ""}, {http.StatusOK, "duplicate", ""}},
		wantStored:   1,
		wantCounters: &counters{received: 1, duplicates: 1},
	}, {
		name:     "two different deliveries are both stored",
		endpoint: githubEndpoint,
		send: []func() *http.Request{
			func() *http.Request { return githubRequest(payload, "d-1", githubKey) },
			func() *http.Request { return githubRequest(payload, "d-2", githubKey) },
		},
		want:         []response{{http.StatusOK, "accepted", ""}, {http.StatusOK, "accepted", ""}},
		wantStored:   2,
		wantCounters: &counters{received: 2},
	}, {
		name: "an endpoint without signing keys answers 503 with Retry-After",
		endpoint: func() *registry.Endpoint {
			ep := githubEndpoint()
			ep.Keys, ep.KeysError = nil, `Secret "gh" not found`
			return ep
		},
		send:         []func() *http.Request{func() *http.Request { return githubRequest(payload, "d-1", githubKey) }},
		want:         []response{{http.StatusServiceUnavailable, "error", "SecretUnavailable"}},
		wantCounters: &counters{},
	}, {
		name:       "a closed queue connection answers 503 with Retry-After and never 2xx",
		endpoint:   githubEndpoint,
		breakQueue: func(t *testing.T, f *fixture) { f.nc.Close() },
		send: []func() *http.Request{
			func() *http.Request { return githubRequest(payload, "d-1", githubKey) },
			// Without a delivery id the dedupe lookup is skipped and the
			// publish itself must fail.
			func() *http.Request {
				r := githubRequest(payload, "", githubKey)
				r.Header.Del(verify.GitHubDeliveryHeader)
				return r
			},
		},
		want: []response{
			{http.StatusServiceUnavailable, "error", "QueueUnavailable"},
			{http.StatusServiceUnavailable, "error", "QueueUnavailable"},
		},
	}, {
		name:     "a stopped JetStream server answers 503 with Retry-After and never 2xx",
		endpoint: githubEndpoint,
		breakQueue: func(t *testing.T, f *fixture) {
			f.srv.Shutdown()
			f.srv.WaitForShutdown()
		},
		send: []func() *http.Request{func() *http.Request { return githubRequest(payload, "d-1", githubKey) }},
		want: []response{{http.StatusServiceUnavailable, "error", "QueueUnavailable"}},
	}, {
		name:       "a Standard Webhooks delivery is stored under its webhook-id",
		endpoint:   standardEndpoint,
		send:       []func() *http.Request{func() *http.Request { return standardRequest(payload, "msg_2b8Q", now.Add(-time.Minute)) }},
		want:       []response{{http.StatusOK, "accepted", ""}},
		wantStored: 1,
		checkStored: func(t *testing.T, msgs []*jetstream.RawStreamMsg) {
			if got := msgs[0].Header.Get(queue.HeaderDelivery); got != "msg_2b8Q" {
				t.Errorf("delivery id = %q, want the webhook-id msg_2b8Q", got)
			}
			if got := msgs[0].Header.Get("Orig-Webhook-Id"); got != "msg_2b8Q" {
				t.Errorf("original webhook-id header = %q, want msg_2b8Q", got)
			}
		},
		wantCounters: &counters{received: 1},
	}, {
		name:         "a Standard Webhooks delivery with a stale timestamp is refused with 401",
		endpoint:     standardEndpoint,
		send:         []func() *http.Request{func() *http.Request { return standardRequest(payload, "msg_old", now.Add(-10*time.Minute)) }},
		want:         []response{{http.StatusUnauthorized, "rejected", "TimestampOutOfRange"}},
		wantCounters: &counters{rejected: 1},
	}}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ep := tc.endpoint()
			f := newFixture(t, ep)
			if tc.breakQueue != nil {
				tc.breakQueue(t, f)
			}
			var do func(*http.Request) *http.Response
			if tc.overNetwork {
				ts := httptest.NewServer(f.h)
				t.Cleanup(ts.Close)
				do = func(r *http.Request) *http.Response {
					out, err := http.NewRequest(r.Method, ts.URL+r.URL.Path, r.Body)
					if err != nil {
						t.Fatal(err)
					}
					out.Header, out.ContentLength, out.TransferEncoding = r.Header, r.ContentLength, r.TransferEncoding
					resp, err := ts.Client().Do(out)
					if err != nil {
						t.Fatal(err)
					}
					return resp
				}
			} else {
				do = func(r *http.Request) *http.Response {
					rec := httptest.NewRecorder()
					f.h.ServeHTTP(rec, r)
					return rec.Result()
				}
			}

			if len(tc.send) != len(tc.want) {
				t.Fatalf("case has %d requests and %d expected responses", len(tc.send), len(tc.want))
			}
			for i, build := range tc.send {
				start := time.Now()
				resp := do(build())
				checkResponse(t, i, resp, tc.want[i])
				if tc.breakQueue != nil && time.Since(start) > 3*time.Second {
					t.Errorf("request %d took %s to fail; the publish timeout is 1s", i, time.Since(start))
				}
			}
			last := tc.want[len(tc.want)-1]
			endpointLabel := ep.Key.String()
			if last.status == http.StatusNotFound {
				endpointLabel = ""
			}
			var m dto.Metric
			if err := f.metrics.Requests.WithLabelValues(endpointLabel, last.outcome, last.reason).Write(&m); err != nil {
				t.Fatal(err)
			}
			if got := m.GetCounter().GetValue(); got < 1 {
				t.Errorf("requests metric {%s %s %s} = %v, want at least 1", endpointLabel, last.outcome, last.reason, got)
			}

			if tc.wantCounters == nil {
				return
			}
			msgs := storedEvents(t, f.q)
			if len(msgs) != tc.wantStored {
				t.Fatalf("%s holds %d events, want %d", queue.EventsStream, len(msgs), tc.wantStored)
			}
			if tc.checkStored != nil {
				tc.checkStored(t, msgs)
			}
			got := readCounters(t, f.q, ep.UID)
			if got != *tc.wantCounters {
				t.Errorf("counters = %+v, want %+v", got, *tc.wantCounters)
			}
		})
	}
}

func checkResponse(t *testing.T, i int, resp *http.Response, want response) {
	t.Helper()
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("response %d: decoding body: %v", i, err)
	}
	if resp.StatusCode != want.status {
		t.Fatalf("response %d: status = %d %v, want %d", i, resp.StatusCode, body, want.status)
	}
	if body["status"] != want.outcome || body["reason"] != want.reason {
		t.Errorf("response %d: body = %v, want status %q reason %q", i, body, want.outcome, want.reason)
	}
	ra := resp.Header.Get("Retry-After")
	if want.status == http.StatusServiceUnavailable {
		if n, err := strconv.Atoi(ra); err != nil || n <= 0 {
			t.Errorf("response %d: 503 without a usable Retry-After (%q)", i, ra)
		}
	} else if ra != "" {
		t.Errorf("response %d: Retry-After %q on a %d", i, ra, resp.StatusCode)
	}
}

// storedEvents reads every event in the events stream without consuming it.
func storedEvents(t *testing.T, q *queue.Queue) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := q.JS.Stream(ctx, queue.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m.Subject, "hookgate.events.") {
			continue // a dedupe marker
		}
		out = append(out, m)
	}
	return out
}

// readCounters waits for the handler's asynchronous counter publishes and
// reads the endpoint's receiver counters.
func readCounters(t *testing.T, q *queue.Queue, uid string) counters {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.FlushCounters(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := q.ReadCounters(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	return counters{received: c.Received, rejected: c.Rejected, duplicates: c.Duplicates}
}

// TestCountersAddUpOverAMixOfRequests checks the counters of one endpoint
// after a realistic run of accepted, duplicate and refused requests.
func TestCountersAddUpOverAMixOfRequests(t *testing.T) {
	f := newFixture(t, githubEndpoint())
	requests := []struct {
		req  *http.Request
		want int
	}{
		{githubRequest(payload, "d-1", githubKey), http.StatusOK},
		{githubRequest(payload, "d-2", githubKey), http.StatusOK},
		{githubRequest(payload, "d-1", githubKey), http.StatusOK},
		{githubRequest(payload, "d-3", []byte("wrong")), http.StatusUnauthorized},
		{githubRequest(strings.Repeat("x", bodyLimit+1), "d-4", githubKey), http.StatusRequestEntityTooLarge},
		{httptest.NewRequest(http.MethodGet, hookPath, nil), http.StatusMethodNotAllowed},
		{githubRequest(payload, "d-2", githubKey), http.StatusOK},
	}
	for i, r := range requests {
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, r.req)
		if rec.Code != r.want {
			t.Fatalf("request %d: status = %d %s, want %d", i, rec.Code, rec.Body, r.want)
		}
	}
	want := counters{received: 2, rejected: 2, duplicates: 2}
	if got := readCounters(t, f.q, endpointU); got != want {
		t.Fatalf("counters = %+v, want %+v", got, want)
	}
	if n := len(storedEvents(t, f.q)); n != 2 {
		t.Fatalf("%s holds %d events, want 2", queue.EventsStream, n)
	}
}
