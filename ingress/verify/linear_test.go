package verify

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Linear publishes no test vector and no Go library. This vector was made
// here and confirmed with Linear's official SDK, @linear/sdk 98.0.0
// (LinearWebhookClient.verify from "@linear/sdk/webhooks"): the SDK accepts
// the signature and then refuses only the timestamp, because it checks
// webhookTimestamp against the real clock; the same body restamped with
// Date.now() and signed by SignLinear verified outright, and a tampered body
// or another secret failed the signature check.
const (
	linearVecSecret    = "lin_wh_hookgate_test_secret"
	linearVecTimestamp = 1714478400000 // webhookTimestamp, unix ms
	linearVecBody      = `{"action":"create","type":"Issue","createdAt":"2024-04-30T12:00:00.000Z","data":{"id":"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9","title":"Hookgate test"},"url":"https://linear.app/acme/issue/ENG-1","organizationId":"3b2c4b8a-1f7e-4a66-9a0e-6f0c1d2e3f40","webhookTimestamp":1714478400000,"webhookId":"9f5c2b6e-7a4d-4c1b-8e2f-3a9b0c1d2e3f"}`
	linearVecSignature = "97eb2634b3c9502fb0a0541d5aa2f60b31956c80c353f2241bc3bd2083cd8313"
)

// linearBody returns a Linear-shaped body stamped with ts.
func linearBody(ts time.Time) string {
	return fmt.Sprintf(`{"action":"update","type":"Comment","data":{"id":"c1"},"webhookTimestamp":%d}`, ts.UnixMilli())
}

