package verify

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The example token of RFC 6750 section 2.1.
// https://www.rfc-editor.org/rfc/rfc6750#section-2.1
const rfc6750Token = "mF_9.B5f-4.1JqM"

func bearerReq(value string) *Request { return req("{}", "Authorization", value) }

func TestBearerVerify(t *testing.T) {
	const current, previous = "tok_current_0123456789abcdef", "tok_previous_0123456789abcdef"
	now := time.Now()
	runVerifyCases(t, NewBearer(), []verifyCase{
		{name: "the RFC 6750 example token verifies", req: bearerReq("Bearer " + rfc6750Token), keys: keys(rfc6750Token), now: now},
		{name: "the scheme is matched without regard to case", req: bearerReq("bEARER " + current), keys: keys(current), now: now},
		{name: "several spaces after the scheme are allowed", req: bearerReq("Bearer   " + current), keys: keys(current), now: now},
		{name: "during rotation the second listed token verifies", req: bearerReq("Bearer " + previous), keys: keys(current, previous), now: now},
		{name: "a token stored with a trailing newline verifies", req: bearerReq("Bearer " + current), keys: keys(current + "\n"), now: now},
		{name: "a lower-case header name is found", req: req("{}", "authorization", "Bearer "+current), keys: keys(current), now: now},
		{name: "a wrong token is refused", req: bearerReq("Bearer " + current + "x"), keys: keys(current, previous), now: now, wantReason: ReasonSignatureMismatch},
		{name: "a prefix of the token is refused", req: bearerReq("Bearer " + current[:10]), keys: keys(current), now: now, wantReason: ReasonSignatureMismatch},
		{name: "the token in another case is refused", req: bearerReq("Bearer " + strings.ToUpper(current)), keys: keys(current), now: now, wantReason: ReasonSignatureMismatch},
		{name: "a missing Authorization header is refused as missing", req: req("{}"), keys: keys(current), now: now, wantReason: ReasonMissingSignature},
		{name: "Basic credentials are not a bearer token", req: bearerReq("Basic " + current), keys: keys(current), now: now, wantReason: ReasonMissingSignature},
		{name: "a bare token without the scheme is refused as missing", req: bearerReq(current), keys: keys(current), now: now, wantReason: ReasonMissingSignature},
		{name: "the scheme run into the token is refused as missing", req: bearerReq("Bearer" + current), keys: keys(current), now: now, wantReason: ReasonMissingSignature},
		{name: "the scheme alone is malformed", req: bearerReq("Bearer"), keys: keys(current), now: now, wantReason: ReasonMalformedSignature},
		{name: "a token with a space inside is malformed", req: bearerReq("Bearer tok en"), keys: keys("tok en"), now: now, wantReason: ReasonMalformedSignature},
		{name: "a token with non-ASCII bytes is malformed", req: bearerReq("Bearer t\xc3\xb6ken"), keys: keys("t\xc3\xb6ken"), now: now, wantReason: ReasonMalformedSignature},
		{name: "an Authorization header sent twice is malformed", req: req("{}", "Authorization", "Bearer "+current, "Authorization", "Bearer "+current), keys: keys(current), now: now, wantReason: ReasonMalformedSignature},
		{name: "only empty tokens configured means nothing can be verified", req: bearerReq("Bearer " + current), keys: keys("", " \n"), now: now, wantReason: ReasonNoUsableKey},
		{name: "no tokens configured means nothing can be verified", req: bearerReq("Bearer " + current), now: now, wantReason: ReasonNoUsableKey},
		{name: "a nil request is refused without panicking", keys: keys(current), now: now, wantReason: ReasonMissingSignature},
	})
}

// TestBearerErrorsNeverEchoTheToken covers what runVerifyCases cannot: the
// Authorization header has no "signature" in its name.
func TestBearerErrorsNeverEchoTheToken(t *testing.T) {
	const token = "tok_secret_value_0123456789"
	for _, value := range []string{"Bearer " + token, "Bearer " + token + " x", "Basic " + token, token, "Bearer " + token + "\x7f"} {
		_, err := NewBearer().Verify(bearerReq(value), keys("other_token_value"), time.Now())
		if err == nil || strings.Contains(err.Error(), "tok_secret") || strings.Contains(err.Error(), "other_token") {
			t.Fatalf("%q: err = %v", value, err)
		}
	}
}

func TestBearerViaRegistry(t *testing.T) {
	v, err := New("bearer", Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(AuthorizationHeader, "Bearer "+rfc6750Token)
	res, err := v.Verify(&Request{Header: h}, keys(rfc6750Token), time.Now())
	if err != nil || res != (Result{}) {
		t.Fatalf("result %+v, err %v", res, err)
	}
}

func TestCredentialMatchesAny(t *testing.T) {
	cases := []struct {
		name       string
		presented  string
		candidates []string
		want       bool
	}{
		{name: "an equal credential matches", presented: "abc", candidates: []string{"abc"}, want: true},
		{name: "a match in the last place is found", presented: "abc", candidates: []string{"x", "y", "abc"}, want: true},
		{name: "a longer credential does not match", presented: "abcd", candidates: []string{"abc"}},
		{name: "a shorter credential does not match", presented: "ab", candidates: []string{"abc"}},
		{name: "an empty credential does not match a non-empty one", presented: "", candidates: []string{"abc"}},
		{name: "nothing matches no candidates", presented: "abc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := credentialMatchesAny([]byte(tc.presented), keys(tc.candidates...)); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
