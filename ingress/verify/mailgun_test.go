package verify

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	mailgun "github.com/mailgun/mailgun-go/v4"
)

// mailgunJSON builds a JSON webhook body with the given signature fields.
func mailgunJSON(timestamp, token, signature string, extra ...string) string {
	sig := fmt.Sprintf(`{"timestamp":%q,"token":%q,"signature":%q%s}`, timestamp, token, signature, strings.Join(extra, ""))
	return `{"signature":` + sig + `,"event-data":{"event":"delivered","id":"ev-1","recipient":"a@example.com"}}`
}

// mailgunForm builds a URL-encoded form body with the signature fields.
func mailgunForm(timestamp, token, signature string) string {
	return url.Values{
		"timestamp": {timestamp}, "token": {token}, "signature": {signature},
		"event": {"delivered"}, "recipient": {"a@example.com"},
	}.Encode()
}

// mailgunMultipart builds a multipart/form-data body, with an attachment
// part, and returns it with its Content-Type.
func mailgunMultipart(t *testing.T, fields map[string]string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, name := range []string{"recipient", "timestamp", "token", "signature", "parent-signature", "body-plain"} {
		if v, ok := fields[name]; ok {
			if err := w.WriteField(name, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	fw, err := w.CreateFormFile("attachment-1", "signature.txt")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(fw, "not the signature you are looking for")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), w.FormDataContentType()
}

func TestMailgunVerify(t *testing.T) {
	const (
		current  = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
		previous = "key-previous000000000000000000000000"
		parent   = "key-parentaccount0000000000000000000"
		token    = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123"
		jsonCT   = "application/json"
		formCT   = "application/x-www-form-urlencoded"
	)
	ts := unix(1767323045)
	stamp := fmt.Sprint(ts.Unix())
	sig := SignMailgun(stamp, token, []byte(current))
	body := mailgunJSON(stamp, token, sig)
	multi, multiCT := mailgunMultipart(t, map[string]string{"timestamp": stamp, "token": token, "signature": sig, "body-plain": "hi"})
	multiDup, multiDupCT := mailgunMultipart(t, map[string]string{"timestamp": stamp, "token": token, "signature": sig, "recipient": "x", "body-plain": "signature"})

	runVerifyCases(t, NewMailgun(0), []verifyCase{
		{
			name:   "a JSON webhook verifies and its token is the delivery id",
			req:    req(body, "Content-Type", jsonCT),
			keys:   keys(current),
			now:    ts,
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a JSON webhook with a charset in its Content-Type verifies",
			req:    req(body, "Content-Type", "application/json; charset=utf-8"),
			keys:   keys(current),
			now:    ts,
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a JSON webhook without a Content-Type is recognised by its shape",
			req:    req(body),
			keys:   keys(current),
			now:    ts,
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a JSON timestamp sent as a number is the same text",
			req:    req(strings.Replace(body, `"timestamp":"`+stamp+`"`, `"timestamp":`+stamp, 1), "Content-Type", jsonCT),
			keys:   keys(current),
			now:    ts,
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a URL-encoded form post verifies",
			req:    req(mailgunForm(stamp, token, sig), "Content-Type", formCT),
			keys:   keys(current),
			now:    ts,
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a multipart post from a route, with an attachment, verifies",
			req:    req(multi, "Content-Type", multiCT),
			keys:   keys(current),
			now:    ts,
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a body field that merely contains the word signature does not confuse the multipart reader",
			req:    req(multiDup, "Content-Type", multiDupCT),
			keys:   keys(current),
			now:    ts,
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a request signed with the second of two keys verifies",
			req:    req(mailgunJSON(stamp, token, SignMailgun(stamp, token, []byte(previous))), "Content-Type", jsonCT),
			keys:   keys(current, previous),
			now:    ts,
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a subaccount event verifies with the primary account's key through parent-signature",
			req:    req(mailgunJSON(stamp, token, SignMailgun(stamp, token, []byte("key-subaccount")), `,"parent-signature":"`+SignMailgun(stamp, token, []byte(parent))+`"`), "Content-Type", jsonCT),
			keys:   keys(parent),
			now:    ts,
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a changed event-data still verifies, since Mailgun signs only timestamp and token; the token dedupe guards it",
			req:    req(strings.Replace(body, "delivered", "failed", 1), "Content-Type", jsonCT),
			keys:   keys(current),
			now:    ts,
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a key stored with a trailing newline still verifies",
			req:    req(body, "Content-Type", jsonCT),
			keys:   keys(current + "\n"),
			now:    ts,
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a timestamp eight hours old, Mailgun's whole retry span, is still accepted",
			req:    req(body, "Content-Type", jsonCT),
			keys:   keys(current),
			now:    ts.Add(8 * time.Hour),
			wantID: token,
			wantTS: ts,
		},
		{
			name:   "a timestamp five minutes ahead is accepted as clock skew",
			req:    req(body, "Content-Type", jsonCT),
			keys:   keys(current),
			now:    ts.Add(-5 * time.Minute),
			wantID: token,
			wantTS: ts,
		},
		{
			name:       "a timestamp older than eight hours is refused",
			req:        req(body, "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts.Add(8*time.Hour + time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a timestamp more than five minutes ahead is refused",
			req:        req(body, "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts.Add(-5*time.Minute - time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a changed token is refused",
			req:        req(mailgunJSON(stamp, token[:len(token)-1]+"4", sig), "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a changed timestamp is refused",
			req:        req(mailgunJSON(fmt.Sprint(ts.Unix()+1), token, sig), "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a changed form field is refused",
			req:        req(mailgunForm(stamp, token, flipAt(sig, 1)), "Content-Type", formCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong key is refused",
			req:        req(mailgunJSON(stamp, token, SignMailgun(stamp, token, []byte("key-wrong"))), "Content-Type", jsonCT),
			keys:       keys(current, previous),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a parent-signature made with a wrong key does not rescue a wrong signature",
			req:        req(mailgunJSON(stamp, token, SignMailgun(stamp, token, []byte("key-a")), `,"parent-signature":"`+SignMailgun(stamp, token, []byte("key-b"))+`"`), "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a JSON body without a signature object is refused as missing",
			req:        req(`{"event-data":{"event":"delivered"}}`, "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a JSON signature without a token is refused as missing",
			req:        req(`{"signature":{"timestamp":"`+stamp+`","signature":"`+sig+`"}}`, "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a form without the signature field is refused as missing",
			req:        req("timestamp="+stamp+"&token="+token, "Content-Type", formCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "an empty body is refused as missing",
			req:        req("", "Content-Type", formCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a body that is not JSON although it says so is malformed",
			req:        req(`{"signature":`, "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature that is not hex is malformed",
			req:        req(mailgunJSON(stamp, token, "zz"+sig[2:]), "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a truncated signature is malformed rather than compared",
			req:        req(mailgunJSON(stamp, token, sig[:62]), "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a timestamp that is not unix seconds is malformed",
			req:        req(mailgunJSON("2026-01-02T03:04:05Z", token, sig), "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a timestamp of another JSON type is malformed",
			req:        req(strings.Replace(body, `"timestamp":"`+stamp+`"`, `"timestamp":true`, 1), "Content-Type", jsonCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a form with the token twice is malformed",
			req:        req(mailgunForm(stamp, token, sig)+"&token=other", "Content-Type", formCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a multipart Content-Type without a boundary is malformed",
			req:        req(multi, "Content-Type", "multipart/form-data"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a multipart body with no part under its boundary has no signature",
			req:        req("garbage", "Content-Type", multiCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a multipart body cut off inside a part is malformed",
			req:        req(multi[:len(multi)/2], "Content-Type", multiCT),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "no usable key leaves nothing to verify with",
			req:        req(body, "Content-Type", jsonCT),
			keys:       keys("", " "),
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

func TestMailgunAsksForTokensToBeRememberedForTheWholeWindow(t *testing.T) {
	const key = "key-ttl"
	ts := unix(1767323045)
	stamp := fmt.Sprint(ts.Unix())
	body := mailgunJSON(stamp, "tok", SignMailgun(stamp, "tok", []byte(key)))
	cases := []struct {
		name      string
		tolerance time.Duration
		want      time.Duration
	}{
		{name: "the default window of eight hours plus five minutes of skew", want: 8*time.Hour + 5*time.Minute + time.Minute},
		{name: "a configured window of ten minutes plus five of skew", tolerance: 10 * time.Minute, want: 16 * time.Minute},
		{name: "a configured window of one minute, which also caps the skew", tolerance: time.Minute, want: 3 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New("mailgun", Options{Tolerance: tc.tolerance})
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(req(body, "Content-Type", "application/json"), keys(key), ts)
			if err != nil {
				t.Fatal(err)
			}
			if res.DedupeTTL != tc.want {
				t.Fatalf("DedupeTTL = %s, want %s", res.DedupeTTL, tc.want)
			}
			// The token must stay remembered at least as long as it can
			// verify: from the earliest acceptance (timestamp - future skew)
			// to the latest (timestamp + window).
			past := tc.tolerance
			if past == 0 {
				past = MailgunDefaultTolerance
			}
			if res.DedupeTTL < past+min(past, 5*time.Minute) {
				t.Fatalf("DedupeTTL %s is shorter than the time a token verifies", res.DedupeTTL)
			}
		})
	}
}

// TestMailgunAgreesWithMailgunGo holds this verifier and SignMailgun to
// mailgun-go's VerifyWebhookSignature (JSON webhooks) and
// VerifyWebhookRequest (form posts). mailgun-go checks no timestamp, so
// every delivery here is stamped now.
func TestMailgunAgreesWithMailgunGo(t *testing.T) {
	const key = "8f2b6c1d9e3a4f5b7c0d2e4f6a8b1c3d"
	now := time.Now()
	stamp := fmt.Sprint(now.Unix())
	const token = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5"
	good := SignMailgun(stamp, token, []byte(key))
	mg := mailgun.NewMailgun("example.com", "api-key")
	mg.SetWebhookSigningKey(key)

	cases := []struct {
		name                string
		timestamp, tok, sig string
		wantReason          Reason
	}{
		{name: "a signature we made is accepted by both", timestamp: stamp, tok: token, sig: good},
		{name: "an upper-case signature is accepted by both", timestamp: stamp, tok: token, sig: strings.ToUpper(good)},
		{name: "a changed token is refused by both", timestamp: stamp, tok: "x" + token[1:], sig: good, wantReason: ReasonSignatureMismatch},
		{name: "a changed timestamp is refused by both", timestamp: fmt.Sprint(now.Unix() - 1), tok: token, sig: good, wantReason: ReasonSignatureMismatch},
		{name: "another key is refused by both", timestamp: stamp, tok: token, sig: SignMailgun(stamp, token, []byte("other")), wantReason: ReasonSignatureMismatch},
		{name: "a flipped digit is refused by both", timestamp: stamp, tok: token, sig: flipAt(good, 5), wantReason: ReasonSignatureMismatch},
	}
	v := NewMailgun(0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.wantReason == ""
			_, err := v.Verify(req(mailgunJSON(tc.timestamp, tc.tok, tc.sig), "Content-Type", "application/json"), keys(key), now)
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("here (JSON): err = %v, want reason %q", err, tc.wantReason)
			}
			ok, sdkErr := mg.VerifyWebhookSignature(mailgun.Signature{TimeStamp: tc.timestamp, Token: tc.tok, Signature: tc.sig})
			if ok != want {
				t.Fatalf("mailgun-go VerifyWebhookSignature = %v (err %v), want %v", ok, sdkErr, want)
			}

			form := mailgunForm(tc.timestamp, tc.tok, tc.sig)
			_, err = v.Verify(req(form, "Content-Type", "application/x-www-form-urlencoded"), keys(key), now)
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("here (form): err = %v, want reason %q", err, tc.wantReason)
			}
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			ok, sdkErr = mg.VerifyWebhookRequest(r)
			if ok != want {
				t.Fatalf("mailgun-go VerifyWebhookRequest = %v (err %v), want %v", ok, sdkErr, want)
			}
		})
	}
}

func TestMailgunJSONBodyVerifies(t *testing.T) {
	const key = "key-helper"
	ts := unix(1767323045)
	body, err := MailgunJSONBody(ts, "tok-1", map[string]string{"event": "opened"}, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewMailgun(0).Verify(req(string(body), "Content-Type", "application/json"), keys(key), ts)
	if err != nil || res.DeliveryID != "tok-1" {
		t.Fatalf("helper body: %+v, %v", res, err)
	}
}
