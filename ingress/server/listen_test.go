package server

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/hookgate/hookgate/ingress/verify"
)

// startServer runs both listeners on loopback. The ingress controller's
// range and the pods' range are the same here (loopback), as with the
// pod-CIDR setting the chart used to recommend.
func startServer(t *testing.T, f *fixture) *Server {
	t.Helper()
	s := &Server{Handler: f.h, Addr: "127.0.0.1:0", ProxiedAddr: "127.0.0.1:0",
		Proxies: Proxies{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, Log: testr.New(t)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for s.Ready(nil) != nil {
		if time.Now().After(deadline) {
			t.Fatal("server not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

func post(t *testing.T, addr, xff string, key []byte, id string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+hookPath, strings.NewReader(payload))
	req.Header.Set(verify.GitHubDeliveryHeader, id)
	req.Header.Set(verify.GitHubSignature256Header, verify.SignGitHub([]byte(payload), key))
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A pod in the cluster sends X-Forwarded-For with an allowlisted address
// straight to the receiver: the public listener does not believe it.
func TestAPodCannotSpoofItsAddressPastTheAllowlist(t *testing.T) {
	ep := githubEndpoint()
	ep.SourceRanges = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	f := newFixture(t, ep)
	s := startServer(t, f)

	if got := post(t, s.BoundAddr("public"), "192.0.2.10", githubKey, "spoof-1"); got != http.StatusForbidden {
		t.Fatalf("spoofed X-Forwarded-For on the public listener: %d, want 403", got)
	}
	// Through the ingress controller (the proxied listener) the header it
	// appends is believed.
	if got := post(t, s.BoundAddr("proxied"), "192.0.2.10", githubKey, "proxied-1"); got != http.StatusOK {
		t.Fatalf("X-Forwarded-For from a trusted proxy: %d, want 200", got)
	}
	// And a client's forged hop to the left of an untrusted one is not.
	if got := post(t, s.BoundAddr("proxied"), "192.0.2.10, 198.51.100.7", githubKey, "proxied-2"); got != http.StatusForbidden {
		t.Fatalf("forged hop behind the proxy: %d, want 403", got)
	}
}

func TestShutdownLetsRequestsInFlightFinish(t *testing.T) {
	f := newFixture(t, githubEndpoint())
	s := &Server{Handler: f.h, Addr: "127.0.0.1:0", Log: testr.New(t)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	for s.Ready(nil) != nil {
		time.Sleep(5 * time.Millisecond)
	}
	if got := post(t, s.BoundAddr("public"), "", githubKey, "before-stop"); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Start returned %v", err)
	}
	if s.Ready(nil) == nil {
		t.Fatal("still ready after shutdown")
	}
}
