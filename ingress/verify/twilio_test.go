package verify

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	twilioclient "github.com/twilio/twilio-go/client"
)

// Twilio's worked example from "Webhooks security"
// (https://www.twilio.com/docs/usage/webhooks/webhooks-security, formerly
// https://www.twilio.com/docs/usage/security#validating-requests): auth token
// 12345, this URL and these POST parameters.
const (
	twilioDocToken     = "12345"
	twilioDocURL       = "https://mycompany.com/myapp.php?foo=1&bar=2"
	twilioDocBody      = "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212"
	twilioDocSignature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
)

// The vectors in twilio-go's client/request_validator_test.go (v1.31.0), made
// by Twilio's own SDK test suite with the same token.
const (
	twilioSDKURL       = "https://mycompany.com/myapp.php?foo=1&bar=2"
	twilioSDKBody      = "Digits=1234&CallSid=CA1234567890ABCDE&To=%2B18005551212&Caller=%2B14158675309&From=%2B14158675309&ReasonConferenceEnded=test&Reason=Participant"
	twilioSDKSignature = "vOEb5UThFn24KEfnOFLQY2AE5FY="
	twilioSDKHTTPSig   = "n2xBNyzSW7rfYStDtOFiFMv7qNo="
	twilioSDKJSONBody  = `{"property": "value", "boolean": true}`
	twilioSDKBodyHash  = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
	twilioSDKJSONSig   = "a9nBmqA0ju/hNViExpshrM61xv4="
	twilioSDKFormBody  = "property=value&boolean=true"
	twilioSDKFormSig   = "NBdBDr/T/lgjI+tlgpXjKZQZs/k="
	twilioSDKJSONOnly  = "y77kIzt2vzLz71DgmJGsen2scGs="
)

// twilioReq builds a request to rawURL. Header names are stored as given.
func twilioReq(t *testing.T, method, rawURL, body string, kv ...string) *Request {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = append(h[kv[i]], kv[i+1])
	}
	return &Request{Method: method, URL: u, Header: h, Body: []byte(body)}
}

