package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/hookgate/hookgate/ingress/verify"
)

// A sender holding the URL but not the key floods the endpoint: its forged
// requests must not spend the endpoint's rate, or the real provider would
// be answered 429 (and some providers disable a webhook that keeps failing).
func TestForgedRequestsDoNotSpendTheEndpointsRateLimit(t *testing.T) {
	ep := githubEndpoint()
	ep.Limiter = rate.NewLimiter(rate.Limit(1), 2)
	f := newFixture(t, ep)
	for i := 0; i < 50; i++ {
		rec := httptest.NewRecorder()
		r := githubRequest(payload, fmt.Sprintf("forged-%d", i), []byte("not the key"))
		r.RemoteAddr = fmt.Sprintf("198.51.100.%d:4000", i%200+1)
		f.h.ServeHTTP(rec, r)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("forged request %d: status %d, want 401", i, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, githubRequest(payload, "real-1", githubKey))
	if rec.Code != http.StatusOK {
		t.Fatalf("the provider's request after the flood: %d %s, want 200", rec.Code, rec.Body)
	}
}

// An address whose requests keep failing is slowed down before its bodies
// are read; the provider's address is not.
func TestAnAddressThatKeepsFailingIsSlowedDownAndOthersAreNot(t *testing.T) {
	f := newFixture(t, githubEndpoint())
	f.h.Sources = &SourceLimiter{Rate: 1, Burst: 5, MaxSources: 100}
	var codes []int
	for i := 0; i < 8; i++ {
		rec := httptest.NewRecorder()
		r := githubRequest(payload, fmt.Sprintf("x-%d", i), []byte("wrong"))
		r.RemoteAddr = "203.0.113.9:5555"
		f.h.ServeHTTP(rec, r)
		codes = append(codes, rec.Code)
	}
	want := []int{401, 401, 401, 401, 401, 429, 429, 429}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("codes = %v, want %v", codes, want)
	}
	rec := httptest.NewRecorder()
	r := githubRequest(payload, "ok-1", githubKey)
	r.RemoteAddr = "192.0.2.1:443"
	f.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("another address: %d, want 200", rec.Code)
	}
	// The clock moves on: the slowed address may try again.
	f.h.Now = func() time.Time { return now.Add(10 * time.Second) }
	rec = httptest.NewRecorder()
	r = githubRequest(payload, "ok-2", githubKey)
	r.RemoteAddr = "203.0.113.9:5555"
	f.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("after the budget refilled: %d, want 200", rec.Code)
	}
}

func TestTheSourceTableIsBounded(t *testing.T) {
	s := &SourceLimiter{Rate: 1, Burst: 1, MaxSources: 10}
	for i := 0; i < 1000; i++ {
		s.Refused(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), now)
	}
	if len(s.m) > 10 {
		t.Fatalf("table holds %d addresses, bound is 10", len(s.m))
	}
}

// gatedBody sends half of a body, then waits for the gate: many uploads are
// in flight at once, as when a sender opens hundreds of slow connections.
type gatedBody struct {
	half, rest []byte
	gate       <-chan struct{}
	sent       bool
	started    *atomic.Int64
}

func (g *gatedBody) Read(p []byte) (int, error) {
	if !g.sent {
		g.sent = true
		g.started.Add(1)
		return copy(p, g.half), nil
	}
	if g.rest == nil {
		return 0, io.EOF
	}
	<-g.gate
	n := copy(p, g.rest)
	g.rest = g.rest[n:]
	if len(g.rest) == 0 {
		g.rest = nil
	}
	return n, nil
}

