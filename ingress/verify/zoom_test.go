package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Zoom publishes no test vector (its guide and sample receiver compute the
// signature live), so these tests compute expected MACs independently with
// mac() from the documented recipe: "v0=" + hex(HMAC-SHA256(secret,
// "v0:" + x-zm-request-timestamp + ":" + body)).

// zoomReq builds a request carrying Zoom's two headers.
func zoomReq(body, timestamp, signature string) *Request {
	return req(body, "x-zm-request-timestamp", timestamp, "x-zm-signature", signature)
}

func zoomSig(key, timestamp, body string) string {
	return "v0=" + hex.EncodeToString(mac(sha256.New, key, "v0:", timestamp, ":", body))
}

func TestZoomVerify(t *testing.T) {
	const (
		current  = "hK8xTq3nRb2Vw9Yz4Lp6Mc"
		previous = "pR3vJk7Nd1Fq5Ws8Xt2Gh"
		body     = `{"event":"meeting.started","payload":{"account_id":"A1","object":{"id":"123","uuid":"u=="}},"event_ts":1767323045123}`
	)
	ts := unix(1767323045)
	stamp := fmt.Sprint(ts.Unix())
	sig := zoomSig(current, stamp, body)
	sum := sha256.Sum256([]byte(body))
	id := "sha256:" + hex.EncodeToString(sum[:])

	runVerifyCases(t, NewZoom(0), []verifyCase{
		{
			name:   "an event signed as Zoom documents verifies, keyed by a digest of its body",
			req:    zoomReq(body, stamp, sig),
			keys:   keys(current),
			now:    ts,
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "ZoomHeaders produces what the documented recipe produces",
			req:    &Request{Method: http.MethodPost, Header: ZoomHeaders(ts, []byte(body), []byte(current)), Body: []byte(body)},
			keys:   keys(current),
			now:    ts,
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "canonical header names work as well as Zoom's lower-case ones",
			req:    req(body, "X-Zm-Request-Timestamp", stamp, "X-Zm-Signature", sig),
			keys:   keys(current),
			now:    ts,
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "a request signed with the second of two secrets verifies",
			req:    zoomReq(body, stamp, zoomSig(previous, stamp, body)),
			keys:   keys(current, previous),
			now:    ts,
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "a secret stored with a trailing newline still verifies",
			req:    zoomReq(body, stamp, sig),
			keys:   keys(current + "\n"),
			now:    ts,
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "a timestamp exactly five minutes old is still accepted",
			req:    zoomReq(body, stamp, sig),
			keys:   keys(current),
			now:    ts.Add(5 * time.Minute),
			wantID: id,
			wantTS: ts,
		},
		{
			name:   "a body that is not JSON verifies as an event",
			req:    zoomReq("plain", stamp, zoomSig(current, stamp, "plain")),
			keys:   keys(current),
			now:    ts,
			wantID: "sha256:" + hex.EncodeToString(mac256("plain")),
			wantTS: ts,
		},
		{
			name:       "a timestamp five minutes and a second old is refused",
			req:        zoomReq(body, stamp, sig),
			keys:       keys(current),
			now:        ts.Add(5*time.Minute + time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a timestamp five minutes and a second ahead is refused",
			req:        zoomReq(body, stamp, sig),
			keys:       keys(current),
			now:        ts.Add(-5*time.Minute - time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a tampered body is refused",
			req:        zoomReq(strings.Replace(body, "123", "124", 1), stamp, sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a changed timestamp is refused, since it is signed",
			req:        zoomReq(body, fmt.Sprint(ts.Unix()+1), sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong secret is refused",
			req:        zoomReq(body, stamp, zoomSig("wrong", stamp, body)),
			keys:       keys(current, previous),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a request without x-zm-signature is refused as missing",
			req:        req(body, "x-zm-request-timestamp", stamp),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a request without x-zm-request-timestamp is refused as missing",
			req:        req(body, "x-zm-signature", sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a signature without the v0= prefix is malformed",
			req:        zoomReq(body, stamp, strings.TrimPrefix(sig, "v0=")),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature that is not hex is malformed",
			req:        zoomReq(body, stamp, "v0=zz"+sig[5:]),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a timestamp in milliseconds is malformed",
			req:        zoomReq(body, stamp+"123", zoomSig(current, stamp+"123", body)),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "an RFC 3339 timestamp is malformed",
			req:        zoomReq(body, "2026-01-02T03:04:05Z", sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "x-zm-signature sent twice is malformed",
			req:        req(body, "x-zm-request-timestamp", stamp, "x-zm-signature", sig, "x-zm-signature", sig),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "no usable key leaves nothing to verify with",
			req:        zoomReq(body, stamp, sig),
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

func mac256(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func TestZoomURLValidationIsAnsweredOnlyWhenVerified(t *testing.T) {
	const (
		current  = "hK8xTq3nRb2Vw9Yz4Lp6Mc"
		previous = "pR3vJk7Nd1Fq5Ws8Xt2Gh"
		plain    = "qgg8vlvZRS6UYooatFL8Aw"
	)
	ts := unix(1767323045)
	stamp := fmt.Sprint(ts.Unix())
	body := `{"payload":{"plainToken":"` + plain + `"},"event_ts":1767323045000,"event":"endpoint.url_validation"}`
	answer := func(key string) string {
		return `{"plainToken":"` + plain + `","encryptedToken":"` + hex.EncodeToString(mac(sha256.New, key, plain)) + `"}`
	}

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
			name:       "a signed validation request is answered with plainToken and its HMAC under the secret",
			req:        zoomReq(body, stamp, zoomSig(current, stamp, body)),
			keys:       keys(current),
			now:        ts,
			wantStatus: http.StatusOK,
			wantBody:   answer(current),
		},
		{
			name:       "a validation request signed with the second secret is answered with that secret",
			req:        zoomReq(body, stamp, zoomSig(previous, stamp, body)),
			keys:       keys(current, previous),
			now:        ts,
			wantStatus: http.StatusOK,
			wantBody:   answer(previous),
		},
		{
			name:       "an unsigned validation request is refused, never answered",
			req:        req(body),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a validation request with a wrong signature is refused, never answered",
			req:        zoomReq(body, stamp, zoomSig("attacker", stamp, body)),
			keys:       keys(current),
			now:        ts,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a replayed stale validation request is refused, never answered",
			req:        zoomReq(body, stamp, zoomSig(current, stamp, body)),
			keys:       keys(current),
			now:        ts.Add(time.Hour),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a signed validation request without a plainToken gets a 400",
			req:        zoomReq(`{"event":"endpoint.url_validation","payload":{}}`, stamp, zoomSig(current, stamp, `{"event":"endpoint.url_validation","payload":{}}`)),
			keys:       keys(current),
			now:        ts,
			wantStatus: http.StatusBadRequest,
		},
	}
	v := NewZoom(0)
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
			if hs.ContentType != "application/json" {
				t.Errorf("content type = %q", hs.ContentType)
			}
			var got, want map[string]string
			if err := json.Unmarshal(hs.Body, &got); err != nil {
				t.Fatalf("answer %q is not JSON: %v", hs.Body, err)
			}
			_ = json.Unmarshal([]byte(tc.wantBody), &want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("answer = %s, want %s", hs.Body, tc.wantBody)
			}
		})
	}
}
