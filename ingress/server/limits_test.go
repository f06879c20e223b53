package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/hookgate/hookgate/ingress/verify"
)

// A rotation must reject no valid request: the previous key verifies until
// its overlap window ends, and not a moment after.
func TestPreviousKeyVerifiesUntilTheOverlapEnds(t *testing.T) {
	oldKey, newKey := []byte("old-key"), []byte("new-key")
	ep := githubEndpoint()
	ep.Keys = [][]byte{newKey}
	ep.PreviousKey = oldKey
	ep.PreviousExpires = now.Add(time.Hour)
	f := newFixture(t, ep)

	cases := []struct {
		name  string
		at    time.Time
		key   []byte
		want  int
		delay string
	}{
		{"the new key verifies during the overlap", now, newKey, http.StatusOK, "n1"},
		{"the old key verifies during the overlap", now.Add(59 * time.Minute), oldKey, http.StatusOK, "o1"},
		{"the old key is refused once the overlap ended", now.Add(time.Hour), oldKey, http.StatusUnauthorized, "o2"},
		{"the new key still verifies after the overlap", now.Add(2 * time.Hour), newKey, http.StatusOK, "n2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			at := c.at
			f.h.Now = func() time.Time { return at }
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, githubRequest(payload, c.delay, c.key))
			if rec.Code != c.want {
				t.Fatalf("status = %d %s, want %d", rec.Code, rec.Body, c.want)
			}
		})
	}
}

func TestAnEndpointOverItsRateLimitGets429WithRetryAfter(t *testing.T) {
	ep := githubEndpoint()
	ep.Limiter = rate.NewLimiter(rate.Limit(1), 2)
	f := newFixture(t, ep)
	codes := []int{}
	var last *httptest.ResponseRecorder
	for i := 0; i < 3; i++ {
		last = httptest.NewRecorder()
		f.h.ServeHTTP(last, githubRequest(payload, "rl-"+string(rune('a'+i)), githubKey))
		codes = append(codes, last.Code)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != http.StatusTooManyRequests {
		t.Fatalf("codes = %v, want [200 200 429]", codes)
	}
	if got := last.Header().Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After = %q, want 1", got)
	}
	// A refused request must not consume the budget: one second later
	// exactly one more request is admitted.
	f.h.Now = func() time.Time { return now.Add(time.Second) }
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, githubRequest(payload, "rl-z", githubKey))
	if rec.Code != http.StatusOK {
		t.Fatalf("after a second: %d, want 200", rec.Code)
	}
	if n := len(storedEvents(t, f.q)); n != 3 {
		t.Fatalf("stored %d events, want 3 (rate-limited requests are not stored)", n)
	}
}

// handshakeVerifier stands in for a provider that answers a challenge.
type handshakeVerifier struct{ verified bool }

func (h handshakeVerifier) Verify(*verify.Request, [][]byte, time.Time) (verify.Result, error) {
	if !h.verified {
		return verify.Result{}, &verify.Error{Reason: verify.ReasonSignatureMismatch}
	}
	return verify.Result{Handshake: &verify.Handshake{Status: 200, ContentType: "text/plain", Body: []byte("challenge-123")}}, nil
}

func TestAHandshakeIsAnsweredDirectlyAndNotStored(t *testing.T) {
	ep := githubEndpoint()
	ep.Verifier = handshakeVerifier{verified: true}
	f := newFixture(t, ep)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(`{"challenge":"challenge-123"}`)))
	if rec.Code != 200 || rec.Body.String() != "challenge-123" || rec.Header().Get("Content-Type") != "text/plain" {
		t.Fatalf("got %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if n := len(storedEvents(t, f.q)); n != 0 {
		t.Fatalf("a handshake was stored as an event (%d)", n)
	}

	ep2 := githubEndpoint()
	ep2.Verifier = handshakeVerifier{verified: false}
	f2 := newFixture(t, ep2)
	rec = httptest.NewRecorder()
	f2.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(`{}`)))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("an unverified handshake got %d, want 401", rec.Code)
	}
}

func TestTheAllowlistAppliesToTheClientBehindATrustedProxy(t *testing.T) {
	ep := githubEndpoint()
	var err error
	if ep.SourceRanges, err = ParseCIDRs([]string{"192.0.2.0/24"}); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, ep)
	f.h.Proxies = &Proxies{Trusted: mustCIDRs(t, "10.0.0.0/8")}
	send := func(remote, xff, id string) int {
		r := githubRequest(payload, id, githubKey)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, r)
		return rec.Code
	}
	if c := send("10.0.0.7:1", "192.0.2.10", "p1"); c != 200 {
		t.Fatalf("allowed client behind the proxy: %d", c)
	}
	if c := send("10.0.0.7:1", "192.0.2.10, 203.0.113.5", "p2"); c != http.StatusForbidden {
		t.Fatalf("a forged allowed address left of the real client was believed: %d", c)
	}
	if c := send("203.0.113.5:1", "192.0.2.10", "p3"); c != http.StatusForbidden {
		t.Fatalf("X-Forwarded-For from an untrusted peer was believed: %d", c)
	}
}

func TestAGitLabTokenIsNeverStored(t *testing.T) {
	f := newFixture(t, githubEndpoint())
	r := githubRequest(payload, "gl-1", githubKey)
	r.Header.Set("X-Gitlab-Token", "the-shared-secret")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	for _, m := range storedEvents(t, f.q) {
		for k := range m.Header {
			if strings.EqualFold(k, "Orig-X-Gitlab-Token") {
				t.Fatal("the GitLab token was stored with the event")
			}
		}
	}
}
