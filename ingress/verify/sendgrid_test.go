package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
)

// The vector published with the official Go SDK
// (sendgrid-go helpers/eventwebhook/eventwebhook_test.go; the same values are
// in sendgrid-nodejs packages/eventwebhook/src/eventwebhook.spec.js). The
// payload is json.Marshal of a map, so its keys are sorted.
// https://github.com/sendgrid/sendgrid-go/blob/main/helpers/eventwebhook/eventwebhook_test.go
const (
	sgGoVectorPublicKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
	sgGoVectorSignature = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
	sgGoVectorTimestamp = 1588788367
	sgGoVectorPayload   = `{"category":"example_payload","event":"test_event","message_id":"message_id"}`
	// The SDKs' "bad signature" case: one character changed, still DER.
	sgGoVectorBadSignature = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0="
	// The SDKs' "bad key" case: a valid P-256 key that did not sign.
	sgVectorOtherKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA=="
)

// The vector published with the official Python SDK
// (sendgrid-python test/unit/test_eventwebhook.py). Its payload is a real
// event batch as SendGrid sends it: compact JSON with sorted keys, ending in
// CRLF ("Be sure to include the trailing carriage return and newline!").
// https://github.com/sendgrid/sendgrid-python/blob/main/test/unit/test_eventwebhook.py
const (
	sgPyVectorPublicKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
	sgPyVectorSignature = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
	sgPyVectorTimestamp = 1600112502
	sgPyVectorPayload   = `[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]` + "\r\n"
)

// sgReq builds a signed event webhook request.
func sgReq(body, sig, ts string) *Request {
	return req(body, "X-Twilio-Email-Event-Webhook-Signature", sig, "X-Twilio-Email-Event-Webhook-Timestamp", ts)
}

