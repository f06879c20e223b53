package verify

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/line/line-bot-sdk-go/v8/linebot/webhook"
)

// LINE Messaging API against LINE's official Go SDK,
// github.com/line/line-bot-sdk-go/v8 v8.14.0 (test-only):
// webhook.ValidateSignature(channelSecret, signature, body), which
// webhook.ParseRequest applies to x-line-signature. The SDK exports no
// signer and publishes no vector (its tests compute the MAC with
// crypto/hmac), so "SDK signs, we verify" has no SDK side here: the SDK
// checks what `hookgate send` signs, and both must give the same verdict on
// tampered requests.

const lineSDKSecret = "testsecret"

const lineSDKBody = `{"destination":"U0123456789abcdef0123456789abcdef","events":[{"type":"message","message":{"type":"text","id":"325708","text":"Hello, world"},"webhookEventId":"01FZ74A0TDDPYRVKNK77XKC3ZR","deliveryContext":{"isRedelivery":false},"timestamp":1625665242211,"source":{"type":"user","userId":"U80696558e1aa831a5c4e73a4fc0a2ae6"},"replyToken":"757913772c4646b784d4b7ce46d12671","mode":"active"}]}`

func lineSignedRequest(t *testing.T, body, secret string) *Request {
	t.Helper()
	u, _ := url.Parse("https://hooks.example.com/w/line")
	r, err := SignRequest("line", Options{}, Delivery{ID: "01FZ74A0TDDPYRVKNK77XKC3ZR", Time: time.Unix(1_625_665_242, 0), Body: []byte(body), URL: u}, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLineSendVerifiesWithSDK(t *testing.T) {
	for _, body := range []string{lineSDKBody, `{"destination":"U1","events":[]}`} {
		r := lineSignedRequest(t, body, lineSDKSecret)
		sig := r.Header.Get("x-line-signature")
		if !webhook.ValidateSignature(lineSDKSecret, sig, r.Body) {
			t.Fatalf("the SDK refuses what hookgate send signs: %q", sig)
		}
		// ParseRequest, what a LINE bot built on the SDK calls, agrees.
		hr := httptest.NewRequest(http.MethodPost, "https://hooks.example.com/w/line", bytes.NewReader(r.Body))
		hr.Header = r.Header.Clone()
		if _, err := webhook.ParseRequest(lineSDKSecret, hr); err != nil {
			t.Fatalf("the SDK's ParseRequest refuses what hookgate send signs: %v", err)
		}
		if _, err := mustNew(t, "line", Options{}).Verify(r, keys("another-secret", lineSDKSecret), time.Time{}); err != nil {
			t.Fatalf("here: %v", err)
		}
	}
}

func TestLineTamperedRefusedByBothHereAndSDK(t *testing.T) {
	signed := lineSignedRequest(t, lineSDKBody, lineSDKSecret)
	sig := signed.Header.Get("x-line-signature")
	cases := []struct {
		name, sig, body, secret string
		wantReason              Reason
	}{
		{name: "the untouched request is accepted by both", sig: sig, body: lineSDKBody, secret: lineSDKSecret},
		{name: "a changed body is refused by both", sig: sig, body: strings.Replace(lineSDKBody, "Hello, world", "Hello, World", 1), secret: lineSDKSecret, wantReason: ReasonSignatureMismatch},
		{name: "another channel secret is refused by both", sig: sig, body: lineSDKBody, secret: "othersecret", wantReason: ReasonSignatureMismatch},
		{name: "a flipped signature character is refused by both", sig: flipAt(sig, 3), body: lineSDKBody, secret: lineSDKSecret, wantReason: ReasonSignatureMismatch},
		{name: "a missing signature is refused by both", body: lineSDKBody, secret: lineSDKSecret, wantReason: ReasonMissingSignature},
	}
	v := mustNew(t, "line", Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.sig != "" {
				h.Set("X-Line-Signature", tc.sig)
			}
			r := &Request{Method: http.MethodPost, Header: h, Body: []byte(tc.body)}
			if _, err := v.Verify(r, keys(tc.secret), time.Time{}); ReasonOf(err) != tc.wantReason {
				t.Fatalf("here: err = %v, want reason %q", err, tc.wantReason)
			}
			hr := httptest.NewRequest(http.MethodPost, "https://hooks.example.com/w/line", bytes.NewReader(r.Body))
			hr.Header = h.Clone()
			_, err := webhook.ParseRequest(tc.secret, hr)
			if tc.wantReason == "" && err != nil {
				t.Fatalf("SDK: %v", err)
			}
			if tc.wantReason != "" && !errors.Is(err, webhook.ErrInvalidSignature) {
				t.Fatalf("SDK: err = %v, want %v", err, webhook.ErrInvalidSignature)
			}
		})
	}
}
