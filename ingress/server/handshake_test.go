package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookgate/hookgate/ingress/verify"
)

// Okta proves a new event hook with a one-time GET: it is answered only
// when it carries the hook's secret, and never stored; other providers
// still get 405 for a GET.
func TestOktasVerificationGETIsAnsweredOnlyWhenItProvesItself(t *testing.T) {
	okta, err := verify.New("okta", verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ep := githubEndpoint()
	ep.Provider, ep.Verifier, ep.Keys, ep.HandshakeMethod = "okta", okta, [][]byte{[]byte("okta-secret")}, http.MethodGet
	f := newFixture(t, ep)

	get := func(auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, hookPath, nil)
		r.Header.Set("X-Okta-Verification-Challenge", "chal-42")
		return f.serveAuth(r, auth)
	}
	if rec := get("okta-secret"); rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"verification":"chal-42"}` {
		t.Fatalf("with the secret: %d %s", rec.Code, rec.Body)
	}
	if rec := get("guess"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("with a wrong secret: %d, want 401", rec.Code)
	}
	if rec := get(""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("without the secret: %d, want 401", rec.Code)
	}
	// A GET with the secret but no challenge is no handshake: never an event.
	r := httptest.NewRequest(http.MethodGet, hookPath, nil)
	r.Header.Set("Authorization", "okta-secret")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		t.Fatalf("a GET without the challenge was accepted")
	}
	if n := len(storedEvents(t, f.q)); n != 0 {
		t.Fatalf("%d events stored from GETs", n)
	}

	gh := newFixture(t, githubEndpoint())
	rec = httptest.NewRecorder()
	gh.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, hookPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET on a GitHub endpoint: %d, want 405", rec.Code)
	}
}
