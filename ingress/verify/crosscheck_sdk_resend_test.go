package verify

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	resend "github.com/resend/resend-go/v3"
)

// Resend against its official Go SDK, github.com/resend/resend-go/v3 v3.1.1
// (test-only): client.Webhooks.Verify, which checks the svix-* headers
// against a whsec_ secret with a 5-minute window on the real clock (so
// deliveries here are stamped with time.Now()). The SDK exports no signer
// and publishes no vector, so the SDK checks what `hookgate send` signs,
// and both must give the same verdict on tampered requests.

func resendSDKVerify(r *Request, secret string) error {
	return resend.NewClient("re_test").Webhooks.Verify(&resend.VerifyWebhookOptions{
		Payload: string(r.Body),
		Headers: resend.WebhookHeaders{
			Id:        r.Header.Get("svix-id"),
			Timestamp: r.Header.Get("svix-timestamp"),
			Signature: r.Header.Get("svix-signature"),
		},
		WebhookSecret: secret,
	})
}

func resendSignedRequest(t *testing.T, id string, sent time.Time, body, secret string) *Request {
	t.Helper()
	u, _ := url.Parse("https://hooks.example.com/w/resend")
	r, err := SignRequest("resend", Options{}, Delivery{ID: id, Event: "email.delivered", Time: sent, Body: []byte(body), URL: u}, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const resendSDKBody = `{"type":"email.delivered","created_at":"2024-11-22T23:41:12.126Z","data":{"email_id":"56761188-7520-42d8-8898-ff6fc54ce618","from":"Acme <onboarding@resend.dev>","to":["delivered@resend.dev"],"subject":"Sending this example"}}`

func TestResendSendVerifiesWithSDK(t *testing.T) {
	secret := string(StandardWebhooksSecret([]byte("0123456789abcdef0123456789abcdef")))
	for _, body := range []string{resendSDKBody, `{"type":"email.bounced","data":{}}`} {
		now := time.Now()
		r := resendSignedRequest(t, "msg_send", now, body, secret)
		if err := resendSDKVerify(r, secret); err != nil {
			t.Fatalf("the SDK refuses what hookgate send signs: %v", err)
		}
		res, err := mustNew(t, "resend", Options{}).Verify(r, keys(secret), now)
		if err != nil || res.DeliveryID != "msg_send" {
			t.Fatalf("here: (%+v, %v)", res, err)
		}
	}
}

func TestResendTamperedRefusedByBothHereAndSDK(t *testing.T) {
	secret := string(StandardWebhooksSecret([]byte("0123456789abcdef0123456789abcdef")))
	other := string(StandardWebhooksSecret([]byte("another key of thirty-two bytes!")))
	now := time.Now()
	signed := resendSignedRequest(t, "msg_1", now, resendSDKBody, secret)
	sig, ts := signed.Header.Get("svix-signature"), signed.Header.Get("svix-timestamp")
	stale := resendSignedRequest(t, "msg_1", now.Add(-10*time.Minute), resendSDKBody, secret)
	cases := []struct {
		name, id, ts, sig, body, secret string
		wantReason                      Reason
	}{
		{name: "the untouched request is accepted by both", id: "msg_1", ts: ts, sig: sig, body: resendSDKBody, secret: secret},
		{name: "the signature beside an unknown one is accepted by both", id: "msg_1", ts: ts, sig: "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " + sig, body: resendSDKBody, secret: secret},
		{name: "a changed body is refused by both", id: "msg_1", ts: ts, sig: sig, body: strings.Replace(resendSDKBody, "delivered@", "attacker@", 1), secret: secret, wantReason: ReasonSignatureMismatch},
		{name: "another secret is refused by both", id: "msg_1", ts: ts, sig: sig, body: resendSDKBody, secret: other, wantReason: ReasonSignatureMismatch},
		{name: "a changed id is refused by both", id: "msg_2", ts: ts, sig: sig, body: resendSDKBody, secret: secret, wantReason: ReasonSignatureMismatch},
		{name: "a flipped signature character is refused by both", id: "msg_1", ts: ts, sig: flipAt(sig, 3), body: resendSDKBody, secret: secret, wantReason: ReasonSignatureMismatch},
		{name: "a delivery signed ten minutes ago is refused by both", id: "msg_1", ts: stale.Header.Get("svix-timestamp"), sig: stale.Header.Get("svix-signature"), body: resendSDKBody, secret: secret, wantReason: ReasonTimestampOutOfRange},
		{name: "a delivery ten minutes ahead is refused by both", id: "msg_1", ts: strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10), sig: resendSignedRequest(t, "msg_1", now.Add(10*time.Minute), resendSDKBody, secret).Header.Get("svix-signature"), body: resendSDKBody, secret: secret, wantReason: ReasonTimestampOutOfRange},
	}
	v := mustNew(t, "resend", Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Method: http.MethodPost, Header: hdr("svix-id", tc.id, "svix-timestamp", tc.ts, "svix-signature", tc.sig), Body: []byte(tc.body)}
			if _, err := v.Verify(r, keys(tc.secret), time.Now()); ReasonOf(err) != tc.wantReason {
				t.Fatalf("here: err = %v, want reason %q", err, tc.wantReason)
			}
			if err := resendSDKVerify(r, tc.secret); (err == nil) != (tc.wantReason == "") {
				t.Fatalf("SDK: err = %v, want acceptance %v", err, tc.wantReason == "")
			}
		})
	}
}
