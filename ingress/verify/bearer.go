package verify

import "time"

func init() {
	register("bearer", func(Options) (Verifier, error) { return NewBearer(), nil })
}

type bearerVerifier struct{}

// NewBearer returns a Verifier for senders that authenticate with a static
// token, "Authorization: Bearer <token>", instead of signing. Each key is
// one accepted token (surrounding whitespace ignored), so a new token can
// be added before the old one is removed.
//
// A bearer token proves only that the sender knows it: nothing binds it to
// the body, and a captured request can be replayed or altered at will.
// Prefer a signing provider wherever the sender offers one, and serve the
// endpoint over TLS only. There is no timestamp and no delivery id, so
// Result is empty: no replay window and no dedupe.
func NewBearer() Verifier { return bearerVerifier{} }

// Verify implements Verifier.
func (bearerVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	token, err := authorizationCredentials(req.Header, "Bearer")
	if err != nil {
		return Result{}, err
	}
	usable := trimmedKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty token configured")
	}
	if !credentialMatchesAny([]byte(token), usable) {
		return Result{}, fail(ReasonSignatureMismatch, "the Bearer token matches none of %d tokens", len(usable))
	}
	return Result{}, nil
}
