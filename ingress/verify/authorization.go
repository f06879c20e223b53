package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Helpers shared by the verifiers that compare a static credential from the
// Authorization header (bearer, basic) instead of checking a signature.

// AuthorizationHeader is the header the bearer and basic verifiers read.
const AuthorizationHeader = "Authorization"

// authorizationCredentials returns the credentials of the request's single
// Authorization header, which must use scheme.
func authorizationCredentials(h http.Header, scheme string) (string, error) {
	value, ok, err := singleHeader(h, AuthorizationHeader)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fail(ReasonMissingSignature, "%s is absent", AuthorizationHeader)
	}
	return parseAuthorization(value, scheme)
}

// parseAuthorization splits "<scheme> <credentials>" (RFC 9110 section 11.4).
// The scheme is matched without regard to case, as the RFC requires, and may
// be followed by several spaces. A header with another scheme holds no
// credentials of this one, so it counts as missing; credentials that are
// empty or contain anything but visible ASCII (which no token68 or token
// does) are malformed.
//
// Errors never repeat the value: it is the secret itself.
func parseAuthorization(value, scheme string) (string, error) {
	v := strings.TrimSpace(value)
	got, rest, _ := strings.Cut(v, " ")
	if len(got) != len(scheme) || !hasPrefixFoldASCII(got, scheme) {
		return "", fail(ReasonMissingSignature, "%s does not use the %s scheme", AuthorizationHeader, scheme)
	}
	cred := strings.TrimLeft(rest, " ")
	if cred == "" {
		return "", fail(ReasonMalformedSignature, "%s has an empty %s credential", AuthorizationHeader, scheme)
	}
	for i := 0; i < len(cred); i++ {
		if c := cred[i]; c < 0x21 || c > 0x7e {
			return "", fail(ReasonMalformedSignature, "%s %s credential contains a character outside visible ASCII", AuthorizationHeader, scheme)
		}
	}
	return cred, nil
}

// credentialMatchesAny reports whether presented equals any of candidates.
// Both sides are hashed first so that every comparison is of 32 bytes:
// subtle.ConstantTimeCompare returns at once on a length difference, which
// would tell a caller how long the configured secret is. Every candidate is
// compared, without an early return, so timing does not reveal which one
// matched either.
func credentialMatchesAny(presented []byte, candidates [][]byte) bool {
	p := sha256.Sum256(presented)
	match := 0
	for _, c := range candidates {
		d := sha256.Sum256(c)
		match |= subtle.ConstantTimeCompare(p[:], d[:])
	}
	return match == 1
}
