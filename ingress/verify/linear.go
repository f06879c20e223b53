package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"math"
	"strconv"
	"time"
)

// Headers Linear sends with webhook deliveries
// (https://linear.app/developers/webhooks#securing-webhooks).
const (
	// LinearSignatureHeader carries the hex HMAC-SHA256 of the raw body, with
	// no prefix.
	LinearSignatureHeader = "Linear-Signature"
	// LinearDeliveryHeader is the delivery's UUID.
	LinearDeliveryHeader = "Linear-Delivery"
)

const (
	// LinearDefaultTolerance is the replay window Linear's own SDK applies
	// (LinearWebhookClient.verify in @linear/sdk): one minute either way.
	LinearDefaultTolerance = time.Minute
	// linearTimestampField is the body field holding the send time in unix
	// milliseconds. It sits in the body, not a header, so it is covered by
	// the body signature.
	linearTimestampField = "webhookTimestamp"
	// linearMaxTimestampMillis bounds webhookTimestamp (about 31,700 years
	// either side of 1970) so converting it can never overflow.
	linearMaxTimestampMillis = 1e15
)

type linearVerifier struct {
	tolerance time.Duration
}

// NewLinear returns a Verifier for Linear webhooks. Keys are the webhook's
// signing secret as raw bytes.
//
// Linear's replay protection is the webhookTimestamp field in the signed
// body, checked here against tolerance (zero or negative means
// LinearDefaultTolerance) after the signature. As in Linear's SDK, a body
// without it is refused, since then nothing bounds a replay; an unsigned
// Linear-Timestamp header, if any, is never trusted instead.
func NewLinear(tolerance time.Duration) Verifier {
	if tolerance <= 0 {
		tolerance = LinearDefaultTolerance
	}
	return &linearVerifier{tolerance: tolerance}
}

// Verify implements Verifier.
func (v *linearVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	value, ok, err := singleHeader(req.Header, LinearSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", LinearSignatureHeader)
	}
	sig, err := parseLinearSignature(value)
	if err != nil {
		return Result{}, err
	}
	usable := nonEmptyKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	if !anyKeyMatches(sha256.New, usable, [][]byte{sig}, func(h hash.Hash) { h.Write(req.Body) }) {
		return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d keys", LinearSignatureHeader, len(usable))
	}
	// Only a verified body is parsed, so the timestamp read is the one
	// Linear signed.
	ts, err := linearTimestamp(req.Body)
	if err != nil {
		return Result{}, err
	}
	if err := checkWindow(ts, now, v.tolerance); err != nil {
		return Result{}, err
	}
	return Result{DeliveryID: firstHeader(req.Header, LinearDeliveryHeader), Timestamp: ts}, nil
}

// parseLinearSignature decodes the bare hex MAC.
func parseLinearSignature(value string) ([]byte, error) {
	return decodeSignature(LinearSignatureHeader, value, "", encodingHex, sha256.Size)
}

// linearTimestamp reads webhookTimestamp, unix milliseconds, from the top
// level of a JSON body. Like Linear's SDK it must be a JSON number (a quoted
// string is refused); a fraction of a millisecond is kept.
func linearTimestamp(body []byte) (time.Time, error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return time.Time{}, fail(ReasonMalformedSignature, "body is not a JSON object, so it has no %s", linearTimestampField)
	}
	raw := bytes.TrimSpace(fields[linearTimestampField])
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, fail(ReasonMissingSignature, "body has no %s", linearTimestampField)
	}
	// The body parsed as JSON, so a value starting with '-' or a digit is a
	// JSON number literal, which ParseFloat reads exactly as JSON means it.
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return time.Time{}, fail(ReasonMalformedSignature, "%s is not a number", linearTimestampField)
	}
	ms, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(ms) || math.Abs(ms) > linearMaxTimestampMillis {
		return time.Time{}, fail(ReasonMalformedSignature, "%s is not a unix time in milliseconds", linearTimestampField)
	}
	sec := math.Floor(ms / 1000)
	nsec := (ms - sec*1000) * 1e6
	return time.Unix(int64(sec), int64(nsec)).UTC(), nil
}

// SignLinear returns the Linear-Signature value Linear would send for body
// under key (the signing secret as raw bytes). The body must already carry
// webhookTimestamp for the verifier to accept it.
func SignLinear(body, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func init() {
	register("linear", func(o Options) (Verifier, error) { return NewLinear(o.Tolerance), nil })
}
