package verify

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
)

// FuzzStandardWebhooksAsymmetricSignatureHeader feeds arbitrary
// webhook-signature values to the v1a list parser and checks that a valid
// v1a entry, placed among arbitrary other entries, is always found.
func FuzzStandardWebhooksAsymmetricSignatureHeader(f *testing.F) {
	f.Add(swSpecV1a, []byte("seed"), "v1,abc")
	f.Add("v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= "+swSpecV1a, []byte{}, "v2,x")
	f.Add(swVectorSignature, []byte{1}, "")
	f.Add("", []byte{0}, "")
	f.Add("v1a,", []byte{2}, ",")
	f.Add("v1a,not*base64", []byte{3}, "garbage")
	f.Add("v1a,AAAA v1a,====", []byte{4}, "v1a,,")
	f.Add("\tv1a,"+strings.Repeat("A", 86)+"==\t", bytes.Repeat([]byte{0xff}, 64), "v1a,\xff")
	f.Fuzz(func(t *testing.T, value string, raw []byte, other string) {
		sigs, err := parseStandardAsymmetricSignatures("webhook-signature", value)
		if err == nil {
			if len(sigs) == 0 {
				t.Fatal("success with no signatures")
			}
			for _, s := range sigs {
				if len(s) != ed25519.SignatureSize {
					t.Fatalf("accepted %d-byte signature", len(s))
				}
				if !strings.Contains(value, formatStandardAsymmetricSignature(s)) {
					t.Fatalf("%q yielded a signature it does not contain", value)
				}
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature && r != ReasonMissingSignature {
			t.Fatalf("reason %q", r)
		}

		want := sized(raw, ed25519.SignatureSize)
		entry := formatStandardAsymmetricSignature(want)
		header := entry
		if fields := strings.Fields(other); len(fields) > 0 {
			header = strings.Join(fields, " ") + " " + entry + " " + strings.Join(fields, " ")
		}
		got, err := parseStandardAsymmetricSignatures("webhook-signature", header)
		if err != nil {
			t.Fatalf("round trip of %q: %v", header, err)
		}
		found := false
		for _, s := range got {
			found = found || bytes.Equal(s, want)
		}
		if !found {
			t.Fatalf("round trip of %q lost the signature", header)
		}
		// The symmetric parser must never take a v1a entry for its own.
		if v1, err := parseStandardSignatures("webhook-signature", entry); err == nil {
			t.Fatalf("v1 parser accepted %q as %x", entry, v1)
		}
	})
}
