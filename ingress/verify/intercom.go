package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"time"
)

// IntercomSignatureHeader carries "sha1=" and the hex HMAC-SHA1 of the raw
// body under the app's client secret
// (https://developers.intercom.com/docs/webhooks/setting-up-webhooks).
const IntercomSignatureHeader = "X-Hub-Signature"

// intercomSignaturePrefix is the only scheme Intercom sends.
const intercomSignaturePrefix = "sha1="

type intercomVerifier struct{}

// NewIntercom returns a Verifier for Intercom webhooks. Keys are the app's
// client secret as raw bytes.
//
// HMAC-SHA1 is what Intercom sends, and HMAC (unlike a bare SHA-1 digest)
// is not weakened by SHA-1's collision attacks, so it is accepted here
// without the opt-in GitHub's legacy header needs. Intercom signs no
// timestamp, so there is no replay window.
func NewIntercom() Verifier { return intercomVerifier{} }

// Verify implements Verifier.
func (intercomVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	value, ok, err := singleHeader(req.Header, IntercomSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", IntercomSignatureHeader)
	}
	sig, err := parseIntercomSignature(value)
	if err != nil {
		return Result{}, err
	}
	if err := verifyBodyMAC(IntercomSignatureHeader, sig, keys, req.Body, sha1.New); err != nil {
		return Result{}, err
	}
	return Result{DeliveryID: intercomNotificationID(req.Body)}, nil
}

// parseIntercomSignature decodes "sha1=<hex>" into the raw MAC.
func parseIntercomSignature(value string) ([]byte, error) {
	return decodeSignature(IntercomSignatureHeader, value, intercomSignaturePrefix, encodingHex, sha1.Size)
}

// intercomNotificationID returns the notification's "id" ("notif_..."),
// which Intercom keeps when it retries a notification (the body then counts
// delivery_attempts). Intercom sends no delivery id header, so the verified
// body is the only place to find one. A body without it gives no id.
func intercomNotificationID(body []byte) string { return jsonStringField(body, "id") }

// SignIntercom returns the X-Hub-Signature value Intercom would send for body
// under key (the client secret as raw bytes).
func SignIntercom(body, key []byte) string {
	m := hmac.New(sha1.New, key)
	m.Write(body)
	return intercomSignaturePrefix + hex.EncodeToString(m.Sum(nil))
}

func init() {
	register("intercom", func(Options) (Verifier, error) { return NewIntercom(), nil })
}
