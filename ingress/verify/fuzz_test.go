package verify

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sized pads or truncates fuzzed bytes to a MAC of exactly n bytes.
func sized(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// FuzzGitHubSignatureHeader feeds arbitrary header values to the GitHub
// parser (both schemes) and checks that a signature formatted from arbitrary
// MAC bytes parses back to exactly those bytes, in either hex case.
func FuzzGitHubSignatureHeader(f *testing.F) {
	f.Add(githubDocSignature, []byte("seed"))
	f.Add(strings.ToUpper(githubDocSignature), []byte{})
	f.Add("sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", []byte{0xff})
	f.Add("", []byte{0})
	f.Add("sha256=", []byte{1, 2, 3})
	f.Add("sha256=zz", []byte("x"))
	f.Add("sha256= 757107ea", []byte("y"))
	f.Add("SHA256="+strings.Repeat("0", 64), bytes.Repeat([]byte{0xab}, 40))
	f.Add("sha256="+strings.Repeat("a", 65), []byte("odd"))
	f.Add("sha256=\xff\xfe", []byte("utf8"))
	f.Fuzz(func(t *testing.T, value string, raw []byte) {
		for _, scheme := range []githubScheme{githubSHA256, githubSHA1} {
			sig, err := parseGitHubSignature(value, scheme)
			if err == nil {
				if len(sig) != scheme.size {
					t.Fatalf("%s: accepted %d bytes", scheme.header, len(sig))
				}
				// Whatever was accepted must be the canonical text of
				// what was returned, up to case.
				v := strings.TrimSpace(value)
				if !hasPrefixFoldASCII(v, scheme.prefix) || strings.ToLower(v[len(scheme.prefix):]) != hex.EncodeToString(sig) {
					t.Fatalf("%s: %q parsed to %x", scheme.header, value, sig)
				}
			} else if r := ReasonOf(err); r != ReasonMalformedSignature {
				t.Fatalf("%s: reason %q, want MalformedSignature", scheme.header, r)
			}

			want := sized(raw, scheme.size)
			header := scheme.prefix + hex.EncodeToString(want)
			for _, h := range []string{header, strings.ToUpper(header)} {
				got, err := parseGitHubSignature(h, scheme)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s: round trip of %q gave (%x, %v)", scheme.header, h, got, err)
				}
			}
		}
	})
}

