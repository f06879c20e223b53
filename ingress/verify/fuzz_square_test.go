package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzSquareSignatureHeader feeds arbitrary signature values, URLs and bodies
// to the Square parser, body reader and verifier. It checks that anything
// accepted is the standard base64 of what was returned, that any MAC
// round-trips, that an event id only ever comes from valid JSON, and that
// SignSquare's output for the URL as the receiver sees it always verifies,
// and never for another URL.
func FuzzSquareSignatureHeader(f *testing.F) {
	f.Add(squareSDKSig, squareSDKURL, []byte(squareSDKBody), []byte(squareSDKKey))
	f.Add(strings.TrimRight(squareSDKSig, "="), "https://h/p?q=1#frag", []byte{}, []byte{})
	f.Add("1z2n3DEJJiUPKcPzQo1ftvbxGdw=", "", []byte(`{"event_id":7}`), []byte("k"))
	f.Add("", "http://[::1]:80/%zz", []byte{0}, []byte{0})
	f.Add("====", "//no-scheme", []byte(`{"event_id":"a","event_id":"b"}`), []byte("k"))
	f.Add("not base64!", "https://h/a b", []byte(`{"event_id":"\u00e9"}`), []byte("k"))
	f.Fuzz(func(t *testing.T, value, rawURL string, body, key []byte) {
		sig, err := parseSquareSignature(value)
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
		if got, err := parseSquareSignature(base64.StdEncoding.EncodeToString(want)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("round trip gave (%x, %v)", got, err)
		}

		if id := squareEventID(body); id != "" && !json.Valid(bytes.TrimLeft(body, " \t\r\n")) {
			t.Fatalf("event id %q from a body that is not JSON", id)
		}

		u, uerr := url.Parse(rawURL)
		h := http.Header{}
		h.Set(SquareSignatureHeader, value)
		r := &Request{Header: h, Body: body}
		if uerr == nil {
			r.URL = u
		}
		res, err := NewSquare().Verify(r, [][]byte{key, nil}, time.Time{})
		assertKnownRefusal(t, res, err)

		if len(key) > 0 && uerr == nil {
			h.Set(SquareSignatureHeader, SignSquare(u.String(), body, key))
			res, err := NewSquare().Verify(r, [][]byte{key}, time.Time{})
			if err != nil || res.DeliveryID != squareEventID(body) {
				t.Fatalf("own signature for %q: (%+v, %v)", u.String(), res, err)
			}
			other := *u
			other.Path += "x"
			if other.String() == u.String() {
				return // an opaque URL ignores Path, so this is no other URL
			}
			if _, err := NewSquare().Verify(&Request{Header: h, URL: &other, Body: body}, [][]byte{key}, time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
				t.Fatalf("signature for %q accepted for %q: %v", u.String(), other.String(), err)
			}
		}
	})
}
