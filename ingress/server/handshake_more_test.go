package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookgate/hookgate/ingress/verify"
)

// serveGET sends a GET with the query to a fixture's hook path.
func serveGET(f *fixture, query string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, hookPath+"?"+query, nil))
	return rec
}

// Meta's subscription GET is answered with hub.challenge as text/plain only
// when hub.verify_token is the endpoint's; it is never stored.
func TestMetasSubscriptionGETIsAnsweredOnlyWithTheVerifyToken(t *testing.T) {
	meta, err := verify.New("whatsapp", verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ep := githubEndpoint()
	ep.Provider, ep.Verifier, ep.Keys, ep.HandshakeMethod = "whatsapp", meta, [][]byte{[]byte("my-verify-token:app-secret")}, http.MethodGet
	f := newFixture(t, ep)

	rec := serveGET(f, "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=my-verify-token")
	if rec.Code != http.StatusOK || rec.Body.String() != "1158201444" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("with the verify token: %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	for _, q := range []string{
		"hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess",
		"hub.mode=subscribe&hub.challenge=1",
		"hub.mode=subscribe&hub.challenge=%3Cb%3E&hub.verify_token=my-verify-token",
		"",
	} {
		if rec := serveGET(f, q); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET ?%s: %d, want 401", q, rec.Code)
		}
	}
	if n := len(storedEvents(t, f.q)); n != 0 {
		t.Fatalf("%d events stored from GETs", n)
	}
}

// X's CRC GET is answered with the HMAC of crc_token under the consumer
// secret; a token that is not token text is refused; nothing is stored.
func TestXsCRCIsAnsweredAndNeverStored(t *testing.T) {
	x, err := verify.New("x", verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ep := githubEndpoint()
	ep.Provider, ep.Verifier, ep.Keys, ep.HandshakeMethod = "x", x, [][]byte{[]byte("consumer-secret")}, http.MethodGet
	f := newFixture(t, ep)

	rec := serveGET(f, "crc_token=abc-123")
	want := `{"response_token":"` + verify.SignXCRC("abc-123", []byte("consumer-secret")) + `"}`
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("CRC: %d %s", rec.Code, rec.Body)
	}
	for _, q := range []string{"crc_token=%7B%22id%22%3A1%7D", "", "crc_token="} {
		if rec := serveGET(f, q); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET ?%s: %d, want 401", q, rec.Code)
		}
	}
	if n := len(storedEvents(t, f.q)); n != 0 {
		t.Fatalf("%d events stored from GETs", n)
	}
}
