package verify

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzMailgunSignatureBody feeds arbitrary bodies under arbitrary
// Content-Types to the body readers and the field parser. Nothing may
// panic, refusals carry parse reasons, and what is accepted is well formed:
// a digit-only timestamp, a token, 32-byte signatures. A JSON body carrying
// fields signed with SignMailgun must verify and yield its token.
func FuzzMailgunSignatureBody(f *testing.F) {
	f.Add("application/json", []byte(mailgunJSON("1767323045", "tok", strings.Repeat("ab", 32))), "tok", int64(1767323045), []byte("key"))
	f.Add("application/x-www-form-urlencoded", []byte(mailgunForm("1", "t", strings.Repeat("0", 64))), "t", int64(1), []byte("k"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"signature\"\r\n\r\nzz\r\n--b--\r\n"), "", int64(0), []byte{})
	f.Add("multipart/form-data", []byte("--"), "x", int64(-1), []byte(" "))
	f.Add("", []byte(`{"signature":{"timestamp":1e9,"token":null,"signature":5}}`), "\x00", int64(1<<40), []byte("\xff"))
	f.Add("text/plain;;", []byte("timestamp=1&timestamp=2&token=a&signature=b"), "é", int64(7), []byte("k"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte, token string, sec int64, key []byte) {
		fields, err := readMailgunSignature(contentType, body)
		if err == nil {
			var ms mailgunSignature
			ms, err = parseMailgunSignature(fields)
			if err == nil {
				if _, ok := parseUnixSeconds(ms.timestamp); !ok || ms.token == "" || len(ms.signatures) == 0 {
					t.Fatalf("accepted %+v", ms)
				}
				for _, s := range ms.signatures {
					if len(s) != 32 {
						t.Fatalf("accepted a %d-byte signature", len(s))
					}
				}
			}
		}
		if r := ReasonOf(err); err != nil && r != ReasonMalformedSignature && r != ReasonMissingSignature {
			t.Fatalf("reason %q", r)
		}

		if sec < 0 {
			sec = -sec
		}
		sec %= 1e12
		// json.Marshal replaces invalid UTF-8, which would change what was
		// signed; only tokens that survive it can round-trip.
		if token == "" || !utf8.ValidString(token) || len(bytes.TrimSpace(key)) == 0 {
			return
		}
		stamp := strconv.FormatInt(sec, 10)
		signed, err := json.Marshal(map[string]any{
			"signature":  map[string]string{"timestamp": stamp, "token": token, "signature": SignMailgun(stamp, token, key)},
			"event-data": map[string]string{"event": string(body)},
		})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(sec, 0)
		res, err := NewMailgun(0).Verify(req(string(signed), "Content-Type", "application/json"), [][]byte{key}, now)
		if err != nil || res.DeliveryID != token {
			t.Fatalf("own signature for token %q refused: %v (%+v)", token, err, res)
		}
	})
}
