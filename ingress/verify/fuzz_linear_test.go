package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzLinearSignatureHeader feeds arbitrary Linear-Signature values and
// bodies to the Linear parser, timestamp reader and verifier. It checks that
// anything accepted is the hex of what was returned, that any MAC
// round-trips, that a body timestamp is only ever read from valid JSON and
// stays within bounds, and that a body stamped with any millisecond count and
// signed by SignLinear verifies at that time.
func FuzzLinearSignatureHeader(f *testing.F) {
	f.Add(linearVecSignature, []byte(linearVecBody), []byte(linearVecSecret), int64(linearVecTimestamp))
	f.Add(strings.ToUpper(linearVecSignature), []byte(`{"webhookTimestamp":1e300}`), []byte{}, int64(0))
	f.Add("sha256="+linearVecSignature, []byte(`{"webhookTimestamp":"1"}`), []byte("k"), int64(-1))
	f.Add("", []byte{}, []byte{0}, int64(math.MaxInt64))
	f.Add("zz", []byte(`{"webhookTimestamp":-0.0000001}`), []byte("k"), int64(math.MinInt64))
	f.Add(linearVecSignature[:63], []byte(`{"webhookTimestamp":null,"webhookTimestamp":5}`), []byte("k"), int64(1))
	f.Fuzz(func(t *testing.T, value string, body, key []byte, nowMs int64) {
		sig, err := parseLinearSignature(value)
		if err == nil {
			if len(sig) != sha256.Size || strings.ToLower(strings.TrimSpace(value)) != hex.EncodeToString(sig) {
				t.Fatalf("%q parsed to %x", value, sig)
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature {
			t.Fatalf("reason %q, want MalformedSignature", r)
		}
		want := sized(body, sha256.Size)
		if got, err := parseLinearSignature(hex.EncodeToString(want)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("round trip gave (%x, %v)", got, err)
		}

		if ts, err := linearTimestamp(body); err == nil {
			if ms := ts.UnixMilli(); ms > linearMaxTimestampMillis || ms < -linearMaxTimestampMillis {
				t.Fatalf("timestamp %v out of bounds", ts)
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature && r != ReasonMissingSignature {
			t.Fatalf("timestamp reason %q", r)
		}

		now := time.UnixMilli(nowMs)
		h := http.Header{}
		h.Set(LinearSignatureHeader, value)
		h.Set(LinearDeliveryHeader, value)
		res, err := NewLinear(0).Verify(&Request{Header: h, Body: body}, [][]byte{key, nil}, now)
		assertKnownRefusal(t, res, err)

		if len(key) > 0 && nowMs > -linearMaxTimestampMillis && nowMs < linearMaxTimestampMillis {
			quoted, _ := json.Marshal(string(body)) // valid JSON whatever the bytes
			stamped := []byte(`{"raw":` + string(quoted) + `,"webhookTimestamp":` + strconv.FormatInt(nowMs, 10) + `}`)
			h.Set(LinearSignatureHeader, SignLinear(stamped, key))
			res, err := NewLinear(0).Verify(&Request{Header: h, Body: stamped}, [][]byte{key}, now)
			if err != nil || res.Timestamp.UnixMilli() != nowMs {
				t.Fatalf("own signature at its own time: (%+v, %v)", res, err)
			}
		}
	})
}
