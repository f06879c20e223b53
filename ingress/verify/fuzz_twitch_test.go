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

// FuzzTwitchHeaders feeds arbitrary timestamp and signature header values
// to their parsers. A parsed signature is the canonical text of the MAC up
// to case; a timestamp formatted by Twitch's layout from any instant parses
// back to that instant; nothing panics.
func FuzzTwitchHeaders(f *testing.F) {
	f.Add(twitchVectorTimestamp, twitchVectorSignature, int64(1613778420), int64(809151200), []byte("seed"))
	f.Add("", "", int64(0), int64(0), []byte{})
	f.Add("2021-02-19T23:47:00Z", "SHA256="+strings.Repeat("AB", 32), int64(-1), int64(-1), []byte{1})
	f.Add("2021-02-30T25:61:00Z", "sha256=", int64(1<<40), int64(1e9), []byte{2})
	f.Add("1613778420", "sha256="+strings.Repeat("0", 63), int64(253402300799), int64(999999999), []byte{3})
	f.Add("0000-01-01T00:00:00+23:59", "sha1=00", int64(-62135596800), int64(1), []byte{4})
	f.Fuzz(func(t *testing.T, ts, sigValue string, sec, nsec int64, raw []byte) {
		if _, err := parseTwitchTimestamp(ts); err != nil && ReasonOf(err) != ReasonMalformedSignature {
			t.Fatalf("%q: reason %q", ts, ReasonOf(err))
		}
		sig, err := parseTwitchSignature(sigValue)
		if err == nil {
			v := strings.TrimSpace(sigValue)
			if len(sig) != sha256.Size || !hasPrefixFoldASCII(v, "sha256=") || strings.ToLower(v[7:]) != hex.EncodeToString(sig) {
				t.Fatalf("%q parsed to %x", sigValue, sig)
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature {
			t.Fatalf("%q: reason %q", sigValue, r)
		}

		// Any instant Twitch could stamp (years 0001 to 9999) round-trips.
		if sec < 0 {
			sec = -sec
		}
		if nsec < 0 {
			nsec = -nsec
		}
		instant := time.Unix(sec%253402300799, nsec%1e9).UTC()
		text := instant.Format(time.RFC3339Nano)
		got, err := parseTwitchTimestamp(text)
		if err != nil || !got.Equal(instant) {
			t.Fatalf("round trip of %q gave (%v, %v)", text, got, err)
		}
		want := sized(raw, sha256.Size)
		if got, err := parseTwitchSignature("sha256=" + hex.EncodeToString(want)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("round trip of %x gave (%x, %v)", want, got, err)
		}
	})
}

// FuzzTwitchChallenge feeds arbitrary verified challenge bodies to the
// answer: a 200 answer is exactly the JSON challenge string, anything else
// is a 400, and nothing panics.
func FuzzTwitchChallenge(f *testing.F) {
	f.Add([]byte(`{"challenge":"pogchamp-kappa-360noscope-vohiyo"}`))
	f.Add([]byte(`{"challenge":5}`))
	f.Add([]byte(`{"challenge":""}`))
	f.Add([]byte(`{"challenge":"a\u0000b\n"}`))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, body []byte) {
		hs := twitchHandshake(body)
		if hs == nil {
			t.Fatal("no answer")
		}
		var msg struct {
			Challenge string `json:"challenge"`
		}
		ok := json.Unmarshal(body, &msg) == nil && msg.Challenge != ""
		switch {
		case ok && (hs.Status != 200 || string(hs.Body) != msg.Challenge):
			t.Fatalf("%q answered %d %q", body, hs.Status, hs.Body)
		case !ok && hs.Status != 400:
			t.Fatalf("%q answered %d", body, hs.Status)
		}
	})
}

// FuzzTwitchVerify drives the Twitch verifier end to end: no panics, known
// reasons, and TwitchHeaders' output always verifies.
func FuzzTwitchVerify(f *testing.F) {
	f.Add(twitchVectorID, twitchVectorTimestamp, twitchVectorSignature, "notification", []byte(twitchVectorBody), []byte(twitchVectorSecret), int64(1613778420))
	f.Add("", "", "", "", []byte{}, []byte{}, int64(0))
	f.Add("id", "2026-01-02T03:04:05Z", "sha256=zz", "webhook_callback_verification", []byte(`{"challenge":"c"}`), []byte(" "), int64(-7))
	f.Fuzz(func(t *testing.T, id, ts, sig, msgType string, body, key []byte, sec int64) {
		v := NewTwitch(0)
		now := time.Unix(sec%1e11, 0)
		_, err := v.Verify(twitchReq(string(body), id, ts, sig, msgType), [][]byte{key}, now)
		switch ReasonOf(err) {
		case "", ReasonMissingSignature, ReasonMalformedSignature, ReasonSignatureMismatch, ReasonTimestampOutOfRange, ReasonNoUsableKey:
		default:
			t.Fatalf("unknown reason in %v", err)
		}
		id = strings.TrimSpace(id)
		if len(key) == 0 || id == "" || now.Year() < 1 || now.Year() > 9999 {
			return
		}
		r := &Request{Header: TwitchHeaders(id, msgType, now, body, key), Body: body}
		res, err := v.Verify(r, [][]byte{key}, now)
		if err != nil || res.DeliveryID != id {
			t.Fatalf("own signature refused: %v (%+v)", err, res)
		}
	})
}
