package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookgate/hookgate/ingress/accesslog"
)

// accessLine is an access record as a consumer reads it.
type accessLine struct {
	Remote, Method, Endpoint, Provider, Outcome, Reason, Delivery string
	Status                                                        int
	Bytes                                                         int64
	LatencyMS                                                     *float64 `json:"latency_ms"`
}

func TestEveryRequestGetsExactlyOneAccessRecord(t *testing.T) {
	f := newFixture(t, githubEndpoint())
	var out bytes.Buffer
	access := accesslog.New(&out, accesslog.Config{Metrics: accesslog.NewMetrics(prometheus.NewRegistry())})
	f.h.Access = access
	// The proxied listener's handler: the record names the client the
	// trusted proxy reports, as the allowlist judged it.
	proxied := *f.h
	proxied.Proxies = &Proxies{Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	viaProxy := githubRequest(payload, "d-9", githubKey)
	viaProxy.Header.Set("X-Forwarded-For", "198.51.100.23")

	type want struct {
		status                     int
		outcome, reason, delivery  string
		endpoint, provider, remote string
		bytes                      int64
	}
	ep, gh, peer := endpointName.String(), "github", "192.0.2.1"
	requests := []struct {
		h    *Handler
		req  *http.Request
		want want
	}{
		{f.h, githubRequest(payload, "d-1", githubKey), want{200, "accepted", "", "d-1", ep, gh, peer, int64(len(payload))}},
		{f.h, githubRequest(payload, "d-1", githubKey), want{200, "duplicate", "", "d-1", ep, gh, peer, int64(len(payload))}},
		{f.h, githubRequest(payload, "d-2", []byte("wrong")), want{401, "rejected", "SignatureMismatch", "", ep, gh, peer, int64(len(payload))}},
		{f.h, githubRequest(strings.Repeat("x", bodyLimit+1), "d-3", githubKey), want{413, "rejected", "BodyTooLarge", "", ep, gh, peer, bodyLimit + 1}},
		{f.h, chunked(githubRequest(payload, "d-4", githubKey)), want{200, "accepted", "", "d-4", ep, gh, peer, -1}},
		{f.h, httptest.NewRequest(http.MethodPost, PathPrefix+"nothing-here", strings.NewReader(payload)), want{404, "rejected", "UnknownPath", "", "", "", peer, int64(len(payload))}},
		{f.h, httptest.NewRequest(http.MethodGet, hookPath, nil), want{405, "rejected", "MethodNotAllowed", "", ep, gh, peer, 0}},
		{&proxied, viaProxy, want{200, "accepted", "", "d-9", ep, gh, "198.51.100.23", int64(len(payload))}},
	}
	for i, r := range requests {
		rec := httptest.NewRecorder()
		r.h.ServeHTTP(rec, r.req)
		if rec.Code != r.want.status {
			t.Fatalf("request %d: status = %d %s, want %d", i, rec.Code, rec.Body, r.want.status)
		}
	}
	if err := access.Close(); err != nil {
		t.Fatal(err)
	}

	sc := bufio.NewScanner(&out)
	i := 0
	for ; sc.Scan(); i++ {
		if i >= len(requests) {
			t.Fatalf("more records than requests: %s", sc.Bytes())
		}
		var l accessLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("record %d: %v: %s", i, err, sc.Bytes())
		}
		if l.LatencyMS == nil {
			t.Fatalf("record %d has no latency: %s", i, sc.Bytes())
		}
		w := requests[i].want
		got := want{l.Status, l.Outcome, l.Reason, l.Delivery, l.Endpoint, l.Provider, l.Remote, l.Bytes}
		if got != w || l.Method != requests[i].req.Method {
			t.Errorf("record %d = %+v (%s), want %+v (%s)", i, got, l.Method, w, requests[i].req.Method)
		}
	}
	if i != len(requests) {
		t.Fatalf("%d records for %d requests", i, len(requests))
	}
	if access.Written() != uint64(len(requests)) {
		t.Errorf("Written() = %d, want %d", access.Written(), len(requests))
	}
}
