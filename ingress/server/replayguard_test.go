package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/queue"
)

var mailgunKey = []byte("key-3ax6xnjp29jd6fds4gc373sgvjxteol0")

func mailgunEndpoint() *registry.Endpoint {
	ep := githubEndpoint()
	ep.Provider = "mailgun"
	ep.Verifier = verify.NewMailgun(0)
	ep.Keys = [][]byte{mailgunKey}
	return ep
}

// TestAMailgunTokenIsNeverAcceptedWithoutItsMarker plays an attacker who
// observed one Mailgun delivery: Mailgun signs only timestamp and token, so
// its signature block fits any body, and only the receiver remembering the
// token refuses the copy. While that memory cannot be written (the events
// stream, which holds the markers too, is full), the receiver must answer
// 503 and store nothing rather than accept a request it could not guard.
func TestAMailgunTokenIsNeverAcceptedWithoutItsMarker(t *testing.T) {
	f := newFixture(t, mailgunEndpoint())
	const token = "a7c1e9f04b2d6e8a0c3f5b7d9e1a3c5e7b9d1f3a5c7e9b1d3f"
	body := func(eventData map[string]any) func() *http.Request {
		return func() *http.Request {
			b, err := verify.MailgunJSONBody(now, token, eventData, mailgunKey)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(string(b)))
			r.Header.Set("Content-Type", "application/json")
			return r
		}
	}
	genuine := body(map[string]any{"event": "delivered", "recipient": "alice@example.com"})
	forged := body(map[string]any{"event": "unsubscribed", "recipient": "ceo@example.com"})
	send := func(i int, build func() *http.Request, want response) {
		t.Helper()
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, build())
		checkResponse(t, i, rec.Result(), want)
	}
	// Which 503 reason a full store gets is the handler's business; that
	// the answer is a 503 is the point.
	sendRefused := func(i int, build func() *http.Request) {
		t.Helper()
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, build())
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("response %d: status = %d %s, want 503 so that Mailgun retries", i, rec.Code, rec.Body)
		}
	}

	ctx := context.Background()
	s, err := f.q.JS.Stream(ctx, queue.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	full := cfg
	full.MaxBytes = 1
	if _, err := f.q.JS.UpdateStream(ctx, full); err != nil {
		t.Fatal(err)
	}
	sendRefused(1, genuine)
	sendRefused(2, forged)
	if n := len(storedEvents(t, f.q)); n != 0 {
		t.Fatalf("%d events stored while the token could not be remembered", n)
	}

	if _, err := f.q.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// Mailgun retries the 503; the copy comes after it.
	send(3, genuine, response{http.StatusOK, "accepted", ""})
	send(4, forged, response{http.StatusOK, "duplicate", ""})
	stored := storedEvents(t, f.q)
	if len(stored) != 1 || !strings.Contains(string(stored[0].Data), `"delivered"`) {
		t.Fatalf("stored %d events, want only the genuine one", len(stored))
	}
}
