package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Paddle Billing signs every notification with the notification
// destination's secret key, as described in
// https://developer.paddle.com/webhooks/signature-verification and
// implemented by github.com/PaddleHQ/paddle-go-sdk (WebhookVerifier).
const (
	// PaddleSignatureHeader carries "ts=<unix>;h1=<hex>".
	PaddleSignatureHeader = "Paddle-Signature"
	// PaddleDefaultTolerance is the five seconds Paddle's documentation says
	// its SDK helpers enforce by default. It is tight: the receiver's clock
	// must be NTP-synchronised, or spec.replayTolerance widened.
	PaddleDefaultTolerance = 5 * time.Second
)

// paddleScheme is the signature scheme Paddle documents. Its signature
// schema says a header contains "at least one h1".
const paddleScheme = "h1"

type paddleVerifier struct {
	tolerance time.Duration
}

func init() {
	register("paddle", func(o Options) (Verifier, error) { return NewPaddle(o.Tolerance), nil })
}

// NewPaddle returns a Verifier for Paddle Billing webhooks (not Paddle
// Classic, which signs form fields with a public key). Keys are endpoint
// secret keys exactly as Paddle shows them ("pdl_ntfset_..."), used whole
// as the HMAC key; surrounding whitespace is dropped since Paddle keys have
// none.
//
// tolerance bounds how far ts may be from now in either direction, as the
// Paddle Go SDK checks it; zero or negative means PaddleDefaultTolerance.
func NewPaddle(tolerance time.Duration) Verifier {
	if tolerance <= 0 {
		tolerance = PaddleDefaultTolerance
	}
	return &paddleVerifier{tolerance: tolerance}
}

// Verify implements Verifier. The signature is checked before the
// timestamp so that TimestampOutOfRange is only reported for requests Paddle
// really signed.
func (v *paddleVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	ps, err := paddleFormat.verify(req, keys)
	if err != nil {
		return Result{}, err
	}
	if err := checkWindow(ps.time, now, v.tolerance); err != nil {
		return Result{}, err
	}
	return Result{DeliveryID: paddleEventID(req.Body), Timestamp: ps.time}, nil
}

type paddleSignature = timestampedSignatures

var paddleFormat = timestampedFormat{header: PaddleSignatureHeader, sep: ";", tsKey: "ts", scheme: paddleScheme, joiner: ':'}

// parsePaddleSignature reads "ts=1671552777;h1=eb4d...".
//
// Every semicolon-separated element must be one key=value pair and ts must
// appear exactly once, as in the Paddle Go SDK's anchored pattern. Unlike
// that pattern, more than one h1 is accepted (Paddle's documented schema
// allows several) and unknown keys are skipped, so a scheme Paddle adds
// later does not take endpoints down. Hex may be in either case; what is
// compared is the decoded MAC.
func parsePaddleSignature(value string) (paddleSignature, error) {
	return parseTimestampedSignatures(paddleFormat, value)
}

// paddleEventID is the notification's "event_id" (evt_...), the id of the
// event the notification is about; the Paddle Go SDK's example tells
// receivers to check it for already processed webhooks. A body that is not
// a JSON object yields no id.
func paddleEventID(body []byte) string { return jsonStringField(body, "event_id") }

// SignPaddle returns a Paddle-Signature value for body signed at ts with
// key, the whole endpoint secret key, as Paddle would send it.
func SignPaddle(ts time.Time, body, key []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, bytes.TrimSpace(key))
	paddleFormat.write(m, t, body)
	return "ts=" + t + ";" + paddleScheme + "=" + hex.EncodeToString(m.Sum(nil))
}
