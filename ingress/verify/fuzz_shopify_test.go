package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzShopifySignatureHeader feeds arbitrary X-Shopify-Hmac-Sha256 values to
// the Shopify parser and verifier, and checks that anything accepted is the
// standard base64 of what was returned (padding optional), that any MAC
// round-trips with and without padding, and that SignShopify's output always
// verifies.
func FuzzShopifySignatureHeader(f *testing.F) {
	f.Add(shopifyLibHMAC, []byte(shopifyLibBody), []byte(shopifyLibSecret))
	f.Add(strings.TrimRight(shopifyLibHMAC, "="), []byte{}, []byte{})
	f.Add("", []byte{0}, []byte{0})
	f.Add("====", []byte{1}, []byte("k"))
	f.Add("B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g", []byte{2}, []byte("k"))
	f.Add("B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7h=", []byte{3}, []byte("k"))
	f.Add("-_-_", []byte{4}, []byte("k"))
	f.Add(rfcSHA256, []byte(rfcData), []byte(rfcKey))
	f.Fuzz(func(t *testing.T, value string, body, key []byte) {
		sig, err := parseShopifySignature(value)
		if err == nil {
			// encoding/base64 skips CR and LF even in strict mode; net/http
			// never delivers them in a header, and the decoded bytes are what
			// is compared, so they are dropped before comparing text.
			v := strings.NewReplacer("\r", "", "\n", "").Replace(strings.TrimSpace(value))
			if len(sig) != sha256.Size || strings.TrimRight(v, "=") != base64.RawStdEncoding.EncodeToString(sig) {
				t.Fatalf("%q parsed to %x", value, sig)
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature {
			t.Fatalf("reason %q, want MalformedSignature", r)
		}

		want := sized(body, sha256.Size)
		for _, h := range []string{base64.StdEncoding.EncodeToString(want), base64.RawStdEncoding.EncodeToString(want)} {
			if got, err := parseShopifySignature(h); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round trip of %q gave (%x, %v)", h, got, err)
			}
		}

		h := http.Header{}
		h.Set(ShopifyHMACHeader, value)
		h.Set(ShopifyEventIDHeader, value)
		h.Set(ShopifyTopicHeader, string(key))
		res, err := NewShopify().Verify(&Request{Header: h, Body: body}, [][]byte{key, nil}, time.Time{})
		assertKnownRefusal(t, res, err)

		if len(key) > 0 {
			h.Set(ShopifyHMACHeader, SignShopify(body, key))
			if _, err := NewShopify().Verify(&Request{Header: h, Body: body}, [][]byte{key}, time.Time{}); err != nil {
				t.Fatalf("own signature refused: %v", err)
			}
		}
	})
}
