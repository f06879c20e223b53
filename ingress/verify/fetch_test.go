package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// loopbackClient reaches srv whatever host a URL names, trusting its test
// certificate: the host checks stay in force, the network is loopback.
func loopbackClient(srv *httptest.Server) *http.Client {
	base := srv.Client().Transport.(*http.Transport).Clone()
	base.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	base.TLSClientConfig = &tls.Config{RootCAs: base.TLSClientConfig.RootCAs, ServerName: "example.com"}
	return &http.Client{Transport: base, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// The JWKS is fetched once, kept for its max-age, refetched for an unknown
// kid at most once per MinRefresh however many tokens ask, and a rotated-in
// key is found after that refetch.
func TestJWKSIsCachedAndRefreshedBoundedly(t *testing.T) {
	now := time.Unix(1_750_000_000, 0).UTC()
	k1, k2 := testECKey(t), testECKey(t)
	j1, kid1 := jwkOf(t, k1)
	j2, kid2 := jwkOf(t, k2)
	var hits atomic.Int32
	var rotated atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		if rotated.Load() {
			_, _ = w.Write([]byte(`{"keys":[` + string(j1) + `,` + string(j2) + `]}`))
			return
		}
		_, _ = w.Write([]byte(`{"keys":[` + string(j1) + `]}`))
	}))
	defer srv.Close()
	f := &Fetcher{Client: loopbackClient(srv), MinRefresh: 30 * time.Second}
	info, _ := hookv1.LookupProvider("jwt")
	v, err := newJWTVerifier(info, &JWTOptions{Issuer: "i", Audiences: []string{"a"}, JWKSURL: "https://issuer.example.com/jwks", Fetcher: f})
	if err != nil {
		t.Fatal(err)
	}
	tok := func(k *ecdsaKey, kid string, at time.Time) *Request {
		s, _ := signJWS(k, kid, map[string]any{"iss": "i", "aud": "a", "exp": at.Unix() + 60})
		return bearerRequest(s)
	}
	for i := 0; i < 5; i++ {
		if _, err := v.Verify(tok(k1, kid1, now), nil, now); err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("%d fetches for 5 tokens of a cached key", hits.Load())
	}
	// A flood of unknown kids: one refetch in the MinRefresh window.
	t1 := now.Add(31 * time.Second)
	for i := 0; i < 20; i++ {
		if _, err := v.Verify(tok(k2, "unknown-"+string(rune('a'+i)), t1), nil, t1); err == nil {
			t.Fatal("unknown key accepted")
		}
	}
	if hits.Load() != 2 {
		t.Fatalf("%d fetches after 20 unknown kids, want 2", hits.Load())
	}
	rotated.Store(true)
	later := t1.Add(31 * time.Second)
	if _, err := v.Verify(tok(k2, kid2, later), nil, later); err != nil {
		t.Fatalf("the rotated-in key after MinRefresh: %v", err)
	}
	if hits.Load() != 3 {
		t.Fatalf("%d fetches, want 3", hits.Load())
	}
	// Expired and the issuer down: the last good set is served.
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.WriteHeader(500) })
	much := later.Add(2 * time.Hour)
	if _, err := v.Verify(tok(k2, kid2, much), nil, much); err != nil {
		t.Fatalf("stale keys not served while the issuer fails: %v", err)
	}
}

type ecdsaKey = ecdsa.PrivateKey

func TestFetcherRefusesWhatItMustNot(t *testing.T) {
	big := strings.Repeat("x", 300<<10)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write([]byte(big))
		case "/redirect":
			http.Redirect(w, r, "https://169.254.169.254/latest/meta-data", http.StatusFound)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		}
	}))
	defer srv.Close()
	f := &Fetcher{Client: loopbackClient(srv), Timeout: 100 * time.Millisecond}
	for _, u := range []string{"https://x.example.com/big", "https://x.example.com/redirect", "https://x.example.com/slow", "http://x.example.com/jwks", "https://user:pw@x.example.com/jwks"} {
		if _, _, err := f.fetch(u); err == nil {
			t.Errorf("%s was fetched", u)
		}
	}
	// The default client never dials a loopback (or private) address.
	if _, _, err := (&Fetcher{}).fetch(srv.URL + "/jwks"); err == nil || !strings.Contains(err.Error(), "non-public") {
		t.Errorf("the default client reached a loopback server: %v", err)
	}
}
