package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzZoomSignatureHeader feeds arbitrary x-zm-signature values to the
// parser and checks that what it accepts is the canonical text of the MAC
// it returns, up to case, and that formatted MACs round-trip.
func FuzzZoomSignatureHeader(f *testing.F) {
	f.Add("v0="+strings.Repeat("ab", 32), []byte("seed"))
	f.Add("V0="+strings.Repeat("AB", 32), []byte{})
	f.Add("", []byte{0})
	f.Add("v0=", []byte{1})
	f.Add("v1="+strings.Repeat("0", 64), []byte{2})
	f.Add("v0="+strings.Repeat("0", 63), []byte{3})
	f.Add("v0=\xff\xfe", []byte{4})
	f.Fuzz(func(t *testing.T, value string, raw []byte) {
		sig, err := parseZoomSignature(value)
		if err == nil {
			v := strings.TrimSpace(value)
			if len(sig) != sha256.Size || !hasPrefixFoldASCII(v, "v0=") || strings.ToLower(v[3:]) != hex.EncodeToString(sig) {
				t.Fatalf("%q parsed to %x", value, sig)
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature {
			t.Fatalf("%q: reason %q", value, r)
		}
		want := sized(raw, sha256.Size)
		got, err := parseZoomSignature("v0=" + hex.EncodeToString(want))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("round trip of %x gave (%x, %v)", want, got, err)
		}
	})
}

// FuzzZoomHandshake feeds arbitrary verified bodies to the validation
// answer. Only endpoint.url_validation bodies get an answer; a 200 answer
// is JSON echoing the plainToken with its HMAC under the key; nothing
// panics.
func FuzzZoomHandshake(f *testing.F) {
	f.Add([]byte(`{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}`), []byte("secret"))
	f.Add([]byte(`{"event":"endpoint.url_validation","payload":{"plainToken":5}}`), []byte("k"))
	f.Add([]byte(`{"event":"endpoint.url_validation","payload":[]}`), []byte{})
	f.Add([]byte(`{"event":"meeting.started"}`), []byte("k"))
	f.Add([]byte(`{"event":"endpoint.url_validation","payload":{"plainToken":"<\u2028\"&>"}}`), []byte("k"))
	f.Add([]byte("\xff"), []byte("k"))
	f.Fuzz(func(t *testing.T, body, key []byte) {
		hs := zoomHandshake(body, key)
		var probe struct {
			Event string `json:"event"`
		}
		isValidation := json.Unmarshal(body, &probe) == nil && probe.Event == zoomURLValidationEvent
		if (hs != nil) != isValidation {
			t.Fatalf("%q: handshake %v for a body that is validation=%v", body, hs, isValidation)
		}
		if hs == nil || hs.Status != 200 {
			return
		}
		var in struct {
			Payload struct {
				PlainToken string `json:"plainToken"`
			} `json:"payload"`
		}
		var out struct {
			PlainToken     string `json:"plainToken"`
			EncryptedToken string `json:"encryptedToken"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(hs.Body, &out); err != nil {
			t.Fatalf("answer %q is not JSON: %v", hs.Body, err)
		}
		if out.PlainToken != in.Payload.PlainToken || out.EncryptedToken != hex.EncodeToString(mac(sha256.New, string(key), in.Payload.PlainToken)) {
			t.Fatalf("answer %q does not match %q", hs.Body, body)
		}
	})
}

// FuzzZoomVerify drives the Zoom verifier end to end: no panics, known
// reasons, and ZoomHeaders' output always verifies.
func FuzzZoomVerify(f *testing.F) {
	f.Add("v0="+strings.Repeat("ab", 32), "1767323045", []byte(`{"event":"x"}`), []byte("k"), int64(1767323045))
	f.Add("", "", []byte{}, []byte{}, int64(0))
	f.Add("v0=zz", "-1", []byte(`{"event":"endpoint.url_validation","payload":{"plainToken":"p"}}`), []byte(" "), int64(-3))
	f.Fuzz(func(t *testing.T, sig, ts string, body, key []byte, sec int64) {
		v := NewZoom(0)
		now := time.Unix(sec%1e12, 0)
		r := req(string(body), "x-zm-signature", sig, "x-zm-request-timestamp", ts)
		_, err := v.Verify(r, [][]byte{key}, now)
		switch ReasonOf(err) {
		case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch, ReasonTimestampOutOfRange, ReasonNoUsableKey:
		default:
			t.Fatalf("unknown reason in %v", err)
		}
		if len(bytes.TrimSpace(key)) == 0 || now.Unix() < 0 {
			return
		}
		r.Header = ZoomHeaders(now, body, key)
		if _, err := v.Verify(r, [][]byte{key}, now); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
	})
}
