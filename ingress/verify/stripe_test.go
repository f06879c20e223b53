package verify

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v85/webhook"
)

// Stripe publishes no fixed test vector, so this one was made by stripe-go
// v85.0.0 (webhook.GenerateTestSignedPayload with the inputs below);
// TestStripeGoStillProducesThePinnedVector checks that it still does.
const (
	stripeVectorSecret    = "whsec_test_secret"
	stripeVectorTimestamp = 1700000000
	stripeVectorPayload   = `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"customer.created"}`
	stripeVectorHeader    = "t=1700000000,v1=417353bb9b6abfb88d9fe516c5c3b964105258ffcad788da3ece8e1db687afa2"
	stripeVectorEventID   = "evt_1NG8Du2eZvKYlo2CUI79vXWy"
)

func TestStripeVerify(t *testing.T) {
	const (
		current  = "whsec_current0000000000000000000"
		previous = "whsec_previous000000000000000000"
		body     = `{"id":"evt_123","object":"event"}`
	)
	ts := unix(1767323045)
	sig := SignStripe(ts, []byte(body), []byte(current))
	v1 := func(key string, t time.Time, b string) string {
		return strings.TrimPrefix(strings.SplitN(SignStripe(t, []byte(b), []byte(key)), ",", 2)[1], "v1=")
	}
	stamp := fmt.Sprint(ts.Unix())

	runVerifyCases(t, NewStripe(0), []verifyCase{
		{
			name:   "the vector made by stripe-go verifies",
			req:    req(stripeVectorPayload, "Stripe-Signature", stripeVectorHeader),
			keys:   keys(stripeVectorSecret),
			now:    unix(stripeVectorTimestamp + 10),
			wantID: stripeVectorEventID,
			wantTS: unix(stripeVectorTimestamp),
		},
		{
			name:       "the vector with one hex digit changed is refused",
			req:        req(stripeVectorPayload, "Stripe-Signature", flipAt(stripeVectorHeader, 1)),
			keys:       keys(stripeVectorSecret),
			now:        unix(stripeVectorTimestamp),
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the secret without its whsec_ prefix is a different key, since Stripe signs with the whole string",
			req:        req(stripeVectorPayload, "Stripe-Signature", stripeVectorHeader),
			keys:       keys(strings.TrimPrefix(stripeVectorSecret, "whsec_")),
			now:        unix(stripeVectorTimestamp),
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:   "a signature made now verifies and yields the event id and time",
			req:    req(body, "Stripe-Signature", sig),
			keys:   keys(current),
			now:    ts,
			wantID: "evt_123",
			wantTS: ts,
		},
		{
			name:   "a request signed with the second of two keys verifies",
			req:    req(body, "Stripe-Signature", SignStripe(ts, []byte(body), []byte(previous))),
			keys:   keys(current, previous),
			now:    ts,
			wantID: "evt_123",
			wantTS: ts,
		},
		{
			name:   "a header with one v1 per secret, as Stripe sends while a secret is rolled, verifies with either key",
			req:    req(body, "Stripe-Signature", "t="+stamp+",v1="+v1(previous, ts, body)+",v1="+v1(current, ts, body)),
			keys:   keys(current),
			now:    ts,
			wantID: "evt_123",
			wantTS: ts,
		},
		{
			name:   "a v0 test-mode entry and unknown schemes are ignored beside a good v1",
			req:    req(body, "Stripe-Signature", "t="+stamp+",v0="+strings.Repeat("ab", 32)+",v9=x,v1="+v1(current, ts, body)),
			keys:   keys(current),
			now:    ts,
			wantID: "evt_123",
			wantTS: ts,
		},
		{
			name:   "an unparsable v1 entry is skipped when another v1 is good",
			req:    req(body, "Stripe-Signature", "t="+stamp+",v1=zz,v1="+v1(current, ts, body)),
			keys:   keys(current),
			now:    ts,
			wantID: "evt_123",
			wantTS: ts,
		},
		{
			name:   "an upper-case hex signature verifies",
			req:    req(body, "Stripe-Signature", "t="+stamp+",v1="+strings.ToUpper(v1(current, ts, body))),
			keys:   keys(current),
			now:    ts,
			wantID: "evt_123",
			wantTS: ts,
		},
		{
			name:   "a secret stored with a trailing newline still verifies",
			req:    req(body, "Stripe-Signature", sig),
			keys:   keys(current + "\n"),
			now:    ts,
			wantID: "evt_123",
			wantTS: ts,
		},
		{
			name:   "a signature exactly 300 seconds old is still accepted",
			req:    req(body, "Stripe-Signature", sig),
			keys:   keys(current),
			now:    ts.Add(300 * time.Second),
			wantID: "evt_123",
			wantTS: ts,
		},
		{
			name:   "a timestamp from the future is accepted, as stripe-go accepts it",
			req:    req(body, "Stripe-Signature", sig),
			keys:   keys(current),
			now:    ts.Add(-time.Hour),
			wantID: "evt_123",
			wantTS: ts,
		},
		{
			name:   "a body that is not JSON verifies but yields no event id",
			req:    req("not json", "Stripe-Signature", SignStripe(ts, []byte("not json"), []byte(current))),
			keys:   keys(current),
			now:    ts,
			wantTS: ts,
		},
		{
			name:       "a signature 301 seconds old is refused as out of range",
			req:        req(body, "Stripe-Signature", sig),
			keys:       keys(current),
			now:        ts.Add(301 * time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a tampered body is refused",
			req:        req(strings.Replace(body, "123", "124", 1), "Stripe-Signature", sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a changed timestamp is refused, since it is signed",
			req:        req(body, "Stripe-Signature", strings.Replace(sig, stamp, fmt.Sprint(ts.Unix()+1), 1)),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong secret is refused",
			req:        req(body, "Stripe-Signature", SignStripe(ts, []byte(body), []byte("whsec_wrong"))),
			keys:       keys(current, previous),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a stale signature over a tampered body is refused as a mismatch, not as stale",
			req:        req(body+" ", "Stripe-Signature", sig),
			keys:       keys(current),
			now:        ts.Add(time.Hour),
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a request without Stripe-Signature is refused as missing",
			req:        req(body),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a header with only a v0 signature holds no v1 and is refused as missing",
			req:        req(body, "Stripe-Signature", "t="+stamp+",v0="+v1(current, ts, body)),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a header without a timestamp is malformed",
			req:        req(body, "Stripe-Signature", "v1="+v1(current, ts, body)),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a header with two timestamps is malformed",
			req:        req(body, "Stripe-Signature", "t="+stamp+","+sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a negative timestamp is malformed",
			req:        req(body, "Stripe-Signature", "t=-1,v1="+v1(current, ts, body)),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "an element without = is malformed, as in stripe-go",
			req:        req(body, "Stripe-Signature", sig+",garbage"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "an element with two = is malformed, as in stripe-go",
			req:        req(body, "Stripe-Signature", sig+",v2=a=b"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a truncated v1 is malformed rather than compared",
			req:        req(body, "Stripe-Signature", sig[:len(sig)-2]),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "Stripe-Signature sent twice is malformed",
			req:        req(body, "Stripe-Signature", sig, "Stripe-Signature", sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "no usable key leaves nothing to verify with",
			req:        req(body, "Stripe-Signature", sig),
			keys:       keys("", " \n"),
			now:        ts,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			now:        ts,
			keys:       keys(current),
			wantReason: ReasonMissingSignature,
		},
	})
}

func TestStripeGoStillProducesThePinnedVector(t *testing.T) {
	p := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{
		Payload:   []byte(stripeVectorPayload),
		Secret:    stripeVectorSecret,
		Timestamp: unix(stripeVectorTimestamp),
	})
	if p.Header != stripeVectorHeader {
		t.Fatalf("stripe-go signs %q, pinned vector is %q", p.Header, stripeVectorHeader)
	}
	if ours := SignStripe(unix(stripeVectorTimestamp), []byte(stripeVectorPayload), []byte(stripeVectorSecret)); ours != p.Header {
		t.Fatalf("we sign %q, stripe-go signs %q", ours, p.Header)
	}
}

// TestStripeAgreesWithStripeGo holds this verifier to stripe-go's
// ValidatePayloadWithTolerance on the same inputs. stripe-go reads the real
// clock, so deliveries are stamped relative to time.Now().
func TestStripeAgreesWithStripeGo(t *testing.T) {
	const secret = "whsec_3c5a0a5e2f9b4d7e8a1c6b0f9e2d4a7c"
	body := []byte(`{"id":"evt_cross","object":"event","data":{"object":{"amount":100}}}`)
	now := time.Now()
	good := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: now})
	other := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: "whsec_other", Timestamp: now})
	stale := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: now.Add(-10 * time.Minute)})
	future := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: now.Add(10 * time.Minute)})
	rolled := fmt.Sprintf("t=%d,v1=%s,v1=%s", now.Unix(), hex.EncodeToString(other.Signature), hex.EncodeToString(good.Signature))

	cases := []struct {
		name       string
		header     string
		body       []byte
		wantReason Reason
	}{
		{name: "a stripe-go signature verifies in both", header: good.Header, body: body},
		{name: "a header signed by us verifies in both", header: SignStripe(now, body, []byte(secret)), body: body},
		{name: "a header with an old and a new v1 verifies in both", header: rolled, body: body},
		{name: "a future timestamp is accepted by both", header: future.Header, body: body},
		{name: "a tampered body is refused by both", header: good.Header, body: []byte(strings.Replace(string(body), "100", "900", 1)), wantReason: ReasonSignatureMismatch},
		{name: "another secret is refused by both", header: other.Header, body: body, wantReason: ReasonSignatureMismatch},
		{name: "a flipped signature digit is refused by both", header: flipAt(good.Header, 2), body: body, wantReason: ReasonSignatureMismatch},
		{name: "a stale timestamp is refused by both", header: stale.Header, body: body, wantReason: ReasonTimestampOutOfRange},
		{name: "an element without = is refused by both", header: good.Header + ",junk", body: body, wantReason: ReasonMalformedSignature},
	}
	v := NewStripe(0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(req(string(tc.body), "Stripe-Signature", tc.header), keys(secret), now)
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("here: err = %v, want reason %q", err, tc.wantReason)
			}
			sdkErr := stripewebhook.ValidatePayloadWithTolerance(tc.body, tc.header, secret, stripewebhook.DefaultTolerance)
			if (sdkErr != nil) != (tc.wantReason != "") {
				t.Fatalf("stripe-go: err = %v, want rejection %v", sdkErr, tc.wantReason != "")
			}
			if tc.wantReason == ReasonTimestampOutOfRange && !errors.Is(sdkErr, stripewebhook.ErrTooOld) {
				t.Fatalf("stripe-go refused for another reason: %v", sdkErr)
			}
		})
	}
}

func TestSignStripeMatchesStripeGoComputeSignature(t *testing.T) {
	for i, body := range [][]byte{{}, []byte("{}"), []byte("\x00\xff binary"), make([]byte, 1<<16)} {
		ts := unix(int64(1600000000 + i))
		want := hex.EncodeToString(stripewebhook.ComputeSignature(ts, body, stripeVectorSecret))
		if got := SignStripe(ts, body, []byte(stripeVectorSecret)); !strings.HasSuffix(got, "v1="+want) {
			t.Errorf("body %d: we sign %q, stripe-go computes %q", i, got, want)
		}
	}
}
