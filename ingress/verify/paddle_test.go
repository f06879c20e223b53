package verify

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	paddle "github.com/PaddleHQ/paddle-go-sdk/v4"
)

// The vector in Paddle's Go SDK (github.com/PaddleHQ/paddle-go-sdk,
// webhook_verifier_test.go and example_webhook_verifier_test.go, v4.1.0): a
// real price.created notification, its header and its destination's key.
const (
	paddleSDKSignature = `ts=1710929255;h1=6c05ef8fa83c44d751be6d259ec955ce5638e2c54095bf128e408e2fce1589c8`
	paddleSDKPayload   = `{"data":{"id":"pri_01hsdn96k2hxjzsq5yerecdj9j","name":null,"status":"active","quantity":{"maximum":999999,"minimum":1},"tax_mode":"account_setting","product_id":"pro_01hsdn8qp7yydry3x1yeg6a9rv","unit_price":{"amount":"1000","currency_code":"USD"},"custom_data":null,"description":"testing","import_meta":null,"trial_period":null,"billing_cycle":{"interval":"month","frequency":1},"unit_price_overrides":[]},"event_id":"evt_01hsdn97563968dy0szkmgjwh3","event_type":"price.created","occurred_at":"2024-03-20T10:07:35.590857Z","notification_id":"ntf_01hsdn977e920kbgzt6r6c9rqc"}`
	paddleSDKSecretKey = `pdl_ntfset_01hsdn8d43dt7mezr1ef2jtbaw_hKkRiCGyyRhbFwIUuqiTBgI7gnWoV0Gr`
	paddleSDKTimestamp = 1710929255
	paddleSDKEventID   = "evt_01hsdn97563968dy0szkmgjwh3"
)

