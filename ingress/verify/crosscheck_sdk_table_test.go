package verify

import (
	"net/http"
	"testing"
	"time"
)

// sdkTamperCase is one row of an official-SDK cross-check's tamper table:
// the signature header's value, the body and the key both sides check with.
type sdkTamperCase struct {
	name, sig, body, secret string
	// wantReason is what is refused here; empty: accepted, by both.
	wantReason Reason
}

// tamperCases are the rows every cross-check tries of a signed request:
// untouched, its body changed (tampered), another key, one signature
// character flipped at flip, and no signature at all.
func tamperCases(sig, body, secret, tampered, otherSecret string, flip int) []sdkTamperCase {
	return []sdkTamperCase{
		{name: "the untouched request is accepted by both", sig: sig, body: body, secret: secret},
		{name: "a changed body is refused by both", sig: sig, body: tampered, secret: secret, wantReason: ReasonSignatureMismatch},
		{name: "another secret is refused by both", sig: sig, body: body, secret: otherSecret, wantReason: ReasonSignatureMismatch},
		{name: "a flipped signature character is refused by both", sig: flipAt(sig, flip), body: body, secret: secret, wantReason: ReasonSignatureMismatch},
		{name: "a missing signature is refused by both", body: body, secret: secret, wantReason: ReasonMissingSignature},
	}
}

// runSDKTamperTable checks each row with provider's verifier here, on a
// POST whose headers are base's plus sigHeader (when the row has a
// signature), and with the SDK, which must accept exactly the rows
// accepted here.
func runSDKTamperTable(t *testing.T, provider, sigHeader string, base http.Header, cases []sdkTamperCase, sdkAccepts func(t *testing.T, r *Request, secret string) bool) {
	t.Helper()
	v := mustNew(t, provider, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := base.Clone()
			if h == nil {
				h = http.Header{}
			}
			if tc.sig != "" {
				h.Set(sigHeader, tc.sig)
			}
			r := &Request{Method: http.MethodPost, Header: h, Body: []byte(tc.body)}
			if _, err := v.Verify(r, keys(tc.secret), time.Time{}); ReasonOf(err) != tc.wantReason {
				t.Fatalf("here: err = %v, want reason %q", err, tc.wantReason)
			}
			if got := sdkAccepts(t, r, tc.secret); got != (tc.wantReason == "") {
				t.Fatalf("the SDK accepted = %v, want %v", got, tc.wantReason == "")
			}
		})
	}
}
