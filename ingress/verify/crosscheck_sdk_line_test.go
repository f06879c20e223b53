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
	sig := lineSignedRequest(t, lineSDKBody, lineSDKSecret).Header.Get("x-line-signature")
	cases := tamperCases(sig, lineSDKBody, lineSDKSecret,
		strings.Replace(lineSDKBody, "Hello, world", "Hello, World", 1), "othersecret", 3)
	runSDKTamperTable(t, "line", "X-Line-Signature", nil, cases, func(t *testing.T, r *Request, secret string) bool {
		hr := httptest.NewRequest(http.MethodPost, "https://hooks.example.com/w/line", bytes.NewReader(r.Body))
		hr.Header = r.Header.Clone()
		_, err := webhook.ParseRequest(secret, hr)
		if err != nil && !errors.Is(err, webhook.ErrInvalidSignature) {
			t.Fatalf("SDK: err = %v, want nil or %v", err, webhook.ErrInvalidSignature)
		}
		return err == nil
	})
}
