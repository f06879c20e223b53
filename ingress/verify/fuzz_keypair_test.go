package verify

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

func knownReason(t *testing.T, err error) {
	t.Helper()
	switch ReasonOf(err) {
	case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch, ReasonTimestampOutOfRange, ReasonNoUsableKey:
	default:
		t.Fatalf("unknown reason in %v", err)
	}
}

// FuzzJWTParse feeds arbitrary tokens to the parser and the verifier: no
// panic, known reasons only, a parsed token's alg is an accepted
// asymmetric one, and nothing but a token this test signed verifies.
func FuzzJWTParse(f *testing.F) {
	k := testECKey(f)
	pub, kid := jwkOf(f, k)
	now := time.Unix(1_750_000_000, 0).UTC()
	good, _ := signJWS(k, kid, map[string]any{"iss": "i", "aud": "a", "exp": now.Unix() + 60})
	f.Add(good)
	f.Add(rfc7515A3Token)
	f.Add(rfc8037A4Token)
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(strings.Repeat("a.", 3))
	f.Add("eyJhbGciOiJFUzI1NiIsImFsZyI6Im5vbmUifQ.e30.AA")
	info, _ := hookv1.LookupProvider("jwt")
	v, err := newJWTVerifier(info, &JWTOptions{Issuer: "i", Audiences: []string{"a"}, Keys: [][]byte{pub}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := parseJWT(token)
		if err == nil {
			if _, ok := jwsAlgs[tok.header.Alg]; !ok {
				t.Fatalf("parsed alg %q", tok.header.Alg)
			}
			_, _ = tok.registered()
		} else {
			knownReason(t, err)
		}
		res, err := v.Verify(bearerRequest(token), nil, now)
		knownReason(t, err)
		if err == nil && token != good && !strings.HasPrefix(token, strings.Split(good, ".")[0]+"."+strings.Split(good, ".")[1]+".") {
			t.Fatalf("a token this test did not sign verified: %q", token)
		}
		if err != nil && res.Handshake != nil {
			t.Fatal("a handshake with an error")
		}
	})
}

// FuzzJWKSParse feeds arbitrary key documents to parseKeySet: no panic,
// and every key it returns is of a type a JWS algorithm fits.
func FuzzJWKSParse(f *testing.F) {
	k := testECKey(f)
	pub, _ := jwkOf(f, k)
	f.Add(pub)
	f.Add([]byte(`{"keys":[` + string(pub) + `]}`))
	f.Add([]byte(rfc7515A3JWK))
	f.Add([]byte(rfc8037A4JWK))
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB"}`))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := parseKeySet(doc)
		if err != nil {
			return
		}
		if len(keys) == 0 || len(keys) > maxKeysPerSet {
			t.Fatalf("%d keys without an error", len(keys))
		}
		for _, key := range keys {
			fits := false
			for _, a := range JWTAlgorithms {
				fits = fits || keyFitsAlg(key.key, a)
			}
			if !fits {
				t.Fatalf("a key no algorithm fits: %T", key.key)
			}
		}
	})
}

// FuzzSNSMessage feeds arbitrary bodies to the SNS verifier with a pinned
// certificate: no panic, known reasons only, no fetch, and only a body this
// test signed verifies.
func FuzzSNSMessage(f *testing.F) {
	rk := testRSAKey(f)
	cert, err := selfSignedCert(rk, "sns.amazonaws.com")
	if err != nil {
		f.Fatal(err)
	}
	good, _ := SignSNS(map[string]string{"Type": "Notification", "MessageId": "m", "TopicArn": SNSTestTopicARN, "Message": "hi", "Timestamp": "2026-03-14T15:09:26.000Z"}, "2", rk)
	f.Add(good)
	f.Add([]byte(`{"Type":"SubscriptionConfirmation","TopicArn":"` + SNSTestTopicARN + `","Signature":"AA==","SignatureVersion":"1"}`))
	f.Add([]byte(`{"Type":"Notification","Type":"Other"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"MessageAttributes":{"a":{"Type":"String"}}}`))
	v, err := newSNS(&SNSOptions{TopicARNs: []string{SNSTestTopicARN}, Certificates: [][]byte{cert},
		Fetcher: &Fetcher{Client: &http.Client{Transport: failingTransport{}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if m, err := parseSNSMessage(body); err == nil {
			_, _ = snsCanonical(m)
		}
		res, err := v.Verify(snsRequest(body, ""), nil, snsNow)
		knownReason(t, err)
		if err == nil && !bytes.Equal(body, good) && res.Handshake == nil {
			// Re-encodings of the same members verify too (JSON whitespace,
			// escapes): the signed content must then be the same.
			m1, _ := parseSNSMessage(body)
			m2, _ := parseSNSMessage(good)
			c1, _ := snsCanonical(m1)
			c2, _ := snsCanonical(m2)
			if !bytes.Equal(c1, c2) {
				t.Fatalf("a body this test did not sign verified: %q", body)
			}
		}
	})
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	panic("the fuzzed verifier fetched a certificate")
}

// FuzzGraphNotification feeds arbitrary queries and bodies to the Graph
// verifier: no panic, known reasons, an echoed token is Graph token text,
// and a notification verifies only with the clientState.
func FuzzGraphNotification(f *testing.F) {
	f.Add("validationToken=abc", []byte(""))
	f.Add("", []byte(`{"value":[{"clientState":"s3cret"}]}`))
	f.Add("validationToken=%3Cb%3E", []byte(""))
	f.Add("a=%zz", []byte(`{"value":[{"clientState":null}]}`))
	v := graphVerifier{}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		u := &url.URL{Scheme: "https", Host: "h", Path: "/hook/x", RawQuery: query}
		res, err := v.Verify(&Request{Method: http.MethodPost, URL: u, Header: http.Header{}, Body: body}, [][]byte{[]byte("s3cret")}, time.Time{})
		knownReason(t, err)
		if err != nil {
			return
		}
		if res.Handshake != nil {
			if !graphTokenText(string(res.Handshake.Body)) {
				t.Fatalf("echoed %q", res.Handshake.Body)
			}
			return
		}
		if !bytes.Contains(body, []byte("s3cret")) && !bytes.Contains(body, []byte(`\u`)) {
			t.Fatalf("a notification without the clientState verified: %q", body)
		}
	})
}