// No input can push the receiver past its memory bound: 64 concurrent
// 2 MiB uploads (128 MiB) against a 16 MiB budget. Those over the budget
// are answered 503 with Retry-After before their bodies are read, the heap
// stays near the budget, and every admitted request is stored.
func TestConcurrentLargeUploadsAreBoundedByTheInflightBudget(t *testing.T) {
	const (
		uploads = 64
		size    = 2 << 20
		budget  = 16 << 20
	)
	ep := githubEndpoint()
	ep.MaxBodyBytes = 4 << 20
	f := newFixture(t, ep)
	f.h.Admission = &Admission{MaxRequests: 1000, MaxBytes: budget}

	body := []byte(`{"pad":"` + strings.Repeat("x", size-10) + `"}`)
	sig := verify.SignGitHub(body, githubKey)
	gate := make(chan struct{})
	var started atomic.Int64
	var peakReserved atomic.Int64
	codes := make([]int, uploads)
	retry := make([]string, uploads)
	var wg sync.WaitGroup

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < uploads; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := httptest.NewRequest(http.MethodPost, hookPath, &gatedBody{half: body[:size/2], rest: body[size/2:], gate: gate, started: &started})
			r.ContentLength = int64(len(body))
			r.Header.Set(verify.GitHubDeliveryHeader, fmt.Sprintf("big-%d", i))
			r.Header.Set(verify.GitHubSignature256Header, sig)
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, r)
			codes[i], retry[i] = rec.Code, rec.Header().Get("Retry-After")
		}(i)
	}
	// Wait until every upload was either refused or is blocked mid-body.
	deadline := time.Now().Add(10 * time.Second)
	for {
		refused := 0
		for i := range codes {
			if codes[i] == http.StatusServiceUnavailable {
				refused++
			}
		}
		if v := f.h.Admission.InflightBytes(); v > peakReserved.Load() {
			peakReserved.Store(v)
		}
		if int(started.Load())+refused >= uploads || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	close(gate)
	wg.Wait()

	admitted, refused := 0, 0
	for i, c := range codes {
		switch c {
		case http.StatusOK:
			admitted++
		case http.StatusServiceUnavailable:
			refused++
			if retry[i] == "" {
				t.Errorf("upload %d: 503 without Retry-After", i)
			}
		default:
			t.Errorf("upload %d: status %d", i, c)
		}
	}
	if peakReserved.Load() > budget {
		t.Errorf("reserved %d bytes at the peak, budget %d", peakReserved.Load(), budget)
	}
	if want := budget / (bodyCopies * len(body)); admitted > want || admitted == 0 {
		t.Errorf("admitted %d uploads, want 1..%d", admitted, want)
	}
	if refused == 0 {
		t.Errorf("no upload was refused")
	}
	// Without the bound the 64 buffers alone would be 128 MiB.
	if grew := int64(during.HeapInuse) - int64(before.HeapInuse); grew > 3*budget {
		t.Errorf("heap grew by %d MiB with uploads in flight, bound %d MiB", grew>>20, 3*budget>>20)
	}
	if got := len(storedEvents(t, f.q)); got != admitted {
		t.Errorf("stored %d events, admitted %d", got, admitted)
	}
	if f.h.Admission.InflightBytes() != 0 || f.h.Admission.InflightRequests() != 0 {
		t.Errorf("reservations leaked: %d bytes, %d requests", f.h.Admission.InflightBytes(), f.h.Admission.InflightRequests())
	}
	t.Logf("admitted %d, refused %d, peak reserved %d MiB, heap growth %d MiB",
		admitted, refused, peakReserved.Load()>>20, (int64(during.HeapInuse)-int64(before.HeapInuse))>>20)
}

func TestConcurrentRequestsAreBounded(t *testing.T) {
	f := newFixture(t, githubEndpoint())
	f.h.Admission = &Admission{MaxRequests: 1}
	if !f.h.Admission.enter() {
		t.Fatal("first slot refused")
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, githubRequest(payload, "busy", githubKey))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("at the bound: %d Retry-After %q, want 503 with Retry-After 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	f.h.Admission.leave()
	rec = httptest.NewRecorder()
	f.h.ServeHTTP(rec, githubRequest(payload, "free", githubKey))
	if rec.Code != http.StatusOK {
		t.Fatalf("below the bound: %d", rec.Code)
	}
}

// Headers a framework behind the target reads as the client's address, an
// override of the method or URL, or Hookgate's own never reach the queue.
func TestSenderHeadersThatSteerTheTargetAreDropped(t *testing.T) {
	f := newFixture(t, githubEndpoint())
	r := githubRequest(payload, "hdr-1", githubKey)
	for _, h := range []string{"X_Forwarded_For", "X-Http-Method-Override", "X-Original-Url", "Hookgate-Endpoint",
		"Hookgate-Attempt", "X-Forwarded-Prefix", "X-Real-Ip", "True-Client-Ip", "X-Envoy-Original-Path"} {
		r.Header[h] = []string{"attacker"}
	}
	r.Header.Set("X-Custom-Ok", "kept")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	msgs := storedEvents(t, f.q)
	if len(msgs) != 1 {
		t.Fatalf("%d stored", len(msgs))
	}
	for k, vs := range msgs[0].Header {
		for _, v := range vs {
			if v == "attacker" {
				t.Errorf("stored header %s: %s", k, v)
			}
		}
	}
	if msgs[0].Header.Get("Orig-X-Custom-Ok") != "kept" {
		t.Errorf("an ordinary header was dropped")
	}
}