func TestLinearVerify(t *testing.T) {
	const (
		secret   = "lin_wh_current"
		previous = "lin_wh_previous"
		delivery = "234d1a4e-b617-4388-90fe-adc3633d6b72"
	)
	vecTS := time.UnixMilli(linearVecTimestamp).UTC()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sent := now.Add(-1500 * time.Millisecond)
	body := linearBody(sent)
	sig := SignLinear([]byte(body), []byte(secret))
	linReq := func(body, sig string) *Request {
		return req(body, "Linear-Signature", sig, "Linear-Delivery", delivery, "Linear-Event", "Comment")
	}

	runVerifyCases(t, NewLinear(0), []verifyCase{
		{
			name:   "the SDK-confirmed vector verifies at its own time, Linear-Delivery as the delivery id",
			req:    linReq(linearVecBody, linearVecSignature),
			keys:   keys(linearVecSecret),
			now:    vecTS.Add(30 * time.Second),
			wantID: delivery,
			wantTS: vecTS,
		},
		{
			name:   "a delivery 1.5 s old verifies with its millisecond timestamp",
			req:    linReq(body, sig),
			keys:   keys(secret),
			now:    now,
			wantID: delivery,
			wantTS: time.UnixMilli(sent.UnixMilli()).UTC(),
		},
		{
			name:   "during rotation a delivery signed with the second secret verifies",
			req:    linReq(body, SignLinear([]byte(body), []byte(previous))),
			keys:   keys(secret, previous),
			now:    now,
			wantID: delivery,
			wantTS: time.UnixMilli(sent.UnixMilli()).UTC(),
		},
		{
			name:   "a delivery exactly one minute old is still accepted, as in Linear's SDK",
			req:    linReq(linearVecBody, linearVecSignature),
			keys:   keys(linearVecSecret),
			now:    vecTS.Add(time.Minute),
			wantID: delivery,
			wantTS: vecTS,
		},
		{
			name:       "a delivery a minute and a millisecond old is refused as stale",
			req:        linReq(linearVecBody, linearVecSignature),
			keys:       keys(linearVecSecret),
			now:        vecTS.Add(time.Minute + time.Millisecond),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a delivery stamped more than a minute ahead is refused",
			req:        linReq(linearVecBody, linearVecSignature),
			keys:       keys(linearVecSecret),
			now:        vecTS.Add(-time.Minute - time.Millisecond),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "the vector with a tampered body is refused",
			req:        linReq(strings.Replace(linearVecBody, "Hookgate test", "Hookgate pwned", 1), linearVecSignature),
			keys:       keys(linearVecSecret),
			now:        vecTS,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a body restamped to look fresh breaks the signature, because the timestamp is signed",
			req:        linReq(strings.Replace(linearVecBody, "1714478400000", "1714478460000", 1), linearVecSignature),
			keys:       keys(linearVecSecret),
			now:        vecTS.Add(time.Minute),
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong secret is refused",
			req:        linReq(body, sig),
			keys:       keys(previous),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signed body without webhookTimestamp is refused as missing it",
			req:        linReq(`{"action":"create"}`, SignLinear([]byte(`{"action":"create"}`), []byte(secret))),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a signed body whose webhookTimestamp is null is refused as missing it",
			req:        linReq(`{"webhookTimestamp":null}`, SignLinear([]byte(`{"webhookTimestamp":null}`), []byte(secret))),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a webhookTimestamp given as a string is malformed, as in Linear's SDK",
			req:        linReq(`{"webhookTimestamp":"1714478400000"}`, SignLinear([]byte(`{"webhookTimestamp":"1714478400000"}`), []byte(secret))),
			keys:       keys(secret),
			now:        vecTS,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "an absurdly large webhookTimestamp is malformed",
			req:        linReq(`{"webhookTimestamp":1e300}`, SignLinear([]byte(`{"webhookTimestamp":1e300}`), []byte(secret))),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signed body that is not JSON is malformed",
			req:        linReq("not json", SignLinear([]byte("not json"), []byte(secret))),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "an unsigned body is never parsed: a bad signature is reported, not a bad timestamp",
			req:        linReq("not json", sig),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a sha256= prefix is malformed, since Linear sends bare hex",
			req:        linReq(body, "sha256="+sig),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a truncated signature is malformed",
			req:        linReq(body, sig[:40]),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a missing signature header is refused as missing",
			req:        req(body, "Linear-Delivery", delivery),
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "only empty keys are never usable",
			req:        linReq(body, SignLinear([]byte(body), nil)),
			keys:       keys(""),
			now:        now,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			keys:       keys(secret),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
	})
}

func TestLinearTimestamp(t *testing.T) {
	cases := []struct {
		body       string
		want       time.Time
		wantReason Reason
	}{
		{body: `{"webhookTimestamp":1714478400000}`, want: time.UnixMilli(1714478400000).UTC()},
		{body: `{"webhookTimestamp":1714478400000.5}`, want: time.UnixMilli(1714478400000).Add(500 * time.Microsecond).UTC()},
		{body: `{"webhookTimestamp":1.7144784e12}`, want: time.UnixMilli(1714478400000).UTC()},
		{body: `{"webhookTimestamp": 0 }`, want: time.Unix(0, 0).UTC()},
		{body: `{"webhookTimestamp":-1000}`, want: time.Unix(-1, 0).UTC()},
		{body: `{"webhookTimestamp":true}`, wantReason: ReasonMalformedSignature},
		{body: `{"webhookTimestamp":{}}`, wantReason: ReasonMalformedSignature},
		{body: `{"webhooktimestamp":1714478400000}`, wantReason: ReasonMissingSignature},
		{body: `{"data":{"webhookTimestamp":1714478400000}}`, wantReason: ReasonMissingSignature},
		{body: `[1714478400000]`, wantReason: ReasonMalformedSignature},
		{body: ``, wantReason: ReasonMalformedSignature},
	}
	for _, tc := range cases {
		t.Run(tc.body, func(t *testing.T) {
			got, err := linearTimestamp([]byte(tc.body))
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("err = %v, want reason %q", err, tc.wantReason)
			}
			if err == nil && !got.Equal(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLinearIsRegisteredWithTolerance(t *testing.T) {
	v, err := New("linear", Options{Tolerance: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	vecTS := time.UnixMilli(linearVecTimestamp)
	r := req(linearVecBody, "Linear-Signature", linearVecSignature)
	if _, err := v.Verify(r, keys(linearVecSecret), vecTS.Add(4*time.Minute)); err != nil {
		t.Fatalf("inside Options.Tolerance: %v", err)
	}
	if _, err := NewLinear(0).Verify(r, keys(linearVecSecret), vecTS.Add(4*time.Minute)); ReasonOf(err) != ReasonTimestampOutOfRange {
		t.Fatalf("the default window is not Linear's one minute: %v", err)
	}
}
