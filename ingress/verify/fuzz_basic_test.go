package verify

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzBasicAuthorization feeds arbitrary credentials to the Basic parser and
// verifier, checks them against net/http's own parser where both accept,
// and checks that any user (without a colon) and password (without control
// characters) encoded by net/http's SetBasicAuth verify.
func FuzzBasicAuthorization(f *testing.F) {
	f.Add("Basic "+rfc7617Credentials, "Aladdin", "open sesame")
	f.Add("Basic "+rfc7617UTF8Credentials, "test", "123\u00a3")
	f.Add("", "", "")
	f.Add("Basic", ":", "::")
	f.Add("Basic not*base64", "a\x00", "b\x7f")
	f.Add("basic "+strings.TrimRight(rfc7617Credentials, "="), " user", "pass ")
	f.Add("Basic Og==", "", "")
	v := NewBasic()
	f.Fuzz(func(t *testing.T, value, user, pass string) {
		_, err := v.Verify(basicReq(value), keys(user+":"+pass), time.Time{})
		switch ReasonOf(err) {
		case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch, ReasonNoUsableKey:
		default:
			t.Fatalf("unknown reason in %v", err)
		}

		cred, perr := parseAuthorization(value, "Basic")
		if perr == nil {
			pair, err := parseBasicCredentials(cred)
			if err == nil {
				if bytes.IndexByte(pair, ':') < 0 {
					t.Fatalf("%q accepted without a colon", value)
				}
				// Where net/http also reads the header, both must split it
				// the same way.
				hr := &http.Request{Header: http.Header{"Authorization": {value}}}
				if u, p, ok := hr.BasicAuth(); ok && u+":"+p != string(pair) {
					t.Fatalf("%q: net/http reads %q:%q, we read %q", value, u, p, pair)
				}
			} else if r := ReasonOf(err); r != ReasonMalformedSignature {
				t.Fatalf("reason %q", r)
			}
		}

		if strings.Contains(user, ":") || strings.TrimSpace(user+":"+pass) != user+":"+pass {
			return
		}
		for _, c := range []byte(user + pass) {
			if c < 0x20 || c == 0x7f {
				return
			}
		}
		hr, _ := http.NewRequest(http.MethodPost, "https://hooks.example.com/", nil)
		hr.SetBasicAuth(user, pass)
		if _, err := v.Verify(&Request{Header: hr.Header}, keys(user+":"+pass), time.Time{}); err != nil {
			t.Fatalf("SetBasicAuth(%q, %q) refused: %v", user, pass, err)
		}
		if _, err := v.Verify(&Request{Header: hr.Header}, keys(user+":"+pass+"x"), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
			t.Fatalf("SetBasicAuth(%q, %q) against a longer password: %v", user, pass, err)
		}
	})
}
