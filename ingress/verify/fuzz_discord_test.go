package verify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzDiscordSignatureHeader feeds arbitrary X-Signature-Ed25519 values to
// the parser, then drives the whole verifier with arbitrary headers, bodies
// and keys. It checks that only canonical 64-byte hex is accepted, that any
// signature bytes round-trip in either hex case, that nothing panics or
// fails with an unknown reason, and that a body this test signs verifies
// with a PONG exactly when it is a PING.
func FuzzDiscordSignatureHeader(f *testing.F) {
	app := testEd25519Key("discord fuzz")
	f.Add(SignDiscord(app, unix(1700000000), []byte(discordPingBody)), "1700000000", []byte(discordPingBody), []byte("seed"))
	f.Add(strings.ToUpper(SignDiscord(app, unix(1), []byte("x"))), "1", []byte("x"), []byte{})
	f.Add("", "", []byte{}, []byte{0})
	f.Add("0x00", "-1", []byte(`{"type":1}`), []byte{1})
	f.Add(strings.Repeat("0", 127), "99999999999999999999", []byte(`{"type":"1"}`), []byte{2})
	f.Add(strings.Repeat("zz", 64), "1700000000 ", []byte("\x00\xff"), bytes.Repeat([]byte{0xff}, 64))
	f.Add(" "+strings.Repeat("ab", 64)+"\t", "0", []byte(`{"id":"1","type":2}`), []byte("k"))
	// A keyless forgery beside the identity point as a key.
	f.Add("01"+strings.Repeat("00", 63), "1700000000", []byte("x"), []byte{1})
	f.Fuzz(func(t *testing.T, value, ts string, body, raw []byte) {
		sig, err := parseDiscordSignature(value)
		if err == nil {
			if len(sig) != ed25519.SignatureSize {
				t.Fatalf("accepted %d bytes", len(sig))
			}
			if strings.ToLower(strings.TrimSpace(value)) != hex.EncodeToString(sig) {
				t.Fatalf("%q parsed to %x", value, sig)
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature {
			t.Fatalf("reason %q", r)
		}

		want := sized(raw, ed25519.SignatureSize)
		for _, h := range []string{hex.EncodeToString(want), strings.ToUpper(hex.EncodeToString(want))} {
			got, err := parseDiscordSignature(h)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round trip of %q gave (%x, %v)", h, got, err)
			}
		}

		v := NewDiscord(Options{PublicKeys: [][]byte{discordPublicKey(app)}})
		now := unix(1700000000)
		fuzzKeys := [][]byte{raw, []byte(hex.EncodeToString(sized(raw, 32)))}
		res, err := v.Verify(discordReq(string(body), value, ts), fuzzKeys, now)
		switch ReasonOf(err) {
		case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch, ReasonTimestampOutOfRange, ReasonNoUsableKey:
		default:
			t.Fatalf("unknown reason in %v", err)
		}
		if err != nil && res.Handshake != nil {
			t.Fatal("handshake on a refused request")
		}
		if err == nil {
			// Only a genuine signature under a usable key may pass; a
			// small-order fuzzed key must not let a forgery through.
			msg := append([]byte(strings.TrimSpace(ts)), body...)
			genuine := ed25519.Verify(app.Public().(ed25519.PublicKey), msg, sig)
			for _, k := range decodeDiscordKeys(fuzzKeys) {
				genuine = genuine || ed25519.Verify(k, msg, sig)
			}
			if !genuine {
				t.Fatalf("accepted %q over %q without a genuine signature", value, ts)
			}
		}

		// Whatever the body, a request signed here at a valid time verifies.
		sent := now.Add(time.Duration(len(body)%600-300) * time.Second)
		signed := discordReq(string(body), SignDiscord(app, sent, body), strconv.FormatInt(sent.Unix(), 10))
		res, err = v.Verify(signed, nil, now)
		if err != nil {
			t.Fatalf("signed request refused: %v", err)
		}
		if isPing := parseDiscordInteraction(body).Type == discordPing; isPing != (res.Handshake != nil) {
			t.Fatalf("PING %v but handshake %+v", isPing, res.Handshake)
		}
	})
}