// FuzzStandardWebhooksSignatureHeader feeds arbitrary webhook-signature
// values to the list parser and checks that a valid v1 entry, placed among
// entries of other versions, is always found.
func FuzzStandardWebhooksSignatureHeader(f *testing.F) {
	f.Add(swVectorSignature, []byte("seed"), "v1a,abc")
	f.Add(swVectorSignature+" "+swRustSignature, []byte{}, "v2,x")
	f.Add("v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==", []byte{1}, "")
	f.Add("", []byte{0}, "")
	f.Add("v1,", []byte{2}, ",")
	f.Add(",,,,", []byte{3}, "v1")
	f.Add("v1,not*base64", []byte{4}, "garbage")
	f.Add("v1,AAAA v1,====", []byte{5}, "v1,,")
	f.Add("  \t v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\t", bytes.Repeat([]byte{0xff}, 64), "v1,\xff")
	f.Fuzz(func(t *testing.T, value string, raw []byte, other string) {
		sigs, err := parseStandardSignatures("webhook-signature", value)
		if err == nil {
			if len(sigs) == 0 {
				t.Fatal("success with no signatures")
			}
			for _, s := range sigs {
				if len(s) != sha256.Size {
					t.Fatalf("accepted %d-byte signature", len(s))
				}
				if !strings.Contains(value, formatStandardSignature(s)) {
					t.Fatalf("%q yielded a signature it does not contain", value)
				}
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature && r != ReasonMissingSignature {
			t.Fatalf("reason %q", r)
		}

		want := sized(raw, sha256.Size)
		entry := formatStandardSignature(want)
		// Surround the valid entry with the fuzzed one, which may be
		// anything except something that joins onto ours.
		header := entry
		if f := strings.Fields(other); len(f) > 0 {
			header = strings.Join(f, " ") + " " + entry + " " + strings.Join(f, " ")
		}
		got, err := parseStandardSignatures("webhook-signature", header)
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
	})
}

// FuzzGenericSignatureHeader feeds arbitrary values, prefixes, encodings and
// algorithms to the generic parser and checks the round trip of a formatted
// MAC.
func FuzzGenericSignatureHeader(f *testing.F) {
	f.Add("sha256="+rfcSHA256, "sha256=", false, uint8(1), []byte("seed"))
	f.Add(strings.ToUpper(rfcSHA512), "", false, uint8(2), []byte{})
	f.Add(rfcSHA1, "", false, uint8(0), []byte{1})
	f.Add("W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=", "", true, uint8(1), []byte{2})
	f.Add("W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM", "", true, uint8(1), []byte{3})
	f.Add("v0="+strings.TrimPrefix(slackDocSignature, "v0="), "v0=", false, uint8(1), []byte{4})
	f.Add("", "", true, uint8(0), []byte{5})
	f.Add("v1=", "v1=", true, uint8(2), []byte{6})
	f.Add("\xff\xfe", "\xff", false, uint8(7), []byte{7})
	f.Fuzz(func(t *testing.T, value, prefix string, b64 bool, alg uint8, raw []byte) {
		sizes := []int{sha1.Size, sha256.Size, sha512.Size}
		size := sizes[int(alg)%len(sizes)]
		enc := encodingHex
		if b64 {
			enc = encodingBase64
		}

		sig, err := parseGenericSignature("X-Signature", value, prefix, enc, size)
		if err == nil && len(sig) != size {
			t.Fatalf("accepted %d bytes, want %d", len(sig), size)
		}
		if err != nil && ReasonOf(err) != ReasonMalformedSignature {
			t.Fatalf("reason %q", ReasonOf(err))
		}

		// Header values never carry surrounding whitespace (net/http trims
		// it), so a prefix made of it cannot round-trip and is not one.
		if strings.TrimSpace(prefix) != prefix {
			return
		}
		want := sized(raw, size)
		header := prefix + encodeSignature(enc, want)
		got, err := parseGenericSignature("X-Signature", header, prefix, enc, size)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("round trip of %q (prefix %q, %s) gave (%x, %v)", header, prefix, enc, got, err)
		}
	})
}

// FuzzVerifiersDoNotPanic drives every verifier end to end with arbitrary
// header values, bodies and keys. It asserts only that nothing panics and
// that every refusal carries a known Reason.
func FuzzVerifiersDoNotPanic(f *testing.F) {
	f.Add(githubDocSignature, "msg_1", "1614265330", swVectorSignature, []byte(githubDocPayload), []byte(githubDocSecret), int64(1614265330))
	f.Add("", "", "", "", []byte{}, []byte{}, int64(0))
	f.Add("sha1=00", "\x00", "-1", "v1,", []byte{0xff}, []byte("whsec_"), int64(-1))
	f.Add("v0=zz", "id", "99999999999999999999", "v1a,x v1,y", []byte("{}"), []byte(swVectorSecret), int64(1<<62))
	generic, err := NewGenericHMAC(GenericHMACOptions{
		IDHeader:        "X-Id",
		TimestampHeader: "X-Ts",
		SignedContent:   "{id}:{timestamp}:{url}:{body}",
	})
	if err != nil {
		f.Fatal(err)
	}
	verifiers := []Verifier{NewGitHub(GitHubOptions{AllowSHA1: true}), NewStandardWebhooks(0), generic}
	f.Fuzz(func(t *testing.T, sig, id, ts, list string, body, key []byte, nowSec int64) {
		h := http.Header{}
		for _, name := range []string{"X-Hub-Signature-256", "X-Hub-Signature", "X-Signature"} {
			h.Set(name, sig)
		}
		for _, name := range []string{"webhook-id", "svix-id", "X-Id", "X-GitHub-Delivery"} {
			h.Set(name, id)
		}
		for _, name := range []string{"webhook-timestamp", "X-Ts"} {
			h.Set(name, ts)
		}
		h.Set("webhook-signature", list)
		r := &Request{Method: http.MethodPost, Header: h, Body: body}
		now := time.Unix(nowSec, 0)
		for _, v := range verifiers {
			_, err := v.Verify(r, [][]byte{key, nil, []byte(swVectorSecret)}, now)
			switch ReasonOf(err) {
			case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch,
				ReasonTimestampOutOfRange, ReasonNoUsableKey:
			default:
				t.Fatalf("unknown reason in %v", err)
			}
			var ve *Error
			if err != nil && !asError(err, &ve) {
				t.Fatalf("error %v is not a *verify.Error", err)
			}
		}
	})
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}
