package verify

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// These tests hold this package to the official Standard Webhooks Go
// library (github.com/standard-webhooks/standard-webhooks/libraries/go), so
// a misreading of the specification shows up as a disagreement rather than
// as two matching mistakes. The library checks timestamps against the real
// clock, so deliveries here are stamped with time.Now().

func newOfficialWebhook(t *testing.T, secret []byte) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(string(secret))
	if err != nil {
		t.Fatalf("official library refused secret: %v", err)
	}
	return wh
}

func randomSecret(t *testing.T, n int) []byte {
	t.Helper()
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return StandardWebhooksSecret(raw)
}

func TestOfficialLibrarySignaturesVerifyHere(t *testing.T) {
	bodies := [][]byte{
		[]byte(`{"type":"contact.created","data":{"id":"1f81eb52"}}`),
		{},
		[]byte("not json at all\x00\xff with binary"),
		make([]byte, 64<<10),
	}
	v := NewStandardWebhooks(0)
	for i, body := range bodies {
		for _, family := range []standardHeaderSet{standardHeaders, svixHeaders} {
			t.Run(fmt.Sprintf("a body of %d bytes signed by the official library verifies under %s headers", len(body), family.id), func(t *testing.T) {
				secret := randomSecret(t, 24+i)
				wh := newOfficialWebhook(t, secret)
				now := time.Now()
				id := fmt.Sprintf("msg_cross_%d", i)
				sig, err := wh.Sign(id, now, body)
				if err != nil {
					t.Fatal(err)
				}
				h := http.Header{}
				h.Set(family.id, id)
				h.Set(family.timestamp, fmt.Sprint(now.Unix()))
				h.Set(family.signature, sig)
				r := &Request{Method: http.MethodPost, Header: h, Body: body}

				res, err := v.Verify(r, [][]byte{randomSecret(t, 32), secret}, now)
				if err != nil {
					t.Fatalf("official signature refused: %v", err)
				}
				if res.DeliveryID != id || res.Timestamp.Unix() != now.Unix() {
					t.Fatalf("result = %+v", res)
				}
			})
		}
	}
}

func TestTamperedOfficialLibrarySignaturesFailBothHereAndThere(t *testing.T) {
	secret := randomSecret(t, 32)
	wh := newOfficialWebhook(t, secret)
	now := time.Now()
	const id = "msg_tamper"
	body := []byte(`{"amount":100}`)
	sig, err := wh.Sign(id, now, body)
	if err != nil {
		t.Fatal(err)
	}
	ts := fmt.Sprint(now.Unix())

	cases := []struct {
		name            string
		id, ts, sig     string
		body            []byte
		secret          []byte
		wantReason      Reason
		officialRejects bool
	}{
		{name: "an untouched delivery is accepted by both", id: id, ts: ts, sig: sig, body: body, secret: secret},
		{name: "a changed body is rejected by both", id: id, ts: ts, sig: sig, body: []byte(`{"amount":900}`), secret: secret, wantReason: ReasonSignatureMismatch, officialRejects: true},
		{name: "a changed id is rejected by both", id: id + "2", ts: ts, sig: sig, body: body, secret: secret, wantReason: ReasonSignatureMismatch, officialRejects: true},
		{name: "a changed timestamp is rejected by both", id: id, ts: fmt.Sprint(now.Unix() - 1), sig: sig, body: body, secret: secret, wantReason: ReasonSignatureMismatch, officialRejects: true},
		{name: "a flipped signature character is rejected by both", id: id, ts: ts, sig: flipAt(sig, 3), body: body, secret: secret, wantReason: ReasonSignatureMismatch, officialRejects: true},
		{name: "another secret is rejected by both", id: id, ts: ts, sig: sig, body: body, secret: randomSecret(t, 32), wantReason: ReasonSignatureMismatch, officialRejects: true},
	}
	v := NewStandardWebhooks(0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(StandardWebhooksIDHeader, tc.id)
			h.Set(StandardWebhooksTimestampHeader, tc.ts)
			h.Set(StandardWebhooksSignatureHeader, tc.sig)

			_, err := v.Verify(&Request{Header: h, Body: tc.body}, [][]byte{tc.secret}, now)
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("here: err = %v, want reason %q", err, tc.wantReason)
			}
			officialErr := newOfficialWebhook(t, tc.secret).Verify(tc.body, h)
			if (officialErr != nil) != tc.officialRejects {
				t.Fatalf("official library: err = %v, want rejection %v", officialErr, tc.officialRejects)
			}
		})
	}
}

func TestSignStandardWebhooksVerifiesWithOfficialLibrary(t *testing.T) {
	cases := []struct {
		name   string
		secret []byte
	}{
		{name: "a whsec_ secret signed here verifies with the official library", secret: randomSecret(t, 32)},
		{name: "the reference vector's secret signed here verifies with the official library", secret: []byte(swVectorSecret)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(`{"hello":"world"}`)
			h := StandardWebhooksHeaders("msg_reverse", time.Now(), body, tc.secret)
			if err := newOfficialWebhook(t, tc.secret).Verify(body, h); err != nil {
				t.Fatalf("official library refused our signature: %v", err)
			}
		})
	}
}

func TestOfficialLibraryReproducesThePublishedVector(t *testing.T) {
	got, err := newOfficialWebhook(t, []byte(swVectorSecret)).Sign(swVectorID, unix(swVectorTimestamp), []byte(swVectorPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != swVectorSignature {
		t.Fatalf("official library signs %q, published vector is %q", got, swVectorSignature)
	}
	if ours := SignStandardWebhooks(swVectorID, unix(swVectorTimestamp), []byte(swVectorPayload), []byte(swVectorSecret)); ours != got {
		t.Fatalf("we sign %q, official library signs %q", ours, got)
	}
}
