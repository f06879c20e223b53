package verify

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Square's official Go SDK's own test cases, from square/square-go-sdk
// webhooks/client/verify_signature_test.go (TestWebhookSignatureValidation):
// https://github.com/square/square-go-sdk/blob/main/webhooks/client/verify_signature_test.go
// The SDK itself is not on the Go module proxy this project can reach
// (github.com/square/square-go-sdk answers "not available"), so its test
// vectors are used instead of the module.
const (
	squareSDKBody   = `{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}`
	squareSDKSig    = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="
	squareSDKKey    = "Ibxx_5AKakO-3qeNVR61Dw"
	squareSDKURL    = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
	squareSDKKey2   = "signature-key"
	squareSDKURL2   = "https://webhook.site/webhooks"
	squareSDKBody2  = `{"data":{"type":"webhooks","id":"fake_id"}}`
	squareSDKSig2   = "W3FlCNk5IA3ZQ2LHTWoajvzfaDu/OwY2tNHIHC3IUOA="
	squareSDKBody3  = `{"data":{"type":"webhooks","id":">id<"}}`
	squareSDKSig3   = "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U="
	squareSDKWrong  = "MCmhFRxGX82xMwg5FsaoQA"
	squareSDKURLBad = "https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9"
)

// squareReq builds a request as the receiver would, with the URL Square
// called.
func squareReq(t *testing.T, rawURL, body string, kv ...string) *Request {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	r := req(body, kv...)
	r.URL = u
	return r
}

func TestSquareVerify(t *testing.T) {
	const (
		key      = "square-signature-key"
		previous = "square-previous-key"
		hookURL  = "https://hooks.example.com/hook/0123456789abcdef0123456789abcdef"
		eventID  = "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc"
	)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	body := `{"merchant_id":"6SSW7HV8K2ST5","type":"payment.updated","event_id":"` + eventID + `","created_at":"2026-01-02T03:04:00Z","data":{"type":"payment","id":"KkAkhdMsgzn59SM8A89WgKwekxLZY"}}`
	sig := SignSquare(hookURL, []byte(body), []byte(key))
	const hdr = "x-square-hmacsha256-signature"

	runVerifyCases(t, NewSquare(), []verifyCase{
		{
			name:   "the Square SDK's valid test notification verifies and event_id is the delivery id",
			req:    squareReq(t, squareSDKURL, squareSDKBody, hdr, squareSDKSig, "square-environment", "Production"),
			keys:   keys(squareSDKKey),
			now:    now,
			wantID: "ac3ac95b-f97d-458c-a6e6-18981597e05f",
		},
		{
			name: "the Square SDK's unescaped-characters case verifies",
			req:  squareReq(t, squareSDKURL2, squareSDKBody2, hdr, squareSDKSig2),
			keys: keys(squareSDKKey2),
			now:  now,
		},
		{
			name: "the Square SDK's escaped-characters case verifies",
			req:  squareReq(t, squareSDKURL2, squareSDKBody3, hdr, squareSDKSig3),
			keys: keys(squareSDKKey2),
			now:  now,
		},
		{
			name:   "a notification to this endpoint's own URL verifies",
			req:    squareReq(t, hookURL, body, hdr, sig),
			keys:   keys(key),
			now:    now,
			wantID: eventID,
		},
		{
			name:   "a query string is part of the signed URL",
			req:    squareReq(t, hookURL+"?env=prod", body, hdr, SignSquare(hookURL+"?env=prod", []byte(body), []byte(key))),
			keys:   keys(key),
			now:    now,
			wantID: eventID,
		},
		{
			name:   "during rotation a notification signed with the second key verifies",
			req:    squareReq(t, hookURL, body, hdr, SignSquare(hookURL, []byte(body), []byte(previous))),
			keys:   keys(key, previous),
			now:    now,
			wantID: eventID,
		},
		{
			name:       "the SDK's notification-URL-mismatch case is refused",
			req:        squareReq(t, squareSDKURLBad, squareSDKBody, hdr, squareSDKSig),
			keys:       keys(squareSDKKey),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the SDK's invalid-signature-key case is refused",
			req:        squareReq(t, squareSDKURL, squareSDKBody, hdr, squareSDKSig),
			keys:       keys(squareSDKWrong),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the SDK's request-body-mismatch case is refused",
			req:        squareReq(t, squareSDKURL, strings.Replace(squareSDKBody, "2022-07-13", "2022-06-13", 1), hdr, squareSDKSig),
			keys:       keys(squareSDKKey),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the SDK's invalid-signature-header case (a 20-byte SHA-1 value) is malformed",
			req:        squareReq(t, squareSDKURL, squareSDKBody, hdr, "1z2n3DEJJiUPKcPzQo1ftvbxGdw="),
			keys:       keys(squareSDKKey),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a notification replayed to another path of the same host is refused",
			req:        squareReq(t, "https://hooks.example.com/hook/ffffffffffffffffffffffffffffffff", body, hdr, sig),
			keys:       keys(key),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a notification seen over plain http is refused, since the scheme is signed",
			req:        squareReq(t, strings.Replace(hookURL, "https://", "http://", 1), body, hdr, sig),
			keys:       keys(key),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "an empty body is verified like any other, not waved through as the SDK does",
			req:        squareReq(t, hookURL, "", hdr, sig),
			keys:       keys(key),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature that is not base64 is malformed",
			req:        squareReq(t, hookURL, body, hdr, "not base64!"),
			keys:       keys(key),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature header sent twice is malformed",
			req:        squareReq(t, hookURL, body, hdr, sig, hdr, sig),
			keys:       keys(key),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a missing signature header is refused as missing",
			req:        squareReq(t, hookURL, body, "square-version", "2026-01-22"),
			keys:       keys(key),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a request without its URL cannot be checked and is refused",
			req:        &Request{Method: http.MethodPost, Header: http.Header{"X-Square-Hmacsha256-Signature": {sig}}, Body: []byte(body)},
			keys:       keys(key),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "only empty keys are never usable",
			req:        squareReq(t, hookURL, body, hdr, SignSquare(hookURL, []byte(body), nil)),
			keys:       keys(""),
			now:        now,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			keys:       keys(key),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
	})
}

func TestSignSquareReproducesTheSDKVectors(t *testing.T) {
	for _, tc := range []struct{ url, body, key, want string }{
		{squareSDKURL, squareSDKBody, squareSDKKey, squareSDKSig},
		{squareSDKURL2, squareSDKBody2, squareSDKKey2, squareSDKSig2},
		{squareSDKURL2, squareSDKBody3, squareSDKKey2, squareSDKSig3},
	} {
		if got := SignSquare(tc.url, []byte(tc.body), []byte(tc.key)); got != tc.want {
			t.Errorf("SignSquare(%q, %q) = %q, Square's SDK expects %q", tc.url, tc.body, got, tc.want)
		}
	}
	if _, err := New("square", Options{}); err != nil {
		t.Fatal(err)
	}
}
