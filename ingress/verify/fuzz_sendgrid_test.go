package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
)

// FuzzSendGridSignatureHeader feeds arbitrary values to the SendGrid
// signature parser and the whole verifier. Whatever the parser accepts must
// be canonical DER of positive r and s (so two encodings of one signature
// cannot both pass); any positive r and s of P-256 size must round-trip; the
// verifier must not panic or fail with an unknown reason.
func FuzzSendGridSignatureHeader(f *testing.F) {
	f.Add(sgGoVectorSignature, []byte{1}, []byte{2}, []byte(sgGoVectorPayload))
	f.Add(sgPyVectorSignature, bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte{0x80}, 32), []byte(sgPyVectorPayload))
	f.Add("", []byte{}, []byte{}, []byte{})
	f.Add("MAA=", []byte{0}, []byte{0}, []byte("\r\n"))
	f.Add("MAYCAQECAQEA", []byte{0x7f}, []byte{0x80}, []byte("x"))
	f.Add(strings.TrimRight(sgGoVectorSignature, "="), []byte("r"), []byte("s"), []byte("[]\r\n"))
	f.Add("not*base64", bytes.Repeat([]byte{1}, 40), []byte{1}, []byte{0xff})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	pub, err := SendGridPublicKey(&key.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	v := NewSendGrid(Options{PublicKeys: [][]byte{pub, []byte(sgGoVectorPublicKey)}})
	f.Fuzz(func(t *testing.T, value string, rb, sb, body []byte) {
		der, err := parseSendGridSignature(value)
		if err == nil {
			var sig ecdsaDERSignature
			if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 {
				t.Fatalf("%q accepted but not a DER signature", value)
			}
			again, err := asn1.Marshal(sig)
			if err != nil || !bytes.Equal(again, der) {
				t.Fatalf("%q accepted a non-canonical encoding", value)
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature {
			t.Fatalf("reason %q", r)
		}

		r := new(big.Int).SetBytes(sized(rb, 32))
		s := new(big.Int).SetBytes(sized(sb, 32))
		if r.Sign() > 0 && s.Sign() > 0 {
			enc, err := asn1.Marshal(ecdsaDERSignature{R: r, S: s})
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseSendGridSignature(base64.StdEncoding.EncodeToString(enc))
			if err != nil || !bytes.Equal(got, enc) {
				t.Fatalf("round trip of r=%x s=%x gave (%x, %v)", r, s, got, err)
			}
		}

		_, err = v.Verify(sgReq(string(body), value, "1588788367"), [][]byte{rb, sb}, unix(1588788367))
		switch ReasonOf(err) {
		case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch, ReasonTimestampOutOfRange, ReasonNoUsableKey:
		default:
			t.Fatalf("unknown reason in %v", err)
		}
	})
}