func TestPaddleVerify(t *testing.T) {
	const (
		current  = "pdl_ntfset_01current_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		previous = "pdl_ntfset_01previous_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
		body     = `{"event_id":"evt_01abc","event_type":"transaction.completed","data":{"id":"txn_01"}}`
	)
	ts := unix(1767323045)
	sig := SignPaddle(ts, []byte(body), []byte(current))
	h1 := func(key string) string {
		return strings.SplitN(SignPaddle(ts, []byte(body), []byte(key)), ";h1=", 2)[1]
	}
	stamp := fmt.Sprint(ts.Unix())
	sdkTS := unix(paddleSDKTimestamp)

	runVerifyCases(t, NewPaddle(0), []verifyCase{
		{
			name:   "the Paddle Go SDK's vector verifies at its own time",
			req:    req(paddleSDKPayload, "Paddle-Signature", paddleSDKSignature),
			keys:   keys(paddleSDKSecretKey),
			now:    sdkTS.Add(2 * time.Second),
			wantID: paddleSDKEventID,
			wantTS: sdkTS,
		},
		{
			name:       "the SDK's vector with one hex digit changed is refused",
			req:        req(paddleSDKPayload, "Paddle-Signature", flipAt(paddleSDKSignature, 1)),
			keys:       keys(paddleSDKSecretKey),
			now:        sdkTS,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the SDK's vector is refused as out of range six seconds later, Paddle's window being five",
			req:        req(paddleSDKPayload, "Paddle-Signature", paddleSDKSignature),
			keys:       keys(paddleSDKSecretKey),
			now:        sdkTS.Add(6 * time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:   "a signature made now verifies and yields the event id",
			req:    req(body, "Paddle-Signature", sig),
			keys:   keys(current),
			now:    ts,
			wantID: "evt_01abc",
			wantTS: ts,
		},
		{
			name:   "a request signed with the second of two keys verifies",
			req:    req(body, "Paddle-Signature", SignPaddle(ts, []byte(body), []byte(previous))),
			keys:   keys(current, previous),
			now:    ts,
			wantID: "evt_01abc",
			wantTS: ts,
		},
		{
			name:   "a header with two h1 entries, which Paddle's schema allows, verifies with either key",
			req:    req(body, "Paddle-Signature", "ts="+stamp+";h1="+h1(previous)+";h1="+h1(current)),
			keys:   keys(current),
			now:    ts,
			wantID: "evt_01abc",
			wantTS: ts,
		},
		{
			name:   "an unknown scheme beside h1 is skipped",
			req:    req(body, "Paddle-Signature", "ts="+stamp+";h2=abc;h1="+h1(current)),
			keys:   keys(current),
			now:    ts,
			wantID: "evt_01abc",
			wantTS: ts,
		},
		{
			name:   "a key stored with a trailing newline still verifies",
			req:    req(body, "Paddle-Signature", sig),
			keys:   keys(current + "\n"),
			now:    ts,
			wantID: "evt_01abc",
			wantTS: ts,
		},
		{
			name:   "a timestamp five seconds old is still accepted",
			req:    req(body, "Paddle-Signature", sig),
			keys:   keys(current),
			now:    ts.Add(5 * time.Second),
			wantID: "evt_01abc",
			wantTS: ts,
		},
		{
			name:       "a timestamp six seconds old is refused",
			req:        req(body, "Paddle-Signature", sig),
			keys:       keys(current),
			now:        ts.Add(6 * time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a timestamp six seconds in the future is refused, as the Paddle Go SDK refuses it",
			req:        req(body, "Paddle-Signature", sig),
			keys:       keys(current),
			now:        ts.Add(-6 * time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a tampered body is refused",
			req:        req(strings.Replace(body, "txn_01", "txn_02", 1), "Paddle-Signature", sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong key is refused",
			req:        req(body, "Paddle-Signature", SignPaddle(ts, []byte(body), []byte("pdl_ntfset_wrong"))),
			keys:       keys(current, previous),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a request without Paddle-Signature is refused as missing",
			req:        req(body),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a header with no h1 is refused as missing",
			req:        req(body, "Paddle-Signature", "ts="+stamp),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "the Paddle Classic form of a header is malformed",
			req:        req(body, "Paddle-Signature", "x"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a comma in place of the semicolon is malformed",
			req:        req(body, "Paddle-Signature", "ts="+stamp+",h1="+h1(current)),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a header without ts is malformed",
			req:        req(body, "Paddle-Signature", "h1="+h1(current)),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a header with two ts is malformed",
			req:        req(body, "Paddle-Signature", "ts="+stamp+";"+sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a timestamp in milliseconds is malformed",
			req:        req(body, "Paddle-Signature", "ts="+stamp+"000;h1="+h1(current)),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a truncated h1 is malformed rather than compared",
			req:        req(body, "Paddle-Signature", sig[:len(sig)-2]),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "Paddle-Signature sent twice is malformed",
			req:        req(body, "Paddle-Signature", sig, "Paddle-Signature", sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "no usable key leaves nothing to verify with",
			req:        req(body, "Paddle-Signature", sig),
			keys:       keys(""),
			now:        ts,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
	})
}

// paddleSDKVerify runs the Paddle Go SDK's verifier, with its five-second
// replay check switched on, over an HTTP request built from body and header.
func paddleSDKVerify(t *testing.T, secret, header string, body []byte) (bool, error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if header != "" {
		r.Header.Set(PaddleSignatureHeader, header)
	}
	return paddle.NewWebhookVerifier(secret, paddle.VerifierWithTimestampTolerance(PaddleDefaultTolerance)).Verify(r)
}

// TestPaddleAgreesWithPaddleGoSDK holds this verifier and SignPaddle to the
// Paddle Go SDK's WebhookVerifier. The SDK reads the real clock.
func TestPaddleAgreesWithPaddleGoSDK(t *testing.T) {
	const secret = "pdl_ntfset_01hcross_0123456789abcdefghijklmnopqrstuv"
	body := []byte(`{"event_id":"evt_cross","event_type":"subscription.created","data":{"id":"sub_01"}}`)
	now := time.Now()

	cases := []struct {
		name       string
		header     string
		body       []byte
		wantReason Reason
	}{
		{name: "a header we signed is accepted by both", header: SignPaddle(now, body, []byte(secret)), body: body},
		{name: "a header signed four seconds ago is accepted by both", header: SignPaddle(now.Add(-4*time.Second), body, []byte(secret)), body: body},
		{name: "a tampered body is refused by both", header: SignPaddle(now, body, []byte(secret)), body: append(append([]byte{}, body...), ' '), wantReason: ReasonSignatureMismatch},
		{name: "another key is refused by both", header: SignPaddle(now, body, []byte("pdl_ntfset_other")), body: body, wantReason: ReasonSignatureMismatch},
		{name: "a header signed a minute ago is refused by both", header: SignPaddle(now.Add(-time.Minute), body, []byte(secret)), body: body, wantReason: ReasonTimestampOutOfRange},
		{name: "a header signed a minute ahead is refused by both", header: SignPaddle(now.Add(time.Minute), body, []byte(secret)), body: body, wantReason: ReasonTimestampOutOfRange},
		{name: "a missing header is refused by both", body: body, wantReason: ReasonMissingSignature},
		{name: "a malformed header is refused by both", header: "ts=x;h1=y", body: body, wantReason: ReasonMalformedSignature},
	}
	v := NewPaddle(0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := req(string(tc.body))
			if tc.header != "" {
				r = req(string(tc.body), "Paddle-Signature", tc.header)
			}
			_, err := v.Verify(r, keys(secret), now)
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("here: err = %v, want reason %q", err, tc.wantReason)
			}
			ok, sdkErr := paddleSDKVerify(t, secret, tc.header, tc.body)
			if ok != (tc.wantReason == "") {
				t.Fatalf("Paddle Go SDK: ok = %v (err %v), want %v", ok, sdkErr, tc.wantReason == "")
			}
			if tc.wantReason == ReasonTimestampOutOfRange && !errors.Is(sdkErr, paddle.ErrReplayAttack) {
				t.Fatalf("Paddle Go SDK refused for another reason: %v", sdkErr)
			}
		})
	}
}

// TestPaddleGoSDKAcceptsItsOwnVector guards the copied vector, without the
// replay check (the vector is from 2024).
func TestPaddleGoSDKAcceptsItsOwnVector(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(paddleSDKPayload))
	r.Header.Set(PaddleSignatureHeader, paddleSDKSignature)
	ok, err := paddle.NewWebhookVerifier(paddleSDKSecretKey).Verify(r)
	if !ok || err != nil {
		t.Fatalf("Paddle Go SDK refuses its own vector: %v, %v", ok, err)
	}
	if got := SignPaddle(unix(paddleSDKTimestamp), []byte(paddleSDKPayload), []byte(paddleSDKSecretKey)); got != paddleSDKSignature {
		t.Fatalf("we sign %q, the SDK vector is %q", got, paddleSDKSignature)
	}
}
