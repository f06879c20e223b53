package verify

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzPaddleSignatureHeader feeds arbitrary Paddle-Signature values to the
// parser and checks, as for Stripe, that what it accepts is spelt in the
// header and that a header formatted from arbitrary MAC bytes round-trips
// beside arbitrary other well-formed elements.
func FuzzPaddleSignatureHeader(f *testing.F) {
	f.Add(paddleSDKSignature, []byte("seed"), int64(paddleSDKTimestamp), "h2=abc")
	f.Add("ts=1;h1="+strings.Repeat("A", 64)+";h1="+strings.Repeat("0", 64), []byte{}, int64(0), "")
	f.Add("", []byte{0}, int64(-1), "x")
	f.Add("ts=", []byte{1}, int64(1<<40), "ts=5")
	f.Add("ts=1;ts=2;h1=00", []byte{2}, int64(99), "=")
	f.Add("ts=1,h1=00", []byte{3}, int64(12), ";")
	f.Add("ts=1;h1=a=b", []byte{4}, int64(1), "k==v")
	f.Add("ts=1710929255000;h1="+strings.Repeat("f", 64), bytes.Repeat([]byte{0xff}, 40), int64(5), "h1=")
	f.Fuzz(func(t *testing.T, value string, raw []byte, sec int64, other string) {
		ps, err := parsePaddleSignature(value)
		if err == nil {
			if _, ok := parseUnixSeconds(ps.timestamp); !ok || !strings.Contains(value, "ts="+ps.timestamp) {
				t.Fatalf("%q: accepted timestamp %q", value, ps.timestamp)
			}
			if len(ps.signatures) == 0 {
				t.Fatalf("%q: success without signatures", value)
			}
			for _, s := range ps.signatures {
				if len(s) != 32 || !strings.Contains(strings.ToLower(value), "h1="+hex.EncodeToString(s)) {
					t.Fatalf("%q: signature %x not spelt in the header", value, s)
				}
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature && r != ReasonMissingSignature {
			t.Fatalf("%q: reason %q", value, r)
		}

		if sec < 0 {
			sec = -sec
		}
		sec %= 1e12
		want := sized(raw, 32)
		header := "ts=" + strconv.FormatInt(sec, 10) + ";h1=" + hex.EncodeToString(want)
		if k, v, ok := strings.Cut(other, "="); ok && k != "ts" && k != "h1" && !strings.Contains(other, ";") && !strings.Contains(v, "=") {
			header = other + ";" + header + ";" + other
		}
		got, err := parsePaddleSignature(header)
		if err != nil || len(got.signatures) != 1 || !bytes.Equal(got.signatures[0], want) || got.time.Unix() != sec {
			t.Fatalf("round trip of %q gave (%+v, %v)", header, got, err)
		}
	})
}

// FuzzPaddleVerify drives the Paddle verifier end to end: no panics, known
// reasons, and SignPaddle's output always verifies.
func FuzzPaddleVerify(f *testing.F) {
	f.Add(paddleSDKSignature, []byte(paddleSDKPayload), []byte(paddleSDKSecretKey), int64(paddleSDKTimestamp))
	f.Add("", []byte{}, []byte{}, int64(0))
	f.Add("ts=0;h1=00", []byte(`{"event_id":5}`), []byte("\t"), int64(-5))
	f.Fuzz(func(t *testing.T, header string, body, key []byte, sec int64) {
		v := NewPaddle(0)
		now := time.Unix(sec%1e12, 0)
		h := http.Header{}
		h.Set(PaddleSignatureHeader, header)
		_, err := v.Verify(&Request{Header: h, Body: body}, [][]byte{key}, now)
		switch ReasonOf(err) {
		case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch, ReasonTimestampOutOfRange, ReasonNoUsableKey:
		default:
			t.Fatalf("unknown reason in %v", err)
		}
		if len(bytes.TrimSpace(key)) == 0 || now.Unix() < 0 {
			return
		}
		h.Set(PaddleSignatureHeader, SignPaddle(now, body, key))
		if _, err := v.Verify(&Request{Header: h, Body: body}, [][]byte{key}, now); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
	})
}
