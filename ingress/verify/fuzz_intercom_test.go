package verify

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzIntercomSignatureHeader feeds arbitrary X-Hub-Signature values and
// bodies to the Intercom parser, body reader and verifier, and checks that
// anything accepted is the canonical "sha1=<hex>" text of what was returned,
// that any MAC round-trips, that a delivery id only ever comes from valid
// JSON, and that SignIntercom's output always verifies.
func FuzzIntercomSignatureHeader(f *testing.F) {
	f.Add("sha1="+rfcSHA1, []byte(rfcData), []byte(rfcKey))
	f.Add("SHA1="+strings.ToUpper(rfcSHA1), []byte(intercomDocBody), []byte("k"))
	f.Add("sha256="+rfcSHA256, []byte(`{"id":"notif_1"}`), []byte("k"))
	f.Add("", []byte{}, []byte{})
	f.Add("sha1=", []byte(`{"id":1}`), []byte{0})
	f.Add("sha1=zz", []byte(`{"id":"\ud800"}`), []byte("k"))
	f.Add("sha1="+strings.Repeat("a", 41), []byte(`{"id":"a","id":"b"}`), []byte("k"))
	f.Fuzz(func(t *testing.T, value string, body, key []byte) {
		sig, err := parseIntercomSignature(value)
		if err == nil {
			v := strings.TrimSpace(value)
			if len(sig) != sha1.Size || !hasPrefixFoldASCII(v, intercomSignaturePrefix) ||
				strings.ToLower(v[len(intercomSignaturePrefix):]) != hex.EncodeToString(sig) {
				t.Fatalf("%q parsed to %x", value, sig)
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature {
			t.Fatalf("reason %q, want MalformedSignature", r)
		}

		want := sized(body, sha1.Size)
		formatted := intercomSignaturePrefix + hex.EncodeToString(want)
		if got, err := parseIntercomSignature(formatted); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("round trip of %q gave (%x, %v)", formatted, got, err)
		}

		if id := intercomNotificationID(body); id != "" && !json.Valid(body) {
			t.Fatalf("id %q from a body that is not JSON", id)
		}

		h := http.Header{}
		h.Set(IntercomSignatureHeader, value)
		res, err := NewIntercom().Verify(&Request{Header: h, Body: body}, [][]byte{key, nil}, time.Time{})
		assertKnownRefusal(t, res, err)

		if len(key) > 0 {
			h.Set(IntercomSignatureHeader, SignIntercom(body, key))
			res, err := NewIntercom().Verify(&Request{Header: h, Body: body}, [][]byte{key}, time.Time{})
			if err != nil || res.DeliveryID != intercomNotificationID(body) {
				t.Fatalf("own signature: (%+v, %v)", res, err)
			}
		}
	})
}
