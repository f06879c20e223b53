package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzSlackSignatureHeader feeds arbitrary X-Slack-Signature and
// X-Slack-Request-Timestamp values and bodies to the Slack parser, body
// reader and verifier. It checks that anything accepted is the canonical
// "v0=<hex>" text of what was returned, that any MAC round-trips, that a
// handshake is only ever returned with a nil error, and that a request signed
// by SignSlack always verifies at its own time, answering the handshake
// exactly when the body is a url_verification with a string challenge.
func FuzzSlackSignatureHeader(f *testing.F) {
	f.Add(slackDocSignature, "1531420618", []byte(slackDocBody), []byte(slackDocSecret), int64(1531420618))
	f.Add(slackDocSignature, "1531420618", []byte(slackDocURLVerification), []byte("k"), int64(1531420618))
	f.Add("V0="+strings.ToUpper(strings.TrimPrefix(slackDocSignature, "v0=")), "0", []byte(slackEventCallback), []byte{}, int64(0))
	f.Add("", "", []byte{}, []byte{0}, int64(-1))
	f.Add("v0=", "-1", []byte(`{"type":"url_verification","challenge":7}`), []byte("k"), int64(1<<62))
	f.Add("v1=zz", "99999999999999999999", []byte(`{"type":"url_verification","challenge":""}`), []byte("k"), int64(1))
	f.Add("v0=\xff", "1531420618.5", []byte(`{"type":"event_callback","event_id":"Ev1"`), []byte("k"), int64(1531420618))
	f.Fuzz(func(t *testing.T, value, ts string, body, key []byte, nowSec int64) {
		sig, err := parseSlackSignature(value)
		if err == nil {
			v := strings.TrimSpace(value)
			if len(sig) != sha256.Size || !hasPrefixFoldASCII(v, "v0=") || strings.ToLower(v[3:]) != hex.EncodeToString(sig) {
				t.Fatalf("%q parsed to %x", value, sig)
			}
		} else if r := ReasonOf(err); r != ReasonMalformedSignature {
			t.Fatalf("reason %q, want MalformedSignature", r)
		}
		want := sized(body, sha256.Size)
		if got, err := parseSlackSignature("v0=" + hex.EncodeToString(want)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("round trip gave (%x, %v)", got, err)
		}

		parsed := parseSlackBody(body)
		if parsed.challenge != "" && parsed.eventID != "" {
			t.Fatalf("both a challenge and an event id from %q", body)
		}
		if (parsed.challenge != "" || parsed.eventID != "") && !json.Valid(bytes.TrimLeft(body, " \t\r\n")) {
			t.Fatalf("fields %+v from a body that is not JSON", parsed)
		}

		h := http.Header{}
		h.Set(SlackSignatureHeader, value)
		h.Set(SlackTimestampHeader, ts)
		res, err := NewSlack(0).Verify(&Request{Header: h, Body: body}, [][]byte{key, nil}, time.Unix(nowSec, 0))
		assertKnownRefusal(t, res, err)

		if len(key) > 0 {
			// At most 12 digits, the longest timestamp parseUnixSeconds takes.
			sent := time.Unix(nowSec%1_000_000_000_000, 0)
			sts, ssig := SignSlack(sent, body, key)
			h.Set(SlackTimestampHeader, sts)
			h.Set(SlackSignatureHeader, ssig)
			res, err := NewSlack(0).Verify(&Request{Header: h, Body: body}, [][]byte{key}, sent)
			if sent.Unix() < 0 {
				// A negative time has no unix-seconds text Slack could send.
				if ReasonOf(err) != ReasonMalformedSignature {
					t.Fatalf("negative timestamp: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("own signature refused: %v", err)
			}
			if (res.Handshake != nil) != (parsed.challenge != "") {
				t.Fatalf("handshake %+v for body fields %+v", res.Handshake, parsed)
			}
			if res.Handshake != nil && string(res.Handshake.Body) != parsed.challenge {
				t.Fatalf("handshake body %q, challenge %q", res.Handshake.Body, parsed.challenge)
			}
		}
	})
}
