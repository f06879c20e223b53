package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Twitch publishes no test vector. This one is from the Rust twitch_api
// crate's test suite (github.com/twitch-rs/twitch_api, eventsub test
// verify_request): a channel.follow notification with the default names the
// Twitch CLI (`twitch event trigger`) uses, so it was made by Twitch's own
// tool, not by a reimplementation.
const (
	twitchVectorSecret    = "secretabcd"
	twitchVectorID        = "ae2ff348-e102-16be-a3eb-6830c1bf38d2"
	twitchVectorTimestamp = "2021-02-19T23:47:00.8091512Z"
	twitchVectorSignature = "sha256=d10f5bd9474b7ac7bd7105eb79c2d52768b4d0cd2a135982c3bf5a1d59a78823"
	twitchVectorBody      = `{"subscription":{"id":"ae2ff348-e102-16be-a3eb-6830c1bf38d2","status":"enabled","type":"channel.follow","version":"1","condition":{"broadcaster_user_id":"44429626"},"transport":{"method":"webhook","callback":"null"},"created_at":"2021-02-19T23:47:00.7621315Z"},"event":{"user_id":"28408015","user_login":"testFromUser","user_name":"testFromUser","broadcaster_user_id":"44429626","broadcaster_user_login":"44429626","broadcaster_user_name":"testBroadcaster"}}`
)

// twitchReq builds a request with the four EventSub headers.
func twitchReq(body, id, timestamp, signature, msgType string) *Request {
	return req(body,
		"Twitch-Eventsub-Message-Id", id,
		"Twitch-Eventsub-Message-Timestamp", timestamp,
		"Twitch-Eventsub-Message-Signature", signature,
		"Twitch-Eventsub-Message-Type", msgType,
	)
}

func twitchSig(key, id, timestamp, body string) string {
	return "sha256=" + hex.EncodeToString(mac(sha256.New, key, id, timestamp, body))
}

