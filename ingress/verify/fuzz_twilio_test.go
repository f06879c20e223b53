package verify

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzTwilioParams feeds arbitrary URLs and bodies to the code that decides
// what Twilio signed. It checks that nothing panics, that refusals carry
// parse or mismatch reasons, that the signed parameters do not depend on the
// order the pairs were posted in, and that every URL variant differs from
// the received URL at most in its port.
func FuzzTwilioParams(f *testing.F) {
	f.Add(twilioDocURL, twilioDocBody)
	f.Add(twilioSDKURL+"&bodySHA256="+twilioSDKBodyHash, twilioSDKJSONBody)
	f.Add("https://h.example.com:443/p?bodySHA256=zz&bodySHA256=00", "")
	f.Add("http://[2001:db8::1]:80/x", "a=1&a=2&a=1&b=&=c")
	f.Add("https://h/x?%zz", "a=%zz")
	f.Add("weird://h", "a;b=c")
	f.Add("https://h:/p", "x=+%2B+")
	f.Add("//:0//", "")
	f.Add("//::0", "0")
	f.Fuzz(func(t *testing.T, rawURL, body string) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return
		}
		variants := twilioURLVariants(u)
		if len(variants) == 0 || variants[0] != u.String() {
			t.Fatalf("%q: first variant %q is not the URL as received", rawURL, variants)
		}
		for _, s := range variants[1:] {
			w, err := url.Parse(s)
			if err != nil {
				t.Fatalf("%q: variant %q does not parse: %v", rawURL, s, err)
			}
			if w.Hostname() != u.Hostname() || w.EscapedPath() != u.EscapedPath() || w.RawQuery != u.RawQuery || w.Scheme != u.Scheme {
				t.Fatalf("%q: variant %q differs in more than the port", rawURL, s)
			}
		}

		content, err := twilioSignedContent(u, []byte(body))
		if err != nil {
			if r := ReasonOf(err); r != ReasonMalformedSignature && r != ReasonSignatureMismatch {
				t.Fatalf("reason %q", r)
			}
			return
		}
		// Reversing the posted pairs must not change what is signed.
		pairs := strings.Split(body, "&")
		for i, j := 0, len(pairs)-1; i < j; i, j = i+1, j-1 {
			pairs[i], pairs[j] = pairs[j], pairs[i]
		}
		again, err := twilioSignedContent(u, []byte(strings.Join(pairs, "&")))
		if err != nil || strings.Join(again.params, "\x00") != strings.Join(content.params, "\x00") {
			t.Fatalf("%q: reordering the pairs changed the signed content (%v)", body, err)
		}
	})
}

// FuzzTwilioVerify drives the Twilio verifier end to end: no panics, known
// reasons, and whatever SignTwilio signs verifies.
func FuzzTwilioVerify(f *testing.F) {
	f.Add(twilioDocURL, twilioDocBody, twilioDocSignature, []byte(twilioDocToken))
	f.Add("https://h/x", "", "", []byte{})
	f.Add("https://h:8443/x?bodySHA256=00", "{}", "AAAA", []byte(" k "))
	f.Fuzz(func(t *testing.T, rawURL, body, sig string, key []byte) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return
		}
		h := http.Header{}
		h.Set(TwilioSignatureHeader, sig)
		r := &Request{Method: http.MethodPost, URL: u, Header: h, Body: []byte(body)}
		v := NewTwilio()
		_, err = v.Verify(r, [][]byte{key}, time.Time{})
		switch ReasonOf(err) {
		case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch, ReasonNoUsableKey:
		default:
			t.Fatalf("unknown reason in %v", err)
		}
		own, err := SignTwilio(u, []byte(body), key)
		if err != nil || len(bytes.TrimSpace(key)) == 0 {
			return
		}
		h.Set(TwilioSignatureHeader, own)
		if _, err := v.Verify(r, [][]byte{key}, time.Time{}); err != nil {
			t.Fatalf("own signature for %q refused: %v", rawURL, err)
		}
	})
}
