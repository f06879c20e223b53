package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookgate/hookgate/ingress/verify"
)

// Strava's callback validation GET is answered with the JSON challenge only
// for the endpoint's verify token and is never stored; its unsigned events
// are stored when they look like Strava events.
func TestStravaValidationGETAndUnsignedEvents(t *testing.T) {
	v, err := verify.New("strava", verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ep := githubEndpoint()
	ep.Provider, ep.Verifier, ep.Keys, ep.HandshakeMethod = "strava", v, [][]byte{[]byte("strava-token")}, http.MethodGet
	f := newFixture(t, ep)

	rec := serveGET(f, "hub.mode=subscribe&hub.challenge=15f7d1a91c1f40&hub.verify_token=strava-token")
	if rec.Code != http.StatusOK || rec.Body.String() != `{"hub.challenge":"15f7d1a91c1f40"}` || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("with the verify token: %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if rec := serveGET(f, "hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess"); rec.Code != http.StatusUnauthorized {
		t.Errorf("with another verify token: %d", rec.Code)
	}
	if n := eventsWithBody(t, f, "15f7d1a91c1f40"); n != 0 {
		t.Errorf("%d validation requests stored", n)
	}

	event := `{"aspect_type":"create","event_time":1516126040,"object_id":1360128428,"object_type":"activity","owner_id":134815,"subscription_id":120475,"updates":{}}`
	for i, want := range []string{"accepted", "duplicate"} {
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(event)))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("post %d: %d %s, want %s", i, rec.Code, rec.Body, want)
		}
	}
	rec = httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(`{"hello":"world"}`)))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("a body that is no Strava event: %d", rec.Code)
	}
}
