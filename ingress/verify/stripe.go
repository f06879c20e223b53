package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Stripe signs every webhook with the endpoint's signing secret, as described
// in https://docs.stripe.com/webhooks#verify-manually and implemented by
// stripe-go's webhook package (ValidatePayloadWithTolerance).
const (
	// StripeSignatureHeader carries "t=<unix>,v1=<hex>[,v1=<hex>...]".
	StripeSignatureHeader = "Stripe-Signature"
	// StripeDefaultTolerance is stripe-go's webhook.DefaultTolerance.
	StripeDefaultTolerance = 300 * time.Second
)

// stripeScheme is the only signature scheme Stripe sends for live
// endpoints. v0 entries are test-mode signatures made with a fake secret
// and are ignored, as every official library does.
const stripeScheme = "v1"

type stripeVerifier struct {
	tolerance time.Duration
}

func init() {
	register("stripe", func(o Options) (Verifier, error) { return NewStripe(o.Tolerance), nil })
}

// NewStripe returns a Verifier for Stripe webhooks. Keys are endpoint signing
// secrets exactly as Stripe shows them ("whsec_..."): the whole string,
// prefix included, is the HMAC key, as stripe-go uses it. Surrounding
// whitespace is dropped because Stripe secrets contain none and Secrets made
// with `echo` end in a newline.
//
// tolerance bounds how old the signed timestamp may be; zero or negative
// means StripeDefaultTolerance. Like stripe-go, whose only check is
// time.Since(t) > tolerance, only timestamps that are too old are refused; a
// future one is accepted, and the event id dedupe covers replays of it.
func NewStripe(tolerance time.Duration) Verifier {
	if tolerance <= 0 {
		tolerance = StripeDefaultTolerance
	}
	return &stripeVerifier{tolerance: tolerance}
}

// Verify implements Verifier.
//
// The signature is checked before the timestamp (stripe-go does the
// reverse) so that TimestampOutOfRange is only reported for requests Stripe
// really signed.
func (v *stripeVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	sh, err := stripeFormat.verify(req, keys)
	if err != nil {
		return Result{}, err
	}
	if age := now.Sub(sh.time); age > v.tolerance {
		return Result{}, fail(ReasonTimestampOutOfRange, "timestamp is %s in the past; tolerance is %s", age.Round(time.Second), v.tolerance)
	}
	return Result{DeliveryID: stripeEventID(req.Body), Timestamp: sh.time}, nil
}

type stripeSignature = timestampedSignatures

var stripeFormat = timestampedFormat{header: StripeSignatureHeader, sep: ",", tsKey: "t", scheme: stripeScheme, joiner: '.'}

// parseStripeSignature reads "t=1495999758,v1=ABC,v1=DEF,v0=GHI".
//
// It follows stripe-go's parser where that one is deliberate: every
// comma-separated element must be exactly one key=value pair or the whole
// header is malformed, unknown keys (v0, future schemes) are skipped, and
// several v1 entries are allowed because Stripe sends one per secret while a
// secret is being rolled. It is stricter where stripe-go is lenient by
// accident: the timestamp must be plain digits and appear exactly once (a
// second t= would make what is checked differ from what a proxy or the
// target reads), and a v1 entry must decode to a whole SHA-256 MAC.
func parseStripeSignature(value string) (stripeSignature, error) {
	return parseTimestampedSignatures(stripeFormat, value)
}

// stripeEventID is the event's "id" (evt_...), which Stripe keeps across
// retries of one event and which its documentation names as the key for
// spotting duplicates. The body has been verified by the time this runs; a
// body that is not a JSON object simply yields no id.
func stripeEventID(body []byte) string { return jsonStringField(body, "id") }

// SignStripe returns a Stripe-Signature value for body signed at ts with
// key, the whole "whsec_..." signing secret, as Stripe would send it.
func SignStripe(ts time.Time, body, key []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, bytes.TrimSpace(key))
	stripeFormat.write(m, t, body)
	return "t=" + t + "," + stripeScheme + "=" + hex.EncodeToString(m.Sum(nil))
}
