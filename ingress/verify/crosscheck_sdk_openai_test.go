package verify

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/webhooks"
)

// OpenAI against its official Go SDK, github.com/openai/openai-go/v3
// v3.100.0 (test-only): WebhookService.VerifySignatureWithToleranceAndTime,
// which Unwrap calls, with the SDK's 5-minute tolerance and an explicit
// clock. The SDK exports no signer; its side of "SDK signs, we verify" is
// the vector of its own tests (webhooks/webhook_test.go).

const (
	openAISDKSecret    = "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c="
	openAISDKPayload   = `{"id": "evt_685c059ae3a481909bdc86819b066fb6", "object": "event", "created_at": 1750861210, "type": "response.completed", "data": {"id": "resp_123"}}`
	openAISDKTimestamp = 1750861210
	openAISDKID        = "wh_685c059ae39c8190af8c71ed1022a24d"
	openAISDKSignature = "v1,gUAg4R2hWouRZqRQG4uJypNS8YK885G838+EHb4nKBY="
)

func openAISDKVerify(r *Request, secret string, now time.Time) error {
	svc := webhooks.NewWebhookService(option.WithWebhookSecret(secret))
	return svc.VerifySignatureWithToleranceAndTime(r.Body, r.Header, 5*time.Minute, now)
}

func openAIRequest(id, ts, sig, body string) *Request {
	return &Request{Method: http.MethodPost, Header: hdr("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig), Body: []byte(body)}
}

func TestOpenAISDKVectorVerifiesHere(t *testing.T) {
	sent := unix(openAISDKTimestamp)
	r := openAIRequest(openAISDKID, strconv.Itoa(openAISDKTimestamp), openAISDKSignature, openAISDKPayload)
	if err := openAISDKVerify(r, openAISDKSecret, sent); err != nil {
		t.Fatalf("the SDK refuses its own vector: %v", err)
	}
	res, err := mustNew(t, "openai", Options{}).Verify(r, keys(openAISDKSecret), sent)
	if err != nil || res.DeliveryID != openAISDKID || !res.Timestamp.Equal(sent) {
		t.Fatalf("the SDK's vector: (%+v, %v)", res, err)
	}
}

func TestOpenAISendVerifiesWithSDK(t *testing.T) {
	u, _ := url.Parse("https://hooks.example.com/w/openai")
	now := time.Unix(1_750_000_000, 0)
	secret := string(StandardWebhooksSecret([]byte("0123456789abcdef0123456789abcdef")))
	for _, body := range []string{openAISDKPayload, `{"type":"batch.completed","data":{"id":"batch_1"}}`} {
		r, err := SignRequest("openai", Options{}, Delivery{ID: "wh_send", Event: "response.completed", Time: now, Body: []byte(body), URL: u}, []byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		if err := openAISDKVerify(r, secret, now); err != nil {
			t.Fatalf("the SDK refuses what hookgate send signs: %v", err)
		}
		if err := openAISDKVerify(r, openAISDKSecret, now); err == nil {
			t.Fatal("the SDK accepts what hookgate send signs under another secret")
		}
	}
}

func TestOpenAITamperedRefusedByBothHereAndSDK(t *testing.T) {
	sent := unix(openAISDKTimestamp)
	ts := strconv.Itoa(openAISDKTimestamp)
	other := string(StandardWebhooksSecret([]byte("another key of thirty-two bytes!")))
	cases := []struct {
		name, id, ts, sig, body, secret string
		now                             time.Time
		wantReason                      Reason
	}{
		{name: "the untouched vector is accepted by both", id: openAISDKID, ts: ts, sig: openAISDKSignature, body: openAISDKPayload, secret: openAISDKSecret, now: sent},
		{name: "the vector four minutes later is accepted by both", id: openAISDKID, ts: ts, sig: openAISDKSignature, body: openAISDKPayload, secret: openAISDKSecret, now: sent.Add(4 * time.Minute)},
		{name: "the vector beside an unknown signature is accepted by both", id: openAISDKID, ts: ts, sig: "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " + openAISDKSignature, body: openAISDKPayload, secret: openAISDKSecret, now: sent},
		{name: "a changed body is refused by both", id: openAISDKID, ts: ts, sig: openAISDKSignature, body: strings.Replace(openAISDKPayload, "resp_123", "resp_124", 1), secret: openAISDKSecret, now: sent, wantReason: ReasonSignatureMismatch},
		{name: "another secret is refused by both", id: openAISDKID, ts: ts, sig: openAISDKSignature, body: openAISDKPayload, secret: other, now: sent, wantReason: ReasonSignatureMismatch},
		{name: "a changed id is refused by both", id: openAISDKID + "x", ts: ts, sig: openAISDKSignature, body: openAISDKPayload, secret: openAISDKSecret, now: sent, wantReason: ReasonSignatureMismatch},
		{name: "a changed timestamp is refused by both", id: openAISDKID, ts: strconv.Itoa(openAISDKTimestamp + 1), sig: openAISDKSignature, body: openAISDKPayload, secret: openAISDKSecret, now: sent, wantReason: ReasonSignatureMismatch},
		{name: "a flipped signature character is refused by both", id: openAISDKID, ts: ts, sig: flipAt(openAISDKSignature, 3), body: openAISDKPayload, secret: openAISDKSecret, now: sent, wantReason: ReasonSignatureMismatch},
		{name: "the vector six minutes later is refused by both", id: openAISDKID, ts: ts, sig: openAISDKSignature, body: openAISDKPayload, secret: openAISDKSecret, now: sent.Add(6 * time.Minute), wantReason: ReasonTimestampOutOfRange},
		{name: "the vector six minutes early is refused by both", id: openAISDKID, ts: ts, sig: openAISDKSignature, body: openAISDKPayload, secret: openAISDKSecret, now: sent.Add(-6 * time.Minute), wantReason: ReasonTimestampOutOfRange},
	}
	v := mustNew(t, "openai", Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := openAIRequest(tc.id, tc.ts, tc.sig, tc.body)
			if _, err := v.Verify(r, keys(tc.secret), tc.now); ReasonOf(err) != tc.wantReason {
				t.Fatalf("here: err = %v, want reason %q", err, tc.wantReason)
			}
			if err := openAISDKVerify(r, tc.secret, tc.now); (err == nil) != (tc.wantReason == "") {
				t.Fatalf("SDK: err = %v, want acceptance %v", err, tc.wantReason == "")
			}
		})
	}
}
