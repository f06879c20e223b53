package verify

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/url"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Fuzz targets for the parsers the provider table brought: the table-driven
// HMAC header (single and list form), the token scheme's credentials, and
// the Mandrill, Braintree and Travis forms. Each refuses with a known
// reason and no result, never panics, and always accepts its own signer's
// output for the fuzzed body.

func fuzzURL() *url.URL {
	u, _ := url.Parse("https://hooks.example.com/w/f?x=1")
	return u
}

// FuzzTableHMACSignatureHeader feeds arbitrary signature headers to every
// SchemeHMAC provider of the table.
func FuzzTableHMACSignatureHeader(f *testing.F) {
	f.Add("v1=00,v2=11", []byte(`{"id":"x"}`), []byte("k"))
	f.Add("sha256=", []byte{}, []byte{})
	f.Add(",,,v1=,", []byte{0}, []byte("k"))
	f.Add("sha256=====", []byte("{"), []byte("k"))
	f.Add("t=1700000000,v1=00,timestamp=1,signature=zz,t=2", []byte(`{}`), []byte("k"))
	f.Fuzz(func(t *testing.T, value string, body, key []byte) {
		for _, info := range hookv1.Providers {
			if info.Scheme != hookv1.SchemeHMAC {
				continue
			}
			v, err := New(string(info.Name), Options{})
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set(info.HMAC.Header, value)
			res, err := v.Verify(&Request{Header: h, Body: body}, [][]byte{key, nil}, time.Time{})
			assertKnownRefusal(t, res, err)
			if len(key) == 0 {
				continue
			}
			if info.Handshake.Kind == hookv1.HandshakeXCRC && !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
				continue // X events are JSON objects; anything else is refused unsigned
			}
			if info.Key.Format == hookv1.KeyFormatVerifyTokenSecret && (bytes.IndexByte(key, ':') >= 0 || len(bytes.TrimSpace(key)) == 0) {
				continue // the value would be read as "<verify token>:<secret>" (or no secret)
			}
			if info.HMAC.KeyEncoding == "base64" {
				if d, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(key))); err != nil || len(d) == 0 {
					continue // not a key such a provider hands out
				}
			}
			sent := time.Unix(1_700_000_000, 0)
			req, err := SignRequest(string(info.Name), Options{}, Delivery{Body: body, URL: fuzzURL(), Time: sent}, key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(req, [][]byte{key}, sent); err != nil {
				t.Fatalf("%s: own signature refused: %v", info.Name, err)
			}
		}
	})
}

// FuzzTokenCredentials feeds arbitrary Authorization values, query strings
// and methods to every SchemeToken provider.
func FuzzTokenCredentials(f *testing.F) {
	f.Add("Basic YTpi", "secret=a:b", "GET", "challenge", []byte("a:b"))
	f.Add("", "secret=&secret=", "POST", "", []byte{})
	f.Add("Basic !!!", "%zz", "GET", "", []byte("k"))
	f.Fuzz(func(t *testing.T, auth, query, method, challenge string, key []byte) {
		for _, info := range hookv1.Providers {
			if info.Scheme != hookv1.SchemeToken {
				continue
			}
			v, err := New(string(info.Name), Options{})
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set("Authorization", auth)
			h.Set(OktaChallengeHeader, challenge)
			res, err := v.Verify(&Request{Method: method, URL: &url.URL{Path: "/w", RawQuery: query}, Header: h}, [][]byte{key, nil}, time.Time{})
			if err == nil && res.Handshake != nil && method != http.MethodGet {
				t.Fatalf("%s: handshake answered for %s", info.Name, method)
			}
			if err != nil {
				assertKnownRefusal(t, res, err)
			}
		}
	})
}

// FuzzFormProviders feeds arbitrary bodies and signature headers to the
// Mandrill, Braintree and Travis verifiers.
func FuzzFormProviders(f *testing.F) {
	f.Add("c2ln", []byte("mandrill_events=%5B%5D"), []byte("k"))
	f.Add("pub|00", []byte("bt_signature=pub%7C00&bt_payload=QUJD"), []byte("pub:priv"))
	f.Add("", []byte("payload=%7B%7D&payload=1"), []byte{})
	f.Add("=", []byte("%"), []byte(":"))
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	travis := mustNewF(f, "travis", Options{PublicKeys: [][]byte{pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}})
	mandrill, braintree := mustNewF(f, "mandrill", Options{}), mustNewF(f, "braintree", Options{})
	f.Fuzz(func(t *testing.T, sig string, body, key []byte) {
		h := http.Header{}
		h.Set(MandrillSignatureHeader, sig)
		h.Set(TravisSignatureHeader, sig)
		r := &Request{URL: fuzzURL(), Header: h, Body: body}
		for _, v := range []Verifier{mandrill, braintree, travis} {
			res, err := v.Verify(r, [][]byte{key, nil}, time.Time{})
			if err != nil {
				assertKnownRefusal(t, res, err)
			}
		}
		if len(key) > 0 {
			fb, s, err := SignMandrill(fuzzURL(), body, key)
			if err == nil {
				h.Set(MandrillSignatureHeader, s)
				if _, err := mandrill.Verify(&Request{URL: fuzzURL(), Header: h, Body: fb}, [][]byte{key}, time.Time{}); err != nil && len(trimmedKeys([][]byte{key})) > 0 {
					t.Fatalf("own Mandrill signature refused: %v", err)
				}
			}
		}
		bk := append([]byte("pub:"), key...)
		if len(trimmedKeys([][]byte{key})) > 0 {
			if fb, err := SignBraintree(body, bk); err == nil {
				if _, err := braintree.Verify(&Request{Body: fb}, [][]byte{bk}, time.Time{}); err != nil {
					t.Fatalf("own Braintree signature refused: %v", err)
				}
			}
		}
	})
}

func mustNewF(f *testing.F, provider string, o Options) Verifier {
	v, err := New(provider, o)
	if err != nil {
		f.Fatal(err)
	}
	return v
}
