package verify

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The examples of RFC 7617 section 2 ("Aladdin" / "open sesame") and
// section 2.1 ("test" / "123£" in UTF-8).
// https://www.rfc-editor.org/rfc/rfc7617#section-2
const (
	rfc7617Credentials     = "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
	rfc7617Pair            = "Aladdin:open sesame"
	rfc7617UTF8Credentials = "dGVzdDoxMjPCow=="
	rfc7617UTF8Pair        = "test:123\u00a3"
)

func basicReq(value string) *Request { return req("{}", "Authorization", value) }

func basicOf(pair string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(pair)) }

func TestBasicVerify(t *testing.T) {
	const current, previous = "hooks:correct horse battery staple", "hooks:old:password:with:colons"
	now := time.Now()
	runVerifyCases(t, NewBasic(), []verifyCase{
		{name: "the RFC 7617 example verifies", req: basicReq("Basic " + rfc7617Credentials), keys: keys(rfc7617Pair), now: now},
		{name: "the RFC 7617 UTF-8 example verifies", req: basicReq("Basic " + rfc7617UTF8Credentials), keys: keys(rfc7617UTF8Pair), now: now},
		{name: "the scheme is matched without regard to case", req: basicReq("BASIC " + rfc7617Credentials), keys: keys(rfc7617Pair), now: now},
		{name: "credentials without base64 padding verify", req: basicReq("Basic " + strings.TrimRight(rfc7617Credentials, "=")), keys: keys(rfc7617Pair), now: now},
		{name: "during rotation the second listed pair verifies, colons in the password and all", req: basicReq(basicOf(previous)), keys: keys(current, previous), now: now},
		{name: "a pair stored with a trailing newline verifies", req: basicReq(basicOf(current)), keys: keys(current + "\n"), now: now},
		{name: "an empty user with a password verifies when configured so", req: basicReq(basicOf(":only-a-password")), keys: keys(":only-a-password"), now: now},
		{name: "a key without a colon is skipped and the next one is tried", req: basicReq(basicOf(current)), keys: keys("not-a-pair", current), now: now},
		{name: "a wrong password is refused", req: basicReq(basicOf("hooks:wrong")), keys: keys(current), now: now, wantReason: ReasonSignatureMismatch},
		{name: "a wrong user is refused", req: basicReq(basicOf("admin:correct horse battery staple")), keys: keys(current), now: now, wantReason: ReasonSignatureMismatch},
		{name: "the user of one key with the password of another is refused", req: basicReq(basicOf("hooks:old:password:with:colons")), keys: keys(current, "other:old:password:with:colons"), now: now, wantReason: ReasonSignatureMismatch},
		{name: "the password alone is refused", req: basicReq(basicOf(":correct horse battery staple")), keys: keys(current), now: now, wantReason: ReasonSignatureMismatch},
		{name: "credentials that are not base64 are malformed", req: basicReq("Basic not*base64"), keys: keys(current), now: now, wantReason: ReasonMalformedSignature},
		{name: "credentials with non-canonical base64 padding bits are malformed", req: basicReq("Basic QWxhZGRpbjpvcGVuIHNlc2FtZR=="), keys: keys(rfc7617Pair), now: now, wantReason: ReasonMalformedSignature},
		{name: "credentials without a colon are malformed", req: basicReq(basicOf("hookspassword")), keys: keys(current), now: now, wantReason: ReasonMalformedSignature},
		{name: "credentials with a control character are malformed", req: basicReq(basicOf("hooks:pass\nword")), keys: keys("hooks:pass\nword"), now: now, wantReason: ReasonMalformedSignature},
		{name: "empty credentials are malformed", req: basicReq("Basic "), keys: keys(current), now: now, wantReason: ReasonMalformedSignature},
		{name: "a bearer token is not Basic credentials", req: basicReq("Bearer " + rfc7617Credentials), keys: keys(rfc7617Pair), now: now, wantReason: ReasonMissingSignature},
		{name: "a missing Authorization header is refused as missing", req: req("{}"), keys: keys(current), now: now, wantReason: ReasonMissingSignature},
		{name: "an Authorization header sent twice is malformed", req: req("{}", "Authorization", basicOf(current), "Authorization", basicOf(current)), keys: keys(current), now: now, wantReason: ReasonMalformedSignature},
		{name: "no key of the form user:password means nothing can be verified", req: basicReq(basicOf(current)), keys: keys("password-only", ""), now: now, wantReason: ReasonNoUsableKey},
		{name: "a nil request is refused without panicking", keys: keys(current), now: now, wantReason: ReasonMissingSignature},
	})
}

// TestBasicAgreesWithNetHTTP uses net/http's SetBasicAuth, the encoder every
// Go sender uses, as the reference for the header format.
func TestBasicAgreesWithNetHTTP(t *testing.T) {
	pairs := [][2]string{
		{"Aladdin", "open sesame"},
		{"user", "p@ss:w0rd:with:colons"},
		{"", "password-only"},
		{"user", ""},
		{"ünïcödé", "pässwörd"},
	}
	for _, p := range pairs {
		t.Run("SetBasicAuth("+p[0]+", ...) verifies", func(t *testing.T) {
			hr, err := http.NewRequest(http.MethodPost, "https://hooks.example.com/hook", nil)
			if err != nil {
				t.Fatal(err)
			}
			hr.SetBasicAuth(p[0], p[1])
			_, err = NewBasic().Verify(&Request{Header: hr.Header}, keys(p[0]+":"+p[1]), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			u, pw, ok := hr.BasicAuth()
			if !ok || u != p[0] || pw != p[1] {
				t.Fatalf("net/http reads back %q %q %v", u, pw, ok)
			}
		})
	}
}

func TestBasicErrorsNeverEchoTheCredentials(t *testing.T) {
	const pair = "hooks:secret-password-value"
	enc := base64.StdEncoding.EncodeToString([]byte(pair))
	for _, value := range []string{"Basic " + enc, "Basic " + enc + "x", "Basic " + enc[:len(enc)-4], "Bearer " + enc} {
		_, err := NewBasic().Verify(basicReq(value), keys("hooks:other-password-value"), time.Now())
		if err == nil {
			t.Fatalf("%q verified", value)
		}
		for _, s := range []string{"secret-password", "other-password", enc[:12]} {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("%q: error %q echoes credentials", value, err)
			}
		}
	}
}

func TestBasicViaRegistry(t *testing.T) {
	v, err := New("basic", Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(basicReq("Basic "+rfc7617Credentials), keys(rfc7617Pair), time.Now())
	if err != nil || res != (Result{}) {
		t.Fatalf("result %+v, err %v", res, err)
	}
}
