package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/queue"
)

func asanaFixture(t *testing.T, armedUntil time.Time) (*fixture, *queue.HandshakeSecrets, *registry.Endpoint) {
	t.Helper()
	v, err := verify.New("asana", verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ep := githubEndpoint()
	ep.Provider, ep.Verifier, ep.Keys, ep.CapturesSecret = "asana", v, nil, true
	if !armedUntil.IsZero() {
		ep.ArmedUntil, ep.Arm = armedUntil, armedUntil.Format(time.RFC3339)
	}
	f := newFixture(t, ep)
	hs, err := queue.OpenHandshakeSecrets(context.Background(), f.nc)
	if err != nil {
		t.Fatal(err)
	}
	f.h.Handshakes = hs
	return f, hs, ep
}

func asanaHandshake(f *fixture, secret string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(""))
	r.Header.Set(verify.AsanaHookSecretHeader, secret)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	return rec
}

// Asana's handshake is answered with X-Hook-Secret only while the endpoint
// is armed, after the secret is durably stored for the manager, and only
// once per arm; later events verify with the secret once it is the
// endpoint's key.
func TestAsanaHandshakeIsCapturedOnlyWhileArmed(t *testing.T) {
	arm := now.Add(30 * time.Minute)
	f, hs, ep := asanaFixture(t, arm)

	rec := asanaHandshake(f, "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81")
	if rec.Code != http.StatusOK || rec.Header().Get(verify.AsanaHookSecretHeader) != "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81" {
		t.Fatalf("armed handshake: %d %q %s", rec.Code, rec.Header().Get(verify.AsanaHookSecretHeader), rec.Body)
	}
	got, found, consumed, err := hs.Captured(context.Background(), ep.UID, ep.Arm)
	if err != nil || !found || consumed || string(got) != "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81" {
		t.Fatalf("captured secret: %q found=%v consumed=%v err=%v", got, found, consumed, err)
	}
	if n := len(storedEvents(t, f.q)); n != 0 {
		t.Errorf("the handshake stored %d events", n)
	}

	// A second handshake of the same arm, even with another secret, is
	// refused and does not replace the first.
	if rec := asanaHandshake(f, "attacker-secret"); rec.Code != http.StatusForbidden || rec.Header().Get(verify.AsanaHookSecretHeader) != "" {
		t.Errorf("second handshake: %d %q", rec.Code, rec.Header().Get(verify.AsanaHookSecretHeader))
	}
	if got, _, _, _ := hs.Captured(context.Background(), ep.UID, ep.Arm); string(got) != "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81" {
		t.Errorf("the first secret was replaced by %q", got)
	}

	// Once the manager made it the endpoint's key, events verify with it.
	withKey := *ep
	withKey.Keys, withKey.ArmedUntil, withKey.Arm = [][]byte{[]byte("b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81")}, time.Time{}, ""
	f.h.Registry.Upsert(&withKey)
	body := `{"events":[{"action":"changed","resource":{"gid":"1"}}]}`
	signed, err := verify.SignRequest("asana", verify.Options{}, verify.Delivery{Body: []byte(body), URL: mustParse(t, "https://h.example.com"+hookPath)}, withKey.Keys[0])
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(body))
	r.Header = signed.Header
	rec = httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("event signed with the captured secret: %d %s", rec.Code, rec.Body)
	}
	// Disarmed, a handshake is refused even though keys exist.
	if rec := asanaHandshake(f, "another"); rec.Code != http.StatusForbidden {
		t.Errorf("handshake after disarm: %d", rec.Code)
	}
}

func TestAsanaHandshakeIsRefusedUnlessArmed(t *testing.T) {
	for _, c := range []struct {
		name  string
		until time.Time
	}{
		{"not armed", time.Time{}},
		{"arm expired", now.Add(-time.Second)},
		{"arm more than an hour ahead", now.Add(2 * time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, hs, ep := asanaFixture(t, c.until)
			rec := asanaHandshake(f, "s3cret")
			if rec.Code != http.StatusForbidden || rec.Header().Get(verify.AsanaHookSecretHeader) != "" || !strings.Contains(rec.Body.String(), ReasonHandshakeNotArmed) {
				t.Fatalf("%d %q %s", rec.Code, rec.Header().Get(verify.AsanaHookSecretHeader), rec.Body)
			}
			if _, found, _, _ := hs.Captured(context.Background(), ep.UID, ep.Arm); found {
				t.Error("a refused handshake's secret was stored")
			}
		})
	}
	// Without a store the secret cannot be kept: 503, nothing echoed.
	f, _, _ := asanaFixture(t, now.Add(time.Minute))
	f.h.Handshakes = nil
	if rec := asanaHandshake(f, "s3cret"); rec.Code != http.StatusServiceUnavailable || rec.Header().Get(verify.AsanaHookSecretHeader) != "" {
		t.Errorf("without a store: %d", rec.Code)
	}
}
