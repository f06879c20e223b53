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

// FuzzStripeSignatureHeader feeds arbitrary Stripe-Signature values to the
// parser. Whatever it accepts must be backed by the text (a digit-only
// timestamp, 32-byte signatures spelt in the header); whatever it refuses
// must carry a parse reason. A header formatted from arbitrary MAC bytes,
// with arbitrary other well-formed elements around it, must parse back to
// those bytes.
func FuzzStripeSignatureHeader(f *testing.F) {
	f.Add(stripeVectorHeader, []byte("seed"), int64(1700000000), "v0=abc")
	f.Add("t=1,v1="+strings.Repeat("A", 64)+",v1="+strings.Repeat("0", 64), []byte{}, int64(0), "")
	f.Add("", []byte{0}, int64(-1), "v2=x")
	f.Add("t=", []byte{1}, int64(1<<40), "t=5")
	f.Add("t=1,t=2,v1=00", []byte{2}, int64(99), "=")
	f.Add("v1=zz,t=12", []byte{3}, int64(12), ",")
	f.Add("t=1,v1=a=b", []byte{4}, int64(1), "k==v")
	f.Add("t=99999999999999999999,v1="+strings.Repeat("f", 64), bytes.Repeat([]byte{0xff}, 40), int64(5), "v1=")
	f.Add("t=1 ,v1= "+strings.Repeat("1", 64), []byte("space"), int64(7), " x=y")
	f.Fuzz(func(t *testing.T, value string, raw []byte, sec int64, other string) {
		sh, err := parseStripeSignature(value)
		if err == nil {
			if _, ok := parseUnixSeconds(sh.timestamp); !ok || !strings.Contains(value, "t="+sh.timestamp) {
				t.Fatalf("%q: accepted timestamp %q", value, sh.timestamp)
			}
			if len(sh.signatures) == 0 {
				t.Fatalf("%q: success without signatures", value)
			}
			for _, s := range sh.signatures {
				if len(s) != 32 || !strings.Contains(strings.ToLower(value), "v1="+hex.EncodeToString(s)) {
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
		header := "t=" + strconv.FormatInt(sec, 10) + ",v1=" + hex.EncodeToString(want)
		// Another element may sit beside ours if it is itself one
		// key=value pair that is neither a timestamp nor a v1.
		if k, v, ok := strings.Cut(other, "="); ok && k != "t" && k != "v1" && !strings.ContainsAny(other, ",") && !strings.Contains(v, "=") {
			header = other + "," + header + "," + other
		}
		got, err := parseStripeSignature(header)
		if err != nil || len(got.signatures) != 1 || !bytes.Equal(got.signatures[0], want) || got.time.Unix() != sec {
			t.Fatalf("round trip of %q gave (%+v, %v)", header, got, err)
		}
	})
}

// FuzzStripeVerify drives the Stripe verifier end to end with arbitrary
// input: nothing may panic, refusals carry known reasons, and a header made
// by SignStripe for the same inputs always verifies.
func FuzzStripeVerify(f *testing.F) {
	f.Add(stripeVectorHeader, []byte(stripeVectorPayload), []byte(stripeVectorSecret), int64(stripeVectorTimestamp))
	f.Add("", []byte{}, []byte{}, int64(0))
	f.Add("t=0,v1=00", []byte("{\"id\":1}"), []byte(" "), int64(-5))
	f.Fuzz(func(t *testing.T, header string, body, key []byte, sec int64) {
		v := NewStripe(0)
		now := time.Unix(sec%1e12, 0)
		h := http.Header{}
		h.Set(StripeSignatureHeader, header)
		_, err := v.Verify(&Request{Header: h, Body: body}, [][]byte{key}, now)
		switch ReasonOf(err) {
		case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch, ReasonTimestampOutOfRange, ReasonNoUsableKey:
		default:
			t.Fatalf("unknown reason in %v", err)
		}
		if len(bytes.TrimSpace(key)) == 0 || now.Unix() < 0 {
			return
		}
		h.Set(StripeSignatureHeader, SignStripe(now, body, key))
		if _, err := v.Verify(&Request{Header: h, Body: body}, [][]byte{key}, now); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
	})
}
