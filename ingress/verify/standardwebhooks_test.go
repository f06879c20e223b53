package verify

import (
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test vector published with the Standard Webhooks reference libraries
// (libraries/go/webhook_test.go TestWebhookSign, and the same values in the
// Python, Java, C#, PHP, Ruby and JavaScript suites):
// https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/go/webhook_test.go
const (
	swVectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swVectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	swVectorTimestamp = 1614265330
	swVectorPayload   = `{"test": 2432232314}`
	swVectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// A second, independent vector from the reference Rust library
// (libraries/rust/src/lib.rs test_sign):
// https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/rust/src/lib.rs
const (
	swRustSecret    = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	swRustID        = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"
	swRustTimestamp = 1649367553
	swRustPayload   = `{"email":"test@example.com","username":"test_user"}`
	swRustSignature = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
)

// swReq builds a Standard Webhooks request with the given header values.
func swReq(body, id, ts, sig string) *Request {
	return req(body, "webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig)
}

func TestStandardWebhooksVerify(t *testing.T) {
	vecTS := unix(swVectorTimestamp)
	vecTSs := strconv.Itoa(swVectorTimestamp)

	current := StandardWebhooksSecret([]byte("current-key-0123456789abcdef"))
	previous := StandardWebhooksSecret([]byte("previous-key-0123456789abcdef"))
	const body = `{"type":"invoice.paid","data":{"id":"in_1"}}`
	const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	sent := unix(1674087231)
	sentS := strconv.FormatInt(sent.Unix(), 10)
	sig := SignStandardWebhooks(id, sent, []byte(body), current)
	prevSig := SignStandardWebhooks(id, sent, []byte(body), previous)

	runVerifyCases(t, NewStandardWebhooks(0), []verifyCase{
		{
			name:   "the published reference-library vector verifies",
			req:    swReq(swVectorPayload, swVectorID, vecTSs, swVectorSignature),
			keys:   keys(swVectorSecret),
			now:    vecTS,
			wantID: swVectorID,
			wantTS: vecTS,
		},
		{
			name:   "the published vector verifies with the secret's whsec_ prefix left off",
			req:    swReq(swVectorPayload, swVectorID, vecTSs, swVectorSignature),
			keys:   keys(strings.TrimPrefix(swVectorSecret, "whsec_")),
			now:    vecTS,
			wantID: swVectorID,
			wantTS: vecTS,
		},
		{
			name:   "the published vector verifies with a trailing newline on the secret",
			req:    swReq(swVectorPayload, swVectorID, vecTSs, swVectorSignature),
			keys:   keys(swVectorSecret + "\n"),
			now:    vecTS,
			wantID: swVectorID,
			wantTS: vecTS,
		},
		{
			name:   "the Rust reference library's vector verifies",
			req:    swReq(swRustPayload, swRustID, strconv.Itoa(swRustTimestamp), swRustSignature),
			keys:   keys(swRustSecret),
			now:    unix(swRustTimestamp),
			wantID: swRustID,
			wantTS: unix(swRustTimestamp),
		},
		{
			name:   "Svix header names are accepted when the webhook-* headers are absent",
			req:    req(swVectorPayload, "svix-id", swVectorID, "svix-timestamp", vecTSs, "svix-signature", swVectorSignature),
			keys:   keys(swVectorSecret),
			now:    vecTS,
			wantID: swVectorID,
			wantTS: vecTS,
		},
		{
			name: "webhook-* headers win over svix-* ones when both are sent",
			req: req(swVectorPayload,
				"webhook-id", swVectorID, "webhook-timestamp", vecTSs, "webhook-signature", swVectorSignature,
				"svix-id", "other", "svix-timestamp", "1", "svix-signature", "v1,AAAA"),
			keys:   keys(swVectorSecret),
			now:    vecTS,
			wantID: swVectorID,
			wantTS: vecTS,
		},
		{
			name:       "header families are never mixed: a webhook-id with only svix-signature is missing its signature",
			req:        req(swVectorPayload, "webhook-id", swVectorID, "webhook-timestamp", vecTSs, "svix-signature", swVectorSignature),
			keys:       keys(swVectorSecret),
			now:        vecTS,
			wantReason: ReasonMissingSignature,
		},
		{
			name:   "a valid v1 signature is found among v1a, v2 and wrong v1 entries",
			req:    swReq(swVectorPayload, swVectorID, vecTSs, "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "+swVectorSignature),
			keys:   keys(swVectorSecret),
			now:    vecTS,
			wantID: swVectorID,
			wantTS: vecTS,
		},
		{
			name:   "a valid v1 signature is used even beside an unparsable entry",
			req:    swReq(body, id, sentS, "garbage v1,!!! "+sig),
			keys:   [][]byte{current},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "a request signed with the previous key verifies while both keys are configured",
			req:    swReq(body, id, sentS, prevSig),
			keys:   [][]byte{current, previous},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "a sender signing with both keys during rotation verifies against the new key alone",
			req:    swReq(body, id, sentS, prevSig+" "+sig),
			keys:   [][]byte{current},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "a key that is not base64 is skipped and the next key is tried",
			req:    swReq(body, id, sentS, sig),
			keys:   [][]byte{[]byte("whsec_not base64!"), current},
			now:    sent,
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "a timestamp exactly five minutes old is still inside the default window",
			req:    swReq(body, id, sentS, sig),
			keys:   [][]byte{current},
			now:    sent.Add(5 * time.Minute),
			wantID: id,
			wantTS: sent,
		},
		{
			name:   "a timestamp exactly five minutes ahead is still inside the default window",
			req:    swReq(body, id, sentS, sig),
			keys:   [][]byte{current},
			now:    sent.Add(-5 * time.Minute),
			wantID: id,
			wantTS: sent,
		},
		{
			name:       "a stale timestamp just outside the default window is refused",
			req:        swReq(body, id, sentS, sig),
			keys:       [][]byte{current},
			now:        sent.Add(5*time.Minute + time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a future timestamp just outside the default window is refused",
			req:        swReq(body, id, sentS, sig),
			keys:       [][]byte{current},
			now:        sent.Add(-5*time.Minute - time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "the published vector is refused today because its timestamp is years old",
			req:        swReq(swVectorPayload, swVectorID, vecTSs, swVectorSignature),
			keys:       keys(swVectorSecret),
			now:        time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a stale timestamp with a wrong signature is reported as a mismatch, not as stale",
			req:        swReq(body, id, sentS, flipAt(sig, 3)),
			keys:       [][]byte{current},
			now:        sent.Add(time.Hour),
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a tampered body is refused",
			req:        swReq(body+" ", id, sentS, sig),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a changed message id is refused because the id is signed",
			req:        swReq(body, id+"x", sentS, sig),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a changed timestamp is refused even inside the window because the timestamp is signed",
			req:        swReq(body, id, strconv.FormatInt(sent.Unix()+1, 10), sig),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a timestamp with leading zeros is not the text that was signed",
			req:        swReq(body, id, "0"+sentS, sig),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong secret is refused",
			req:        swReq(body, id, sentS, SignStandardWebhooks(id, sent, []byte(body), StandardWebhooksSecret([]byte("wrong-key-0123456789abcdef")))),
			keys:       [][]byte{current, previous},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the published signature with one character changed is refused",
			req:        swReq(swVectorPayload, swVectorID, vecTSs, flipAt(swVectorSignature, 3)),
			keys:       keys(swVectorSecret),
			now:        vecTS,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a missing signature header is refused as missing",
			req:        req(body, "webhook-id", id, "webhook-timestamp", sentS),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a missing id header is refused as missing",
			req:        req(body, "webhook-timestamp", sentS, "webhook-signature", sig),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a missing timestamp header is refused as missing",
			req:        req(body, "webhook-id", id, "webhook-signature", sig),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a request with none of the headers is refused as missing",
			req:        req(body),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a header holding only an asymmetric v1a signature has no signature this verifier can check",
			req:        swReq(body, id, sentS, "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a signature header that is not a version list is malformed",
			req:        swReq(body, id, sentS, "garbage"),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a v1 signature that is not base64 is malformed",
			req:        swReq(body, id, sentS, "v1,not*base64"),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a partial v1, entry is malformed",
			req:        swReq(body, id, sentS, "v1,"),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a v1 signature of the wrong length is malformed",
			req:        swReq(body, id, sentS, "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 20))),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a timestamp that is not an integer is malformed",
			req:        swReq(body, id, sentS+".5", sig),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a negative timestamp is malformed",
			req:        swReq(body, id, "-"+sentS, sig),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "an absurdly long timestamp is malformed rather than overflowing",
			req:        swReq(body, id, "99999999999999999999999", sig),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature header sent twice is malformed",
			req:        req(body, "webhook-id", id, "webhook-timestamp", sentS, "webhook-signature", sig, "webhook-signature", sig),
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "no key decodes, so nothing can be verified",
			req:        swReq(body, id, sentS, sig),
			keys:       keys("whsec_***", ""),
			now:        sent,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			req:        nil,
			keys:       [][]byte{current},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
	})
}

func TestStandardWebhooksCustomTolerance(t *testing.T) {
	secret := StandardWebhooksSecret([]byte("tolerance-key-0123456789"))
	const body, id = `{}`, "msg_tolerance"
	sent := unix(1700000000)
	r := swReq(body, id, strconv.FormatInt(sent.Unix(), 10), SignStandardWebhooks(id, sent, []byte(body), secret))

	runVerifyCases(t, NewStandardWebhooks(time.Minute), []verifyCase{
		{
			name:   "a request within a one-minute tolerance verifies",
			req:    r,
			keys:   [][]byte{secret},
			now:    sent.Add(time.Minute),
			wantID: id,
			wantTS: sent,
		},
		{
			name:       "a request 61 seconds old is stale under a one-minute tolerance",
			req:        r,
			keys:       [][]byte{secret},
			now:        sent.Add(61 * time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a request 61 seconds ahead is refused under a one-minute tolerance",
			req:        r,
			keys:       [][]byte{secret},
			now:        sent.Add(-61 * time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
	})
}

func TestParseStandardSignatures(t *testing.T) {
	good := mac(sha256.New, "k", "content")
	goodEntry := formatStandardSignature(good)
	cases := []struct {
		name       string
		value      string
		wantCount  int
		wantReason Reason
	}{
		{name: "a single v1 entry yields one signature", value: goodEntry, wantCount: 1},
		{name: "entries separated by several spaces are all read", value: goodEntry + "   " + goodEntry, wantCount: 2},
		{name: "unknown versions are skipped", value: "v9,xyz " + goodEntry, wantCount: 1},
		{name: "whitespace alone is missing", value: "   ", wantReason: ReasonMissingSignature},
		{name: "an entry with an empty version is malformed", value: "," + strings.TrimPrefix(goodEntry, "v1,"), wantReason: ReasonMalformedSignature},
		{name: "a v1 entry with non-canonical base64 padding bits is malformed", value: "v1," + goodEntry[3:len(goodEntry)-2] + "B=", wantReason: ReasonMalformedSignature},
		{name: "a version prefix compared case-sensitively leaves V1 unrecognised", value: "V1," + goodEntry[3:], wantReason: ReasonMissingSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sigs, err := parseStandardSignatures("webhook-signature", tc.value)
			if got := ReasonOf(err); got != tc.wantReason {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tc.wantReason)
			}
			if len(sigs) != tc.wantCount {
				t.Fatalf("got %d signatures, want %d", len(sigs), tc.wantCount)
			}
		})
	}
}
