package verify

import (
	"bytes"
	"time"
)

func init() {
	register("basic", func(Options) (Verifier, error) { return NewBasic(), nil })
}

type basicVerifier struct{}

// NewBasic returns a Verifier for senders that authenticate with HTTP Basic
// authentication (RFC 7617), "Authorization: Basic base64(user:password)",
// typically from credentials embedded in the webhook URL. Each key is one
// accepted "user:password" pair (surrounding whitespace ignored); a key with
// no colon is skipped. The whole decoded credential is compared, in
// constant time, so user and password must both match the same key.
//
// Like a bearer token, Basic credentials do not bind the body and allow
// replays: prefer a signing provider wherever the sender offers one, and
// serve the endpoint over TLS only. Result is empty: no replay window and no
// dedupe.
func NewBasic() Verifier { return basicVerifier{} }

// Verify implements Verifier.
func (basicVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	cred, err := authorizationCredentials(req.Header, "Basic")
	if err != nil {
		return Result{}, err
	}
	pair, err := parseBasicCredentials(cred)
	if err != nil {
		return Result{}, err
	}
	var usable [][]byte
	for _, k := range trimmedKeys(keys) {
		if bytes.IndexByte(k, ':') >= 0 {
			usable = append(usable, k)
		}
	}
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "none of %d keys has the form user:password", len(keys))
	}
	if !credentialMatchesAny(pair, usable) {
		return Result{}, fail(ReasonSignatureMismatch, "the Basic credentials match none of %d keys", len(usable))
	}
	return Result{}, nil
}

// parseBasicCredentials decodes the base64 "user:password" of a Basic
// credential. Padding may be left off, since the decoded bytes are what is
// compared and leniency there admits no forgery. The user-id ends at the
// first colon (RFC 7617 forbids one in it; the password may hold more), so a
// credential without a colon is malformed, as is one with control
// characters, which RFC 7617 excludes from both parts.
func parseBasicCredentials(cred string) ([]byte, error) {
	pair, err := decodeBase64(cred)
	if err != nil {
		return nil, fail(ReasonMalformedSignature, "%s Basic credential is not valid base64", AuthorizationHeader)
	}
	if bytes.IndexByte(pair, ':') < 0 {
		return nil, fail(ReasonMalformedSignature, "%s Basic credential has no colon between user and password", AuthorizationHeader)
	}
	for _, c := range pair {
		if c < 0x20 || c == 0x7f {
			return nil, fail(ReasonMalformedSignature, "%s Basic credential contains a control character", AuthorizationHeader)
		}
	}
	return pair, nil
}