// testECDSAKey generates a P-256 key pair.
func testECDSAKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sgPublicKey is the key as the SendGrid UI shows it.
func sgPublicKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := SendGridPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sgSign(t *testing.T, k *ecdsa.PrivateKey, ts time.Time, body string) string {
	t.Helper()
	s, err := SignSendGrid(k, ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// derSignature encodes r and s by hand, for signatures of unusual shape.
func derSignature(t *testing.T, r, s *big.Int, trailing ...byte) string {
	t.Helper()
	der, err := asn1.Marshal(ecdsaDERSignature{R: r, S: s})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(append(der, trailing...))
}

func TestSendGridVerify(t *testing.T) {
	goTS, pyTS := unix(sgGoVectorTimestamp), unix(sgPyVectorTimestamp)
	goTSs, pyTSs := strconv.Itoa(sgGoVectorTimestamp), strconv.Itoa(sgPyVectorTimestamp)

	current, next := testECDSAKey(t), testECDSAKey(t)
	sent := unix(1700000000)
	ts := strconv.FormatInt(sent.Unix(), 10)
	const body = "[{\"email\":\"a@example.com\",\"event\":\"processed\",\"sg_event_id\":\"e1\"},\r\n{\"email\":\"b@example.com\",\"event\":\"delivered\",\"sg_event_id\":\"e2\"}]\r\n"
	sig := sgSign(t, current, sent, body)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustDecodeBase64(t, string(sgPublicKey(t, current)))})

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	edDER, _ := x509.MarshalPKIXPublicKey(testEd25519Key("not ecdsa").Public())

	runVerifyCases(t, NewSendGrid(Options{}), []verifyCase{
		{
			name:   "the Go and Node SDKs' published vector verifies",
			req:    sgReq(sgGoVectorPayload, sgGoVectorSignature, goTSs),
			keys:   keys(sgGoVectorPublicKey),
			now:    goTS,
			wantTS: goTS,
		},
		{
			name:   "the Python SDK's published vector, a real CRLF-terminated batch, verifies",
			req:    sgReq(sgPyVectorPayload, sgPyVectorSignature, pyTSs),
			keys:   keys(sgPyVectorPublicKey),
			now:    pyTS,
			wantTS: pyTS,
		},
		{
			name:       "the Python vector without its trailing CRLF (a re-serialised body) is refused",
			req:        sgReq(strings.TrimSuffix(sgPyVectorPayload, "\r\n"), sgPyVectorSignature, pyTSs),
			keys:       keys(sgPyVectorPublicKey),
			now:        pyTS,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the published vector with the SDKs' altered signature is refused",
			req:        sgReq(sgGoVectorPayload, sgGoVectorBadSignature, goTSs),
			keys:       keys(sgGoVectorPublicKey),
			now:        goTS,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the published vector under the SDKs' other key is refused",
			req:        sgReq(sgGoVectorPayload, sgGoVectorSignature, goTSs),
			keys:       keys(sgVectorOtherKey),
			now:        goTS,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the published vector with the payload the SDKs call bad is refused",
			req:        sgReq("payload", sgGoVectorSignature, goTSs),
			keys:       keys(sgGoVectorPublicKey),
			now:        goTS,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "the published vector is refused today because its timestamp is years old",
			req:        sgReq(sgGoVectorPayload, sgGoVectorSignature, goTSs),
			keys:       keys(sgGoVectorPublicKey),
			now:        time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:   "a batch signed with a generated key verifies",
			req:    sgReq(body, sig, ts),
			keys:   [][]byte{sgPublicKey(t, current)},
			now:    sent,
			wantTS: sent,
		},
		{
			name:   "the key given as PEM verifies",
			req:    sgReq(body, sig, ts),
			keys:   [][]byte{pemKey},
			now:    sent,
			wantTS: sent,
		},
		{
			name:   "the key with a trailing newline verifies",
			req:    sgReq(body, sig, ts),
			keys:   [][]byte{append(sgPublicKey(t, current), '\n')},
			now:    sent,
			wantTS: sent,
		},
		{
			name:   "during rotation a request signed with the second listed key verifies",
			req:    sgReq(body, sgSign(t, next, sent, body), ts),
			keys:   [][]byte{sgPublicKey(t, current), sgPublicKey(t, next)},
			now:    sent,
			wantTS: sent,
		},
		{
			name:   "a signature without base64 padding verifies",
			req:    sgReq(body, strings.TrimRight(sig, "="), ts),
			keys:   [][]byte{sgPublicKey(t, current)},
			now:    sent,
			wantTS: sent,
		},
		{
			name:   "keys that are not P-256 public keys are skipped and the next key is tried",
			req:    sgReq(body, sig, ts),
			keys:   [][]byte{[]byte(base64.StdEncoding.EncodeToString(p384DER)), []byte("garbage"), sgPublicKey(t, current)},
			now:    sent,
			wantTS: sent,
		},
		{
			name:   "a timestamp exactly five minutes old is still inside the default window",
			req:    sgReq(body, sig, ts),
			keys:   [][]byte{sgPublicKey(t, current)},
			now:    sent.Add(5 * time.Minute),
			wantTS: sent,
		},
		{
			name:       "a stale timestamp just outside the default window is refused",
			req:        sgReq(body, sig, ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent.Add(5*time.Minute + time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a future timestamp just outside the default window is refused",
			req:        sgReq(body, sig, ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent.Add(-5*time.Minute - time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a stale timestamp with a wrong signature is reported as a mismatch, not as stale",
			req:        sgReq(body, sgSign(t, next, sent, body), ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent.Add(time.Hour),
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "an event dropped from the batch is refused",
			req:        sgReq(body[:strings.Index(body, "\r\n")]+"]\r\n", sig, ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "CRLF between events turned into LF is refused",
			req:        sgReq(strings.ReplaceAll(body, "\r\n", "\n"), sig, ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a changed timestamp is refused because the timestamp is signed",
			req:        sgReq(body, sig, strconv.FormatInt(sent.Unix()+1, 10)),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature by a key not listed is refused",
			req:        sgReq(body, sgSign(t, testECDSAKey(t), sent, body), ts),
			keys:       [][]byte{sgPublicKey(t, current), sgPublicKey(t, next)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature that is not base64 is malformed",
			req:        sgReq(body, "not*base64", ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "base64 that is not DER is malformed",
			req:        sgReq(body, base64.StdEncoding.EncodeToString([]byte("definitely not a DER signature")), ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a raw 64-byte r||s signature (not DER) is malformed",
			req:        sgReq(body, base64.StdEncoding.EncodeToString(make([]byte, 64)), ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a DER signature followed by trailing bytes is malformed",
			req:        sgReq(body, base64.StdEncoding.EncodeToString(append(mustDecodeBase64(t, sig), 0)), ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature with r = 0 is malformed",
			req:        sgReq(body, derSignature(t, big.NewInt(0), big.NewInt(1)), ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature with negative s is malformed",
			req:        sgReq(body, derSignature(t, big.NewInt(1), big.NewInt(-1)), ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a well-formed signature with r and s of 1 is a mismatch",
			req:        sgReq(body, derSignature(t, big.NewInt(1), big.NewInt(1)), ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature too long for P-256 is malformed",
			req:        sgReq(body, derSignature(t, new(big.Int).Lsh(big.NewInt(1), 600), big.NewInt(1)), ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a timestamp that is not an integer is malformed",
			req:        sgReq(body, sig, ts+".0"),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a missing signature header is refused as missing",
			req:        req(body, "X-Twilio-Email-Event-Webhook-Timestamp", ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a missing timestamp header is refused as missing",
			req:        req(body, "X-Twilio-Email-Event-Webhook-Signature", sig),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "an unsigned event webhook request (signing disabled) is refused as missing",
			req:        req(body),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a timestamp header sent twice is malformed",
			req:        req(body, "X-Twilio-Email-Event-Webhook-Signature", sig, "X-Twilio-Email-Event-Webhook-Timestamp", ts, "X-Twilio-Email-Event-Webhook-Timestamp", ts),
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "P-384, RSA and Ed25519 keys are not usable",
			req:        sgReq(body, sig, ts),
			keys:       keys(base64.StdEncoding.EncodeToString(p384DER), base64.StdEncoding.EncodeToString(rsaDER), base64.StdEncoding.EncodeToString(edDER)),
			now:        sent,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a PEM block that is not a public key is not usable",
			req:        sgReq(body, sig, ts),
			keys:       [][]byte{pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mustDecodeBase64(t, string(sgPublicKey(t, current)))})},
			now:        sent,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a nil request is refused without panicking",
			req:        nil,
			keys:       [][]byte{sgPublicKey(t, current)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
	})
}

func TestSendGridKeySources(t *testing.T) {
	old, current := testECDSAKey(t), testECDSAKey(t)
	sent := unix(1700000000)
	const body = "[{\"event\":\"open\"}]\r\n"
	r := sgReq(body, sgSign(t, current, sent, body), strconv.FormatInt(sent.Unix(), 10))

	cases := []struct {
		name       string
		opts, keys [][]byte
		wantReason Reason
	}{
		{name: "the key from Options.PublicKeys alone verifies", opts: [][]byte{sgPublicKey(t, current)}},
		{name: "the key passed to Verify alone verifies", keys: [][]byte{sgPublicKey(t, current)}},
		{name: "the same key in both places verifies", opts: [][]byte{sgPublicKey(t, current)}, keys: [][]byte{sgPublicKey(t, current)}},
		{name: "only the old key is a mismatch", opts: [][]byte{sgPublicKey(t, old)}, keys: [][]byte{sgPublicKey(t, old)}, wantReason: ReasonSignatureMismatch},
		{name: "no key anywhere is refused as unusable", wantReason: ReasonNoUsableKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New("sendgrid", Options{PublicKeys: tc.opts})
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(r, tc.keys, sent)
			if got := ReasonOf(err); got != tc.wantReason {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tc.wantReason)
			}
		})
	}
}

// TestSendGridAgreesWithOfficialSDK holds the verifier to the official Go
// SDK's helpers/eventwebhook: the published vectors, and key pairs generated
// here and signed the way the documentation describes (ECDSA P-256 with
// SHA-256 over timestamp + payload), are judged the same by both.
func TestSendGridAgreesWithOfficialSDK(t *testing.T) {
	type vector struct {
		name, key, payload, sig, ts string
		want                        bool
	}
	k := testECDSAKey(t)
	key := string(sgPublicKey(t, k))
	now := unix(1700000000)
	ts := strconv.FormatInt(now.Unix(), 10)
	const batch = "[{\"event\":\"delivered\"},\r\n{\"event\":\"open\"}]\r\n"
	sig := sgSign(t, k, now, batch)
	// A signature made without our helper, straight from the digest.
	digest := sha256.Sum256([]byte(ts + "binary\x00\xff"))
	raw, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
	if err != nil {
		t.Fatal(err)
	}

	vectors := []vector{
		{name: "the Go SDK vector", key: sgGoVectorPublicKey, payload: sgGoVectorPayload, sig: sgGoVectorSignature, ts: strconv.Itoa(sgGoVectorTimestamp), want: true},
		{name: "the Python SDK vector", key: sgPyVectorPublicKey, payload: sgPyVectorPayload, sig: sgPyVectorSignature, ts: strconv.Itoa(sgPyVectorTimestamp), want: true},
		{name: "the Go SDK vector with its bad signature", key: sgGoVectorPublicKey, payload: sgGoVectorPayload, sig: sgGoVectorBadSignature, ts: strconv.Itoa(sgGoVectorTimestamp)},
		{name: "the Go SDK vector under the other key", key: sgVectorOtherKey, payload: sgGoVectorPayload, sig: sgGoVectorSignature, ts: strconv.Itoa(sgGoVectorTimestamp)},
		{name: "a generated key signing a CRLF batch", key: key, payload: batch, sig: sig, ts: ts, want: true},
		{name: "a generated key signing a binary body", key: key, payload: "binary\x00\xff", sig: base64.StdEncoding.EncodeToString(raw), ts: ts, want: true},
		{name: "a generated key's signature over a tampered batch", key: key, payload: batch + " ", sig: sig, ts: ts},
		{name: "a generated key's signature with another timestamp", key: key, payload: batch, sig: sig, ts: strconv.FormatInt(now.Unix()+1, 10)},
	}
	for _, vec := range vectors {
		t.Run(vec.name+" is judged the same by both", func(t *testing.T) {
			pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(vec.key)
			if err != nil {
				t.Fatalf("SDK refused the key: %v", err)
			}
			theirs, err := eventwebhook.VerifySignature(pub, []byte(vec.payload), vec.sig, vec.ts)
			if err != nil {
				t.Fatalf("SDK: %v", err)
			}
			when, _ := parseUnixSeconds(vec.ts)
			_, err = NewSendGrid(Options{PublicKeys: keys(vec.key)}).Verify(sgReq(vec.payload, vec.sig, vec.ts), nil, when)
			ours := err == nil
			if ours != vec.want || theirs != vec.want {
				t.Fatalf("ours = %v (err %v), SDK = %v, want %v", ours, err, theirs, vec.want)
			}
		})
	}

	t.Run("the SDK and this package read the Verification Key identically", func(t *testing.T) {
		for _, s := range []string{sgGoVectorPublicKey, sgPyVectorPublicKey, key} {
			theirs, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(s)
			if err != nil {
				t.Fatal(err)
			}
			ours, ok := decodeSendGridKey([]byte(s))
			if !ok || !ours.Equal(theirs) {
				t.Fatalf("key %q: ours = %v (ok %v), SDK = %v", s, ours, ok, theirs)
			}
		}
	})
}

// TestSendGridHelpersMatchTheSDK guards the helpers other packages use to
// build signed requests: the key SendGridPublicKey encodes is the one the SDK
// reads, and a SignSendGrid signature is one the SDK accepts.
func TestSendGridHelpersMatchTheSDK(t *testing.T) {
	k := testECDSAKey(t)
	enc := sgPublicKey(t, k)
	pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(string(enc))
	if err != nil || !pub.Equal(&k.PublicKey) {
		t.Fatalf("SDK read %v (%v)", pub, err)
	}
	now := time.Now()
	h := http.Header{}
	h.Set(SendGridTimestampHeader, strconv.FormatInt(now.Unix(), 10))
	h.Set(SendGridSignatureHeader, sgSign(t, k, now, "x"))
	ok, err := eventwebhook.VerifySignature(pub, []byte("x"), h.Get(SendGridSignatureHeader), h.Get(SendGridTimestampHeader))
	if err != nil || !ok {
		t.Fatalf("SDK refused SignSendGrid's signature: %v %v", ok, err)
	}
}

func mustDecodeBase64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
