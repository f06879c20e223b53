package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Headers Bitbucket Cloud sends with webhook deliveries
// (https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/).
const (
	// BitbucketSignatureHeader carries "sha256=" and the hex HMAC-SHA256 of
	// the body. Bitbucket uses GitHub's legacy header name for SHA-256, not
	// for SHA-1.
	BitbucketSignatureHeader = "X-Hub-Signature"
	// BitbucketRequestUUIDHeader is the UUID of the request.
	BitbucketRequestUUIDHeader = "X-Request-UUID"
	// BitbucketHookUUIDHeader is the UUID of the webhook that sent it.
	BitbucketHookUUIDHeader = "X-Hook-UUID"
	// BitbucketRequestIDHeader is Bitbucket Data Center's per-request UUID,
	// used when X-Request-UUID is absent.
	BitbucketRequestIDHeader = "X-Request-Id"
)

// bitbucketSignaturePrefix names the algorithm. Bitbucket documents the
// prefix as the algorithm's name and sha256 as the only one it uses, so any
// other prefix is refused as malformed rather than guessed at.
const bitbucketSignaturePrefix = "sha256="

type bitbucketVerifier struct{}

// NewBitbucket returns a Verifier for Bitbucket Cloud (and Data Center)
// webhooks: X-Hub-Signature is "sha256=" and the hex HMAC-SHA256 of the raw
// body under the webhook secret, used as raw bytes.
//
// Bitbucket signs neither a timestamp nor the delivery headers, so there is
// no replay window and Result.DeliveryID is not authenticated; dedupe still
// catches Bitbucket's own retries.
func NewBitbucket() Verifier { return bitbucketVerifier{} }

// Verify implements Verifier.
func (bitbucketVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	value, ok, err := singleHeader(req.Header, BitbucketSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent (a Bitbucket webhook without a secret is not signed)", BitbucketSignatureHeader)
	}
	sig, err := parseBitbucketSignature(value)
	if err != nil {
		return Result{}, err
	}
	if err := verifyBodyMAC(BitbucketSignatureHeader, sig, keys, req.Body, sha256.New); err != nil {
		return Result{}, err
	}
	return Result{DeliveryID: bitbucketDeliveryID(req)}, nil
}

// parseBitbucketSignature decodes "sha256=<hex>" into the raw MAC.
func parseBitbucketSignature(value string) ([]byte, error) {
	return decodeSignature(BitbucketSignatureHeader, value, bitbucketSignaturePrefix, encodingHex, sha256.Size)
}

// bitbucketDeliveryID builds the dedupe key from the request UUID, prefixed
// with the hook UUID when sent, so that two webhooks on one repository that
// fire for the same event are never taken for one another.
func bitbucketDeliveryID(req *Request) string {
	id := firstHeader(req.Header, BitbucketRequestUUIDHeader)
	if id == "" {
		id = firstHeader(req.Header, BitbucketRequestIDHeader)
	}
	if id == "" {
		return ""
	}
	if hook := firstHeader(req.Header, BitbucketHookUUIDHeader); hook != "" {
		return hook + ":" + id
	}
	return id
}

// SignBitbucket returns the X-Hub-Signature value Bitbucket would send for
// body under key (the webhook secret as raw bytes).
func SignBitbucket(body, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return bitbucketSignaturePrefix + hex.EncodeToString(m.Sum(nil))
}

func init() {
	register("bitbucket", func(Options) (Verifier, error) { return NewBitbucket(), nil })
}
