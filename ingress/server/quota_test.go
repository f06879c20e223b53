package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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

// twoEndpoints serves an attacker's endpoint and a victim's from one
// receiver on a real JetStream opened with o.
func twoEndpoints(t *testing.T, o queue.Options, attacker func(*registry.Endpoint)) (*Handler, *queue.Queue, *registry.Endpoint, *registry.Endpoint) {
	t.Helper()
	o.PublishTimeout = time.Second
	q, _ := queuetest.Start(t, o)
	a := githubEndpoint()
	a.UID, a.Path, a.Key = "uid-attacker", PathPrefix+"attacker", types.NamespacedName{Namespace: "tenant-x", Name: "flood"}
	a.MaxBodyBytes = 64 << 10
	a.Suspended = true
	attacker(a)
	b := githubEndpoint()
	b.UID, b.Path, b.Key = "uid-victim", PathPrefix+"victim", types.NamespacedName{Namespace: "tenant-y", Name: "payments"}
	b.MaxBodyBytes = 64 << 10
	reg := registry.New()
	reg.Upsert(a)
	reg.Upsert(b)
	h := &Handler{Registry: reg, Store: q, Log: testr.New(t), Metrics: NewMetrics(prometheus.NewRegistry()),
		Now: func() time.Time { return now }}
	return h, q, a, b
}

func send(h *Handler, ep *registry.Endpoint, body, id string) *httptest.ResponseRecorder {
	r := githubRequest(body, id, githubKey)
	r.URL.Path = ep.Path
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// The attack: a tenant floods its own suspended endpoint with large
// bodies. Only that endpoint hits its quota (503 with Retry-After, so the
// provider retries later); the other tenant's endpoint keeps answering 200.
func TestAnEndpointOverItsQuotaIsRefusedAndOthersAreNot(t *testing.T) {
	for _, c := range []struct {
		name  string
		quota func(*registry.Endpoint)
		want  int // events accepted before the quota
	}{
		{"by bytes", func(e *registry.Endpoint) { e.MaxQueuedBytes, e.MaxQueuedEvents = 100<<10, 1000 }, 4},
		{"by events", func(e *registry.Endpoint) { e.MaxQueuedBytes, e.MaxQueuedEvents = 64<<20, 3 }, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, q, attacker, victim := twoEndpoints(t, queue.Options{}, c.quota)
			h.Quota = &Quota{Source: q, Log: testr.New(t)}
			big := `{"pad":"` + strings.Repeat("x", 24<<10) + `"}`
			accepted := 0
			for i := 0; i < 40; i++ {
				rec := send(h, attacker, big, fmt.Sprintf("flood-%d", i))
				switch rec.Code {
				case http.StatusOK:
					accepted++
				case http.StatusServiceUnavailable:
					if !strings.Contains(rec.Body.String(), ReasonQuotaExceeded) || rec.Header().Get("Retry-After") == "" {
						t.Fatalf("flood %d: 503 %s Retry-After %q, want QuotaExceeded with Retry-After", i, rec.Body, rec.Header().Get("Retry-After"))
					}
				default:
					t.Fatalf("flood %d: %d", i, rec.Code)
				}
				if i == 20 {
					// The view shared by all replicas, read from JetStream
					// once the summed counters are published.
					if err := q.FlushCounters(context.Background()); err != nil {
						t.Fatal(err)
					}
					if err := h.Quota.Refresh(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
			}
			if accepted != c.want {
				t.Fatalf("accepted %d flood events, want %d", accepted, c.want)
			}
			if rec := send(h, victim, payload, "victim-1"); rec.Code != http.StatusOK {
				t.Fatalf("the other endpoint: %d %s, want 200", rec.Code, rec.Body)
			}
			// Delivery drains the attacker's queue: it may store again.
			s, err := q.JS.Stream(context.Background(), queue.EventsStream)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Purge(context.Background(), jetstream.WithPurgeSubject(queue.EventsSubject(attacker.UID))); err != nil {
				t.Fatal(err)
			}
			if err := q.IncrSync(context.Background(), attacker.UID, queue.CounterQueuedBytes, -int64(accepted*len(big))); err != nil {
				t.Fatal(err)
			}
			if err := h.Quota.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			if rec := send(h, attacker, payload, "after-drain"); rec.Code != http.StatusOK {
				t.Fatalf("after the queue drained: %d %s, want 200", rec.Code, rec.Body)
			}
		})
	}
}

// The platform's per-endpoint ceiling is enforced by JetStream itself, for
// every replica at once, even with no quota in the receiver.
func TestThePlatformCeilingPerEndpointIsEnforcedByTheStore(t *testing.T) {
	h, _, attacker, victim := twoEndpoints(t, queue.Options{MaxEventsPerEndpoint: 2}, func(*registry.Endpoint) {})
	var codes []int
	for i := 0; i < 4; i++ {
		rec := send(h, attacker, payload, fmt.Sprintf("c-%d", i))
		codes = append(codes, rec.Code)
		if rec.Code == http.StatusServiceUnavailable && !strings.Contains(rec.Body.String(), ReasonQuotaExceeded) {
			t.Fatalf("503 with %s, want QuotaExceeded", rec.Body)
		}
	}
	if fmt.Sprint(codes) != "[200 200 503 503]" {
		t.Fatalf("codes %v, want [200 200 503 503]", codes)
	}
	if rec := send(h, victim, payload, "v-1"); rec.Code != http.StatusOK {
		t.Fatalf("the other endpoint: %d, want 200", rec.Code)
	}
}

// A full store answers 503 StoreFull with Retry-After; every event answered
// 200 is stored.
func TestAFullStoreIsA503AndNothingAcceptedIsLost(t *testing.T) {
	h, q, a, b := twoEndpoints(t, queue.Options{MaxStoreBytes: 512 << 10}, func(*registry.Endpoint) {})
	body := `{"pad":"` + strings.Repeat("y", 30<<10) + `"}`
	ok, full := 0, 0
	for i := 0; i < 30; i++ {
		ep := a
		if i%2 == 1 {
			ep = b
		}
		rec := send(h, ep, body, fmt.Sprintf("f-%d", i))
		switch {
		case rec.Code == http.StatusOK:
			ok++
		case rec.Code == http.StatusServiceUnavailable && strings.Contains(rec.Body.String(), ReasonStoreFull) && rec.Header().Get("Retry-After") != "":
			full++
		default:
			t.Fatalf("request %d: %d %s Retry-After %q", i, rec.Code, rec.Body, rec.Header().Get("Retry-After"))
		}
	}
	if full == 0 || ok == 0 {
		t.Fatalf("ok %d, full %d: want both", ok, full)
	}
	if got := len(storedEvents(t, q)); got != ok {
		t.Fatalf("stored %d, answered 200 %d", got, ok)
	}
}
