package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"time"
)

// SquareSignatureHeader carries the base64 HMAC-SHA256 of the notification
// URL followed by the raw body, under the subscription's signature key
// (https://developer.squareup.com/docs/webhooks/step3validate).
const SquareSignatureHeader = "X-Square-Hmacsha256-Signature"

type squareVerifier struct{ urls signedURLs }

// NewSquare returns a Verifier for Square webhooks. Keys are the webhook
// subscription's signature key as raw bytes (Square's SDKs use the text
// shown in the Developer Console as is; it is not decoded).
//
// Square signs the notification URL together with the body, so a
// notification cannot be replayed against another endpoint. The URL must be
// byte for byte the one configured in Square: spec.signedURL when a proxy
// changes what the receiver sees, otherwise status.url or the request's URL
// (see signedurl.go). Square signs no timestamp, so
// there is no replay window; event_id in the body is the dedupe key Square
// documents.
func NewSquare() Verifier { return squareVerifier{} }

// NewSquareWithOptions is NewSquare verifying against o.SignedURL or
// o.PublicURL (signedurl.go).
func NewSquareWithOptions(o Options) Verifier { return squareVerifier{urls: newSignedURLs(o)} }

// Verify implements Verifier.
func (v squareVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	value, ok, err := singleHeader(req.Header, SquareSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", SquareSignatureHeader)
	}
	sig, err := parseSquareSignature(value)
	if err != nil {
		return Result{}, err
	}
	urls := v.urls.candidates(req)
	if len(urls) == 0 {
		// Without the URL the signed content cannot be rebuilt. This is a
		// receiver fault, never the sender's, but it must still refuse.
		return Result{}, fail(ReasonMissingSignature, "the request URL Square signs is unknown")
	}
	usable := nonEmptyKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	for _, u := range urls {
		signed := u.String()
		write := func(h hash.Hash) {
			h.Write([]byte(signed))
			h.Write(req.Body)
		}
		if anyKeyMatches(sha256.New, usable, [][]byte{sig}, write) {
			return Result{DeliveryID: squareEventID(req.Body)}, nil
		}
	}
	return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d keys for %d candidate URL(s)", SquareSignatureHeader, len(usable), len(urls))
}

// parseSquareSignature decodes the base64 MAC.
func parseSquareSignature(value string) ([]byte, error) {
	return decodeSignature(SquareSignatureHeader, value, "", encodingBase64, sha256.Size)
}

// squareEventID returns event_id, "the generated idempotency value" Square
// includes in each notification body and repeats on redelivery. A body
// without it gives no id.
func squareEventID(body []byte) string { return jsonStringField(body, "event_id") }

// SignSquare returns the x-square-hmacsha256-signature value Square would
// send for body delivered to notificationURL under key (the signature key as
// raw bytes).
func SignSquare(notificationURL string, body, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(notificationURL))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func init() {
	register("square", func(o Options) (Verifier, error) { return NewSquareWithOptions(o), nil })
}