// signTwilio signs rawURL and body with key, failing the test on error.
func signTwilio(t *testing.T, rawURL, body, key string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := SignTwilio(u, []byte(body), []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestTwilioVerify(t *testing.T) {
	const (
		current  = "0123456789abcdef0123456789abcdef"
		previous = "fedcba9876543210fedcba9876543210"
		hook     = "https://hooks.example.com/twilio/sms?tenant=a%20b"
		body     = "AccountSid=AC123&Body=Hello+world&From=%2B15551234567&MessageSid=SM123&To=%2B15557654321"
		token    = "idem-0f3b2c"
	)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sig := signTwilio(t, hook, body, current)
	jsonBody := `{"event":"call.completed","sid":"CA123"}`
	jsonSum := sha256.Sum256([]byte(jsonBody))
	jsonURL := hook + "&bodySHA256=" + hex.EncodeToString(jsonSum[:])
	jsonSig := signTwilio(t, jsonURL, jsonBody, current)

	runVerifyCases(t, NewTwilio(), []verifyCase{
		{
			name: "Twilio's documented example verifies",
			req:  twilioReq(t, http.MethodPost, twilioDocURL, twilioDocBody, "X-Twilio-Signature", twilioDocSignature),
			keys: keys(twilioDocToken),
			now:  now,
		},
		{
			name: "the documented example verifies with its parameters posted in any order",
			req:  twilioReq(t, http.MethodPost, twilioDocURL, "To=%2B18005551212&Digits=1234&CallSid=CA1234567890ABCDE&From=%2B12349013030&Caller=%2B12349013030", "X-Twilio-Signature", twilioDocSignature),
			keys: keys(twilioDocToken),
			now:  now,
		},
		{
			name:       "the documented example with one parameter changed is refused",
			req:        twilioReq(t, http.MethodPost, twilioDocURL, strings.Replace(twilioDocBody, "Digits=1234", "Digits=9999", 1), "X-Twilio-Signature", twilioDocSignature),
			keys:       keys(twilioDocToken),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the documented example with a changed query is refused",
			req:        twilioReq(t, http.MethodPost, strings.Replace(twilioDocURL, "bar=2", "bar=3", 1), twilioDocBody, "X-Twilio-Signature", twilioDocSignature),
			keys:       keys(twilioDocToken),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name: "twilio-go's form vector verifies",
			req:  twilioReq(t, http.MethodPost, twilioSDKURL, twilioSDKBody, "X-Twilio-Signature", twilioSDKSignature),
			keys: keys(twilioDocToken),
			now:  now,
		},
		{
			name: "twilio-go's vector for a URL signed without port verifies when the request names port 1234, as the SDK accepts it",
			req:  twilioReq(t, http.MethodPost, strings.Replace(twilioSDKURL, ".com", ".com:1234", 1), twilioSDKBody, "X-Twilio-Signature", twilioSDKSignature),
			keys: keys(twilioDocToken),
			now:  now,
		},
		{
			name: "twilio-go's http vector verifies",
			req:  twilioReq(t, http.MethodPost, strings.Replace(twilioSDKURL, "https", "http", 1), twilioSDKBody, "X-Twilio-Signature", twilioSDKHTTPSig),
			keys: keys(twilioDocToken),
			now:  now,
		},
		{
			name: "twilio-go's JSON vector, signed over the URL with bodySHA256, verifies",
			req:  twilioReq(t, http.MethodPost, twilioSDKURL+"&bodySHA256="+twilioSDKBodyHash, twilioSDKJSONBody, "X-Twilio-Signature", twilioSDKJSONSig),
			keys: keys(twilioDocToken),
			now:  now,
		},
		{
			name: "twilio-go's JSON vector with bodySHA256 as the only query parameter verifies",
			req:  twilioReq(t, http.MethodPost, "https://mycompany.com/myapp.php?bodySHA256="+twilioSDKBodyHash, twilioSDKJSONBody, "X-Twilio-Signature", twilioSDKJSONOnly),
			keys: keys(twilioDocToken),
			now:  now,
		},
		{
			name: "twilio-go's vector for a form body verifies",
			req:  twilioReq(t, http.MethodPost, twilioSDKURL, twilioSDKFormBody, "X-Twilio-Signature", twilioSDKFormSig),
			keys: keys(twilioDocToken),
			now:  now,
		},
		{
			name:   "a form post verifies and the idempotency token is the delivery id",
			req:    twilioReq(t, http.MethodPost, hook, body, "X-Twilio-Signature", sig, "I-Twilio-Idempotency-Token", token),
			keys:   keys(current),
			now:    now,
			wantID: token,
		},
		{
			name: "a GET, whose parameters are all in the signed URL, verifies",
			req:  twilioReq(t, http.MethodGet, hook+"&CallSid=CA1", "", "X-Twilio-Signature", signTwilio(t, hook+"&CallSid=CA1", "", current)),
			keys: keys(current),
			now:  now,
		},
		{
			name: "a request signed with the second of two tokens verifies",
			req:  twilioReq(t, http.MethodPost, hook, body, "X-Twilio-Signature", signTwilio(t, hook, body, previous)),
			keys: keys(current, previous),
			now:  now,
		},
		{
			name: "a signature made over the URL with :443 verifies for a request without a port",
			req:  twilioReq(t, http.MethodPost, hook, body, "X-Twilio-Signature", signTwilio(t, strings.Replace(hook, ".com/", ".com:443/", 1), body, current)),
			keys: keys(current),
			now:  now,
		},
		{
			name: "a signature made without a port verifies for a request to :443",
			req:  twilioReq(t, http.MethodPost, strings.Replace(hook, ".com/", ".com:443/", 1), body, "X-Twilio-Signature", sig),
			keys: keys(current),
			now:  now,
		},
		{
			name: "an http URL signed with :80 verifies without a port",
			req:  twilioReq(t, http.MethodPost, "http://hooks.example.com/t", body, "X-Twilio-Signature", signTwilio(t, "http://hooks.example.com:80/t", body, current)),
			keys: keys(current),
			now:  now,
		},
		{
			name: "an IPv6 host with a port is handled without mangling the address",
			req:  twilioReq(t, http.MethodPost, "https://[2001:db8::1]:8443/t", body, "X-Twilio-Signature", signTwilio(t, "https://[2001:db8::1]/t", body, current)),
			keys: keys(current),
			now:  now,
		},
		{
			name: "a JSON body bound by bodySHA256 verifies",
			req:  twilioReq(t, http.MethodPost, jsonURL, jsonBody, "X-Twilio-Signature", jsonSig),
			keys: keys(current),
			now:  now,
		},
		{
			name: "a parameter sent twice is signed with each distinct value in order, as twilio-node does",
			req: twilioReq(t, http.MethodPost, hook, "b=2&a=2&a=1&a=1", "X-Twilio-Signature",
				base64.StdEncoding.EncodeToString(mac(sha1.New, current, hook, "a1", "a2", "b2"))),
			keys: keys(current),
			now:  now,
		},
		{
			name:   "a token stored with a trailing newline still verifies",
			req:    twilioReq(t, http.MethodPost, hook, body, "X-Twilio-Signature", sig, "I-Twilio-Idempotency-Token", token),
			keys:   keys(current + "\n"),
			now:    now,
			wantID: token,
		},
		{
			name:       "a tampered form parameter is refused",
			req:        twilioReq(t, http.MethodPost, hook, strings.Replace(body, "Hello", "Hullo", 1), "X-Twilio-Signature", sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "an added form parameter is refused",
			req:        twilioReq(t, http.MethodPost, hook, body+"&Extra=1", "X-Twilio-Signature", sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a second value added to a signed parameter is refused",
			req:        twilioReq(t, http.MethodPost, hook, body+"&Body=Evil", "X-Twilio-Signature", sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a tampered JSON body is refused through its hash",
			req:        twilioReq(t, http.MethodPost, jsonURL, strings.Replace(jsonBody, "CA123", "CA124", 1), "X-Twilio-Signature", jsonSig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a JSON body sent to a URL without bodySHA256 is not covered and is refused",
			req:        twilioReq(t, http.MethodPost, hook, jsonBody, "X-Twilio-Signature", sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "an empty body for a URL with bodySHA256 does not match the hash",
			req:        twilioReq(t, http.MethodPost, jsonURL, "", "X-Twilio-Signature", jsonSig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a request to another path is refused",
			req:        twilioReq(t, http.MethodPost, strings.Replace(hook, "/sms", "/voice", 1), body, "X-Twilio-Signature", sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a request seen as http when Twilio called https is refused",
			req:        twilioReq(t, http.MethodPost, strings.Replace(hook, "https", "http", 1), body, "X-Twilio-Signature", sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature made with a wrong token is refused",
			req:        twilioReq(t, http.MethodPost, hook, body, "X-Twilio-Signature", signTwilio(t, hook, body, "not-the-token")),
			keys:       keys(current, previous),
			now:        now,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a request without X-Twilio-Signature is refused as missing",
			req:        twilioReq(t, http.MethodPost, hook, body),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a signature that is not base64 is malformed",
			req:        twilioReq(t, http.MethodPost, hook, body, "X-Twilio-Signature", "not*base64!"),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a SHA-256-sized signature is malformed",
			req:        twilioReq(t, http.MethodPost, hook, body, "X-Twilio-Signature", base64.StdEncoding.EncodeToString(make([]byte, 32))),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "X-Twilio-Signature sent twice is malformed",
			req:        twilioReq(t, http.MethodPost, hook, body, "X-Twilio-Signature", sig, "X-Twilio-Signature", sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a bodySHA256 that is not hex is malformed",
			req:        twilioReq(t, http.MethodPost, hook+"&bodySHA256=xyz", jsonBody, "X-Twilio-Signature", sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "two bodySHA256 parameters are malformed",
			req:        twilioReq(t, http.MethodPost, jsonURL+"&bodySHA256=00", jsonBody, "X-Twilio-Signature", jsonSig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a body that is not a form and has no bodySHA256 is malformed",
			req:        twilioReq(t, http.MethodPost, hook, "a=%zz", "X-Twilio-Signature", sig),
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a request with no URL cannot be verified",
			req:        &Request{Method: http.MethodPost, Header: http.Header{"X-Twilio-Signature": {sig}}, Body: []byte(body)},
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "no usable key leaves nothing to verify with",
			req:        twilioReq(t, http.MethodPost, hook, body, "X-Twilio-Signature", sig),
			keys:       keys("", "\n"),
			now:        now,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			keys:       keys(current),
			now:        now,
			wantReason: ReasonMissingSignature,
		},
	})
}

// TestTwilioAgreesWithTwilioGo holds this verifier and SignTwilio to
// twilio-go's RequestValidator.ValidateBody: what we sign it accepts, and
// what we refuse it refuses. twilio-go signs no timestamp, so no clock is
// involved.
func TestTwilioAgreesWithTwilioGo(t *testing.T) {
	const authToken = "9a7f3c1e5b2d4f6a8c0e2b4d6f8a0c2e"
	hook := "https://hooks.example.com/twilio?x=1"
	form := "AccountSid=AC1&Body=caf%C3%A9+%26+cr%C3%A8me&From=%2B15551234567&NumMedia=0&SmsStatus=received"
	jsonBody := `{"data":{"sid":"CA1"},"type":"com.twilio.voice.status-callback.call.completed"}`
	sum := sha256.Sum256([]byte(jsonBody))
	jsonHook := hook + "&bodySHA256=" + hex.EncodeToString(sum[:])

	formSig := signTwilio(t, hook, form, authToken)
	jsonSig := signTwilio(t, jsonHook, jsonBody, authToken)
	portSig := signTwilio(t, "https://hooks.example.com:443/twilio?x=1", form, authToken)

	cases := []struct {
		name       string
		url, body  string
		sig        string
		wantReason Reason
	}{
		{name: "a form post we signed is accepted by both", url: hook, body: form, sig: formSig},
		{name: "a JSON post we signed is accepted by both", url: jsonHook, body: jsonBody, sig: jsonSig},
		{name: "a signature over the :443 URL is accepted by both for the URL without port", url: hook, body: form, sig: portSig},
		{name: "the documented example is accepted by both", url: twilioDocURL, body: twilioDocBody, sig: signTwilio(t, twilioDocURL, twilioDocBody, authToken)},
		{name: "a changed form value is refused by both", url: hook, body: strings.Replace(form, "NumMedia=0", "NumMedia=1", 1), sig: formSig, wantReason: ReasonSignatureMismatch},
		{name: "a changed JSON body is refused by both", url: jsonHook, body: jsonBody + " ", sig: jsonSig, wantReason: ReasonSignatureMismatch},
		{name: "another URL is refused by both", url: "https://hooks.example.com/twilio?x=2", body: form, sig: formSig, wantReason: ReasonSignatureMismatch},
		{name: "a flipped signature character is refused by both", url: hook, body: form, sig: flipAt(formSig, 3), wantReason: ReasonSignatureMismatch},
	}
	validator := twilioclient.NewRequestValidator(authToken)
	v := NewTwilio()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := twilioReq(t, http.MethodPost, tc.url, tc.body, "X-Twilio-Signature", tc.sig)
			_, err := v.Verify(r, keys(authToken), time.Now())
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("here: err = %v, want reason %q", err, tc.wantReason)
			}
			if ok := validator.ValidateBody(tc.url, []byte(tc.body), tc.sig); ok != (tc.wantReason == "") {
				t.Fatalf("twilio-go ValidateBody = %v, want %v", ok, tc.wantReason == "")
			}
		})
	}
}

// TestTwilioGoVectorsAreWhatTheSDKAccepts guards the copied vectors: if
// they were mistyped here, the SDK would refuse them too.
func TestTwilioGoVectorsAreWhatTheSDKAccepts(t *testing.T) {
	validator := twilioclient.NewRequestValidator(twilioDocToken)
	for _, tc := range []struct{ url, body, sig string }{
		{twilioSDKURL, twilioSDKBody, twilioSDKSignature},
		{twilioSDKURL + "&bodySHA256=" + twilioSDKBodyHash, twilioSDKJSONBody, twilioSDKJSONSig},
		{twilioSDKURL, twilioSDKFormBody, twilioSDKFormSig},
		{twilioDocURL, twilioDocBody, twilioDocSignature},
	} {
		if !validator.ValidateBody(tc.url, []byte(tc.body), tc.sig) {
			t.Errorf("twilio-go refuses vector %s for %s", tc.sig, tc.url)
		}
	}
}

// twilio-python's vector for a repeated parameter
// (tests/unit/test_request_validator.py, duplicate_expected), made with
// twilioDocToken over twilioDocURL: Twilio's SDK maintainers sign each
// distinct value of a name once, sorted, which is what Twilio's servers do.
const (
	twilioPythonDuplicateBody = "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234"
	twilioPythonDuplicateSig  = "IK+Dwps556ElfBT0I3Rgjkr1wJU="
)

// TestTwilioRepeatedParametersAgainstTheSDKs is the cross-check for a name
// posted several times, where twilio-go and Twilio disagree: twilio-go
// signs only the first value of each name (client/request_validator.go,
// "validate with first value of each key"), twilio-python and twilio-node
// sign every distinct value in sorted order. We follow Twilio's servers
// (the python and node vectors); each row says what twilio-go makes of the
// same request, so a change on either side shows up here.
func TestTwilioRepeatedParametersAgainstTheSDKs(t *testing.T) {
	const token = "9a7f3c1e5b2d4f6a8c0e2b4d6f8a0c2e"
	hook := "https://hooks.example.com/twilio?x=1"
	single := "AccountSid=AC1&Body=Hello&From=%2B15551234567"
	singleSig := signTwilio(t, hook, single, token)
	cases := []struct {
		name          string
		token         string
		url, body     string
		sig           string
		here, twiliGo bool
	}{
		{name: "twilio-python's repeated-parameter vector verifies here; twilio-go, signing only the first value, refuses Twilio's own signature",
			token: twilioDocToken, url: twilioDocURL, body: twilioPythonDuplicateBody, sig: twilioPythonDuplicateSig, here: true, twiliGo: false},
		{name: "the same vector with the repeated values posted in another order verifies here, as it does for twilio-python",
			token: twilioDocToken, url: twilioDocURL, body: "Digits=1234&Sid=CA123&Digits=5678&SidAccount=AC123", sig: twilioPythonDuplicateSig, here: true, twiliGo: false},
		{name: "single-valued parameters verify in both",
			token: token, url: hook, body: single, sig: singleSig, here: true, twiliGo: true},
		{name: "a second value appended to a signed name is refused here; twilio-go accepts it, the value being unsigned",
			token: token, url: hook, body: single + "&Body=Evil", sig: singleSig, here: false, twiliGo: true},
		{name: "a second value posted before the signed one is refused by both",
			token: token, url: hook, body: "Body=Evil&" + single, sig: singleSig, here: false, twiliGo: false},
		{name: "a repeated value dropped from the vector is refused here",
			token: twilioDocToken, url: twilioDocURL, body: "Sid=CA123&SidAccount=AC123&Digits=1234", sig: twilioPythonDuplicateSig, here: false, twiliGo: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := twilioReq(t, http.MethodPost, tc.url, tc.body, "X-Twilio-Signature", tc.sig)
			_, err := NewTwilio().Verify(r, keys(tc.token), time.Now())
			if (err == nil) != tc.here {
				t.Errorf("here: err = %v, want verified %v", err, tc.here)
			}
			validator := twilioclient.NewRequestValidator(tc.token)
			if ok := validator.ValidateBody(tc.url, []byte(tc.body), tc.sig); ok != tc.twiliGo {
				t.Errorf("twilio-go ValidateBody = %v, want %v", ok, tc.twiliGo)
			}
		})
	}
}

// TestTwilioSignatureMalleability pins what someone who observed one
// signed Twilio form post can and cannot change while the signature stays
// valid. Twilio signs the URL followed by name+value of every pair, sorted,
// distinct, decoded and without separators; everything that keeps that
// string verifies, by design of the scheme, and docs/providers.md lists it.
func TestTwilioSignatureMalleability(t *testing.T) {
	const (
		token = "0123456789abcdef0123456789abcdef"
		hook  = "https://hooks.example.com/twilio/conversations?tenant=a"
		body  = "AccountSid=AC1&Body=Hello+world&From=%2B15551234567" +
			"&MessagingBinding.Address=%2B18330000000&MessagingBinding.Address=%2B18550000000&To=%2B15557654321"
		idem = "idem-1"
	)
	sig := signTwilio(t, hook, body, token)
	// still is a changed request that verifies; its unsigned idempotency
	// token id becomes the delivery id.
	still := func(name, url, body, id string) verifyCase {
		return verifyCase{name: name, req: twilioReq(t, http.MethodPost, url, body, "X-Twilio-Signature", sig, "I-Twilio-Idempotency-Token", id),
			keys: keys(token), wantID: id}
	}
	refused := func(name, url, body string) verifyCase {
		return verifyCase{name: name, req: twilioReq(t, http.MethodPost, url, body, "X-Twilio-Signature", sig),
			keys: keys(token), wantReason: ReasonSignatureMismatch}
	}
	const rest = "&MessagingBinding.Address=%2B18330000000&MessagingBinding.Address=%2B18550000000&To=%2B15557654321"
	cases := []verifyCase{
		// What the scheme lets through.
		still("the request replayed unchanged verifies, at any time", hook, body, idem),
		still("the pairs posted in another order verify", hook,
			"To=%2B15557654321&MessagingBinding.Address=%2B18550000000&Body=Hello+world&From=%2B15551234567&AccountSid=AC1&MessagingBinding.Address=%2B18330000000", idem),
		still("the values of a repeated name swapped verify", hook,
			"AccountSid=AC1&Body=Hello+world&From=%2B15551234567&MessagingBinding.Address=%2B18550000000&MessagingBinding.Address=%2B18330000000&To=%2B15557654321", idem),
		still("a pair posted twice verifies", hook, body+"&Body=Hello+world", idem),
		still("the same values encoded differently verify", hook,
			"%41ccountSid=AC1&Body=Hello%20world&From=%2B15551234567"+rest, idem),
		still("text moved from a value into its name verifies while the names keep their order", hook,
			"AccountSid=AC1&BodyHello=+world&From=%2B15551234567"+rest, idem),
		still("text moved across a pair boundary verifies while the names keep their order", hook,
			"AccountSid=AC1&Body=Hello+world&From=%2B15551234567"+
				"&MessagingBinding.Address=%2B18330000000&MessagingBinding.Address=%2B18550000000T&o=%2B15557654321", idem),
		still("the URL with the scheme's default port verifies", "https://hooks.example.com:443/twilio/conversations?tenant=a", body, idem),
		still("a new, unsigned idempotency token verifies and becomes the delivery id, so dedupe does not stop a replay", hook, body, "idem-attacker"),
		// What it does not.
		refused("a changed value is refused", hook, strings.Replace(body, "Hello", "Hullo", 1)),
		refused("an added pair is refused", hook, body+"&Extra=1"),
		refused("a removed pair is refused", hook, strings.Replace(body, "&From=%2B15551234567", "", 1)),
		refused("a new value for a signed name is refused", hook, body+"&Body=Evil"),
		refused("one value of a repeated name dropped is refused", hook, strings.Replace(body, "&MessagingBinding.Address=%2B18330000000", "", 1)),
		refused("values swapped between two names are refused", hook,
			"AccountSid=AC1&Body=Hello+world&From=%2B15557654321&MessagingBinding.Address=%2B18330000000&MessagingBinding.Address=%2B18550000000&To=%2B15551234567"),
		refused("text moved across a boundary so that the names sort differently is refused", hook,
			"AccountSid=AC1B&ody=Hello+world&From=%2B15551234567"+rest),
		refused("another query is refused", "https://hooks.example.com/twilio/conversations?tenant=b", body),
		refused("another path is refused", "https://hooks.example.com/twilio/voice?tenant=a", body),
		refused("another host is refused", "https://evil.example.com/twilio/conversations?tenant=a", body),
		refused("http instead of https is refused", "http://hooks.example.com/twilio/conversations?tenant=a", body),
	}
	runVerifyCases(t, NewTwilio(), cases)
}
