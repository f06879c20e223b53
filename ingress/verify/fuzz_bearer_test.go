package verify

import (
	"strings"
	"testing"
	"time"
)

// FuzzBearerAuthorization feeds arbitrary Authorization values to the bearer
// verifier and checks the parser's promises: an accepted credential is
// non-empty visible ASCII that ends the header after a case-insensitive
// "Bearer" and spaces; any such token round-trips and verifies against
// itself and against nothing else.
func FuzzBearerAuthorization(f *testing.F) {
	f.Add("Bearer "+rfc6750Token, rfc6750Token)
	f.Add("bearer   x", "x")
	f.Add("", "")
	f.Add("Bearer", "tok")
	f.Add("Bearer tok en", "tok en")
	f.Add("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "=")
	f.Add("Bearer\ttok", "\x00")
	f.Add("Bearer t\xc3\xb6k", "t\xc3\xb6k")
	v := NewBearer()
	f.Fuzz(func(t *testing.T, value, token string) {
		cred, err := parseAuthorization(value, "Bearer")
		if err == nil {
			tv := strings.TrimSpace(value)
			if cred == "" || !hasPrefixFoldASCII(tv, "Bearer ") || !strings.HasSuffix(tv, cred) ||
				strings.TrimLeft(tv[len("Bearer "):], " ") != cred {
				t.Fatalf("%q parsed to %q", value, cred)
			}
			for i := 0; i < len(cred); i++ {
				if cred[i] < 0x21 || cred[i] > 0x7e {
					t.Fatalf("%q accepted with byte %#x", value, cred[i])
				}
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature && r != ReasonMissingSignature {
			t.Fatalf("reason %q", r)
		}
		_, err = v.Verify(bearerReq(value), keys(token), time.Time{})
		switch ReasonOf(err) {
		case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch, ReasonNoUsableKey:
		default:
			t.Fatalf("unknown reason in %v", err)
		}
		if err == nil && cred != strings.TrimSpace(token) {
			t.Fatalf("%q verified against key %q", value, token)
		}

		// Keep the visible-ASCII bytes of token as a valid token.
		tok := strings.Map(func(r rune) rune {
			if r < 0x21 || r > 0x7e {
				return -1
			}
			return r
		}, token)
		if tok == "" {
			return
		}
		if _, err := v.Verify(bearerReq("Bearer "+tok), keys(tok), time.Time{}); err != nil {
			t.Fatalf("token %q refused: %v", tok, err)
		}
		if _, err := v.Verify(bearerReq("Bearer "+tok), keys(tok+"x", tok[1:]), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
			t.Fatalf("token %q against near misses: %v", tok, err)
		}
	})
}