func TestTwitchVerify(t *testing.T) {
	const (
		current  = "s3cr3t-current-0123456789"
		previous = "s3cr3t-previous-0123456789"
		id       = "befa7b53-d79d-478f-86b9-120f112b044e"
		body     = `{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","type":"channel.follow","version":"2"},"event":{"user_id":"1337"}}`
		stamp    = "2026-01-02T03:04:05.123456789Z"
	)
	ts, _ := time.Parse(time.RFC3339Nano, stamp)
	sig := twitchSig(current, id, stamp, body)
	vectorTS, _ := time.Parse(time.RFC3339Nano, twitchVectorTimestamp)

	runVerifyCases(t, NewTwitch(0), []verifyCase{
		{
			name:   "the Twitch CLI message from the twitch_api test suite verifies at its own time",
			req:    twitchReq(twitchVectorBody, twitchVectorID, twitchVectorTimestamp, twitchVectorSignature, "notification"),
			keys:   keys(twitchVectorSecret),
			now:    vectorTS.Add(time.Second),
			wantID: twitchVectorID,
			wantTS: vectorTS,
		},
		{
			name:       "the Twitch CLI message with one hex digit changed is refused",
			req:        twitchReq(twitchVectorBody, twitchVectorID, twitchVectorTimestamp, flipAt(twitchVectorSignature, 1), "notification"),
			keys:       keys(twitchVectorSecret),
			now:        vectorTS,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:   "a notification verifies and its message id is the delivery id",
			req:    twitchReq(body, id, stamp, sig, "notification"),
			keys:   keys(current),
			now:    ts,
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "a revocation is an ordinary event",
			req:    twitchReq(body, id, stamp, sig, "revocation"),
			keys:   keys(current),
			now:    ts,
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "TwitchHeaders produces what the documented recipe produces",
			req:    &Request{Method: http.MethodPost, Header: TwitchHeaders(id, "notification", ts, []byte(body), []byte(current)), Body: []byte(body)},
			keys:   keys(current),
			now:    ts,
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "a timestamp with an offset instead of Z verifies as the same instant",
			req:    twitchReq(body, id, "2026-01-02T05:04:05.123456789+02:00", twitchSig(current, id, "2026-01-02T05:04:05.123456789+02:00", body), "notification"),
			keys:   keys(current),
			now:    ts,
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "a request signed with the second of two secrets verifies",
			req:    twitchReq(body, id, stamp, twitchSig(previous, id, stamp, body), "notification"),
			keys:   keys(current, previous),
			now:    ts,
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "a secret that ends in a space is used as it is",
			req:    twitchReq(body, id, stamp, twitchSig(current+" ", id, stamp, body), "notification"),
			keys:   keys(current + " "),
			now:    ts,
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "a message exactly ten minutes old is still accepted",
			req:    twitchReq(body, id, stamp, sig, "notification"),
			keys:   keys(current),
			now:    ts.Add(10 * time.Minute),
			wantID: id,
			wantTS: ts,
		},
		{
			name:       "a message older than ten minutes is refused, as Twitch's guide says",
			req:        twitchReq(body, id, stamp, sig, "notification"),
			keys:       keys(current),
			now:        ts.Add(10*time.Minute + time.Nanosecond),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a message more than ten minutes in the future is refused",
			req:        twitchReq(body, id, stamp, sig, "notification"),
			keys:       keys(current),
			now:        ts.Add(-11 * time.Minute),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a tampered body is refused",
			req:        twitchReq(strings.Replace(body, "1337", "1338", 1), id, stamp, sig, "notification"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a changed message id is refused, since it is signed",
			req:        twitchReq(body, id+"x", stamp, sig, "notification"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the same instant spelt differently is refused, since the text is signed",
			req:        twitchReq(body, id, "2026-01-02T03:04:05.123456789+00:00", sig, "notification"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong secret is refused",
			req:        twitchReq(body, id, stamp, twitchSig("wrong-secret-0123", id, stamp, body), "notification"),
			keys:       keys(current, previous),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a trimmed secret is not the configured one",
			req:        twitchReq(body, id, stamp, twitchSig(current, id, stamp, body), "notification"),
			keys:       keys(current + " "),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a request without the signature header is refused as missing",
			req:        req(body, "Twitch-Eventsub-Message-Id", id, "Twitch-Eventsub-Message-Timestamp", stamp),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a request without the message id is refused as missing",
			req:        req(body, "Twitch-Eventsub-Message-Timestamp", stamp, "Twitch-Eventsub-Message-Signature", sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a request without the timestamp is refused as missing",
			req:        req(body, "Twitch-Eventsub-Message-Id", id, "Twitch-Eventsub-Message-Signature", sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a unix timestamp is malformed",
			req:        twitchReq(body, id, "1767323045", twitchSig(current, id, "1767323045", body), "notification"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature without the sha256= prefix is malformed",
			req:        twitchReq(body, id, stamp, strings.TrimPrefix(sig, "sha256="), "notification"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a truncated signature is malformed rather than compared",
			req:        twitchReq(body, id, stamp, sig[:len(sig)-2], "notification"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "the signature header sent twice is malformed",
			req:        req(body, "Twitch-Eventsub-Message-Id", id, "Twitch-Eventsub-Message-Timestamp", stamp, "Twitch-Eventsub-Message-Signature", sig, "Twitch-Eventsub-Message-Signature", sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "no usable key leaves nothing to verify with",
			req:        twitchReq(body, id, stamp, sig, "notification"),
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

func TestTwitchChallengeIsAnsweredOnlyWhenVerified(t *testing.T) {
	const (
		current  = "s3cr3t-current-0123456789"
		previous = "s3cr3t-previous-0123456789"
		id       = "e76c6bd4-55c9-4987-8304-da1588d8988b"
		stamp    = "2026-01-02T03:04:05.000000001Z"
		body     = `{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"webhook_callback_verification_pending","type":"channel.follow","version":"2"}}`
	)
	ts, _ := time.Parse(time.RFC3339Nano, stamp)
	cases := []struct {
		name       string
		req        *Request
		keys       [][]byte
		now        time.Time
		wantReason Reason
		wantStatus int
		wantBody   string
	}{
		{
			name:       "a signed challenge is answered 200 with the raw challenge as text/plain",
			req:        twitchReq(body, id, stamp, twitchSig(current, id, stamp, body), "webhook_callback_verification"),
			keys:       keys(current),
			now:        ts,
			wantStatus: http.StatusOK,
			wantBody:   "pogchamp-kappa-360noscope-vohiyo",
		},
		{
			name:       "a challenge signed with the second secret is answered",
			req:        twitchReq(body, id, stamp, twitchSig(previous, id, stamp, body), "webhook_callback_verification"),
			keys:       keys(current, previous),
			now:        ts,
			wantStatus: http.StatusOK,
			wantBody:   "pogchamp-kappa-360noscope-vohiyo",
		},
		{
			name:       "an unsigned challenge is refused, never echoed",
			req:        req(body, "Twitch-Eventsub-Message-Type", "webhook_callback_verification"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a challenge signed with another secret is refused, never echoed",
			req:        twitchReq(body, id, stamp, twitchSig("attacker-secret-0", id, stamp, body), "webhook_callback_verification"),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a stale challenge is refused, never echoed",
			req:        twitchReq(body, id, stamp, twitchSig(current, id, stamp, body), "webhook_callback_verification"),
			keys:       keys(current),
			now:        ts.Add(time.Hour),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a signed challenge message without a challenge gets a 400",
			req:        twitchReq(`{"subscription":{}}`, id, stamp, twitchSig(current, id, stamp, `{"subscription":{}}`), "webhook_callback_verification"),
			keys:       keys(current),
			now:        ts,
			wantStatus: http.StatusBadRequest,
		},
	}
	v := NewTwitch(0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := v.Verify(tc.req, tc.keys, tc.now)
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("reason = %q (err %v), want %q", ReasonOf(err), err, tc.wantReason)
			}
			if err != nil {
				if res.Handshake != nil {
					t.Fatal("a refused request carries a handshake answer")
				}
				return
			}
			hs := res.Handshake
			if hs == nil {
				t.Fatal("no handshake answer")
			}
			if hs.Status != tc.wantStatus {
				t.Fatalf("status = %d, want %d", hs.Status, tc.wantStatus)
			}
			if tc.wantBody == "" {
				return
			}
			if hs.ContentType != "text/plain" || string(hs.Body) != tc.wantBody {
				t.Fatalf("answer = %q (%s), want %q (text/plain)", hs.Body, hs.ContentType, tc.wantBody)
			}
		})
	}
}
