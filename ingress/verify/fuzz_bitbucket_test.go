package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzBitbucketSignatureHeader feeds arbitrary X-Hub-Signature values to the
// Bitbucket parser and verifier, and checks that anything accepted is the
// canonical "sha256=<hex>" text of what was returned, that any MAC formatted
// that way parses back in either case, and that SignBitbucket's output always
// verifies.
func FuzzBitbucketSignatureHeader(f *testing.F) {
	f.Add("sha256="+rfcSHA256, []byte(rfcData), []byte(rfcKey))
	f.Add(strings.ToUpper("sha256="+rfcSHA256), []byte{}, []byte{})
	f.Add("sha1="+rfcSHA1, []byte("x"), []byte("k"))
	f.Add("", []byte{0}, []byte{0})
	f.Add("sha256=", []byte{1}, []byte{})
	f.Add("sha256="+strings.Repeat("0", 63), []byte{2}, []byte("odd"))
	f.Add("sha256=\xff\xfe", []byte("utf8"), []byte("k"))
	f.Add(" sha256="+rfcSHA256+" ", bytes.Repeat([]byte{0xab}, 40), []byte("k"))
	f.Fuzz(func(t *testing.T, value string, body, key []byte) {
		sig, err := parseBitbucketSignature(value)
		if err == nil {
			v := strings.TrimSpace(value)
			if len(sig) != sha256.Size || !hasPrefixFoldASCII(v, bitbucketSignaturePrefix) ||
				strings.ToLower(v[len(bitbucketSignaturePrefix):]) != hex.EncodeToString(sig) {
				t.Fatalf("%q parsed to %x", value, sig)
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature {
			t.Fatalf("reason %q, want MalformedSignature", r)
		}

		want := sized(body, sha256.Size)
		for _, h := range []string{bitbucketSignaturePrefix + hex.EncodeToString(want), strings.ToUpper(bitbucketSignaturePrefix + hex.EncodeToString(want))} {
			if got, err := parseBitbucketSignature(h); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round trip of %q gave (%x, %v)", h, got, err)
			}
		}

		h := http.Header{}
		h.Set(BitbucketSignatureHeader, value)
		h.Set(BitbucketRequestUUIDHeader, value)
		res, err := NewBitbucket().Verify(&Request{Header: h, Body: body}, [][]byte{key, nil}, time.Time{})
		assertKnownRefusal(t, res, err)

		if len(key) > 0 {
			h.Set(BitbucketSignatureHeader, SignBitbucket(body, key))
			if _, err := NewBitbucket().Verify(&Request{Header: h, Body: body}, [][]byte{key}, time.Time{}); err != nil {
				t.Fatalf("own signature refused: %v", err)
			}
		}
	})
}
