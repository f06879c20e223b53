package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// Discord publishes no test vector, so key pairs come from fixed seeds: the
// tests are reproducible, and the reference for what is signed is the
// crypto/ed25519 of the standard library plus discordgo's VerifyInteraction
// (TestDiscordAgreesWithDiscordgo).

// testEd25519Key derives a key pair from a label, so that each test key is
// distinct and stable.
func testEd25519Key(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("hookgate test key: " + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// discordPublicKey is the key as the developer portal shows it.
func discordPublicKey(priv ed25519.PrivateKey) []byte {
	return []byte(hex.EncodeToString(priv.Public().(ed25519.PublicKey)))
}

// discordReq builds an interaction request.
func discordReq(body, sig, ts string) *Request {
	return req(body, "X-Signature-Ed25519", sig, "X-Signature-Timestamp", ts)
}

const (
	discordCommandBody = `{"application_id":"775799577604522054","id":"786008729715212338","token":"A_UNIQUE_TOKEN","type":2,"data":{"id":"771825006014889984","name":"blep","type":1},"version":1}`
	discordCommandID   = "786008729715212338"
	discordPingBody    = `{"application_id":"775799577604522054","id":"786008729715212339","token":"A_UNIQUE_TOKEN","type":1,"user":{"id":"53908232506183680"},"version":1}`
	discordPingID      = "786008729715212339"
)

func TestDiscordVerify(t *testing.T) {
	app := testEd25519Key("discord app")
	next := testEd25519Key("discord app, next key")
	other := testEd25519Key("someone else")
	sent := unix(1700000000)
	ts := strconv.FormatInt(sent.Unix(), 10)
	sig := SignDiscord(app, sent, []byte(discordCommandBody))
	pingSig := SignDiscord(app, sent, []byte(discordPingBody))
	identity := "01" + strings.Repeat("00", 31)
	// With the identity point as the "public key", R = identity and S = 0
	// verify for every message (see TestEd25519SmallOrderKeysForge).
	forged := "01" + strings.Repeat("00", 63)

	runVerifyCases(t, NewDiscord(Options{}), []verifyCase{
		{
			name:   "a command interaction signed with the application key verifies and is deduplicated by its id",
			req:    discordReq(discordCommandBody, sig, ts),
			keys:   [][]byte{discordPublicKey(app)},
			now:    sent,
			wantID: discordCommandID,
			wantTS: sent,
		},
		{
			name:   "a signature in upper-case hex verifies",
			req:    discordReq(discordCommandBody, strings.ToUpper(sig), ts),
			keys:   [][]byte{discordPublicKey(app)},
			now:    sent,
			wantID: discordCommandID,
			wantTS: sent,
		},
		{
			name:   "a public key in upper-case hex with a trailing newline verifies",
			req:    discordReq(discordCommandBody, sig, ts),
			keys:   keys(strings.ToUpper(string(discordPublicKey(app))) + "\n"),
			now:    sent,
			wantID: discordCommandID,
			wantTS: sent,
		},
		{
			name:   "during rotation a request signed with the second listed key verifies",
			req:    discordReq(discordCommandBody, SignDiscord(next, sent, []byte(discordCommandBody)), ts),
			keys:   [][]byte{discordPublicKey(app), discordPublicKey(next)},
			now:    sent,
			wantID: discordCommandID,
			wantTS: sent,
		},
		{
			name:   "a key that is not hex is skipped and the next key is tried",
			req:    discordReq(discordCommandBody, sig, ts),
			keys:   [][]byte{[]byte("not a key"), discordPublicKey(app)},
			now:    sent,
			wantID: discordCommandID,
			wantTS: sent,
		},
		{
			name:   "a verified body that is not an interaction object has no dedupe key",
			req:    discordReq("not json", SignDiscord(app, sent, []byte("not json")), ts),
			keys:   [][]byte{discordPublicKey(app)},
			now:    sent,
			wantTS: sent,
		},
		{
			name:   "a timestamp exactly five minutes old is still inside the default window",
			req:    discordReq(discordCommandBody, sig, ts),
			keys:   [][]byte{discordPublicKey(app)},
			now:    sent.Add(5 * time.Minute),
			wantID: discordCommandID,
			wantTS: sent,
		},
		{
			name:       "a stale timestamp just outside the default window is refused",
			req:        discordReq(discordCommandBody, sig, ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent.Add(5*time.Minute + time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a future timestamp just outside the default window is refused",
			req:        discordReq(discordCommandBody, sig, ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent.Add(-5*time.Minute - time.Second),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a stale timestamp with a wrong signature is reported as a mismatch, not as stale",
			req:        discordReq(discordCommandBody, flipAt(sig, 2), ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent.Add(time.Hour),
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a tampered body is refused",
			req:        discordReq(strings.Replace(discordCommandBody, "blep", "blop", 1), sig, ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a changed timestamp is refused because the timestamp is signed",
			req:        discordReq(discordCommandBody, sig, strconv.FormatInt(sent.Unix()+1, 10)),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a timestamp with a leading zero is not the text that was signed",
			req:        discordReq(discordCommandBody, sig, "0"+ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature by another key is refused",
			req:        discordReq(discordCommandBody, SignDiscord(other, sent, []byte(discordCommandBody)), ts),
			keys:       [][]byte{discordPublicKey(app), discordPublicKey(next)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a signature that is not hex is malformed",
			req:        discordReq(discordCommandBody, "zz"+sig[2:], ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a truncated signature is malformed",
			req:        discordReq(discordCommandBody, sig[:126], ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a signature with a 0x prefix is malformed",
			req:        discordReq(discordCommandBody, "0x"+sig, ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a timestamp in milliseconds has too many digits and is malformed",
			req:        discordReq(discordCommandBody, sig, ts+"000"),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "an ISO timestamp is malformed",
			req:        discordReq(discordCommandBody, sig, sent.Format(time.RFC3339)),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a negative timestamp is malformed",
			req:        discordReq(discordCommandBody, sig, "-"+ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "a missing signature header is refused as missing",
			req:        req(discordCommandBody, "X-Signature-Timestamp", ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:       "a missing timestamp header is refused as missing",
			req:        req(discordCommandBody, "X-Signature-Ed25519", sig),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
		{
			name:   "lower-case header names are found",
			req:    req(discordCommandBody, "x-signature-ed25519", sig, "x-signature-timestamp", ts),
			keys:   [][]byte{discordPublicKey(app)},
			now:    sent,
			wantID: discordCommandID,
			wantTS: sent,
		},
		{
			name:       "a signature header sent twice is malformed",
			req:        req(discordCommandBody, "X-Signature-Ed25519", sig, "X-Signature-Ed25519", sig, "X-Signature-Timestamp", ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonMalformedSignature,
		},
		{
			name:       "no key decodes, so nothing can be verified",
			req:        discordReq(discordCommandBody, sig, ts),
			keys:       keys("", "abcd", strings.Repeat("g", 64)),
			now:        sent,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a base64 key (the wrong encoding for Discord) is not usable",
			req:        discordReq(discordCommandBody, sig, ts),
			keys:       [][]byte{StandardWebhooksPublicKey(app.Public().(ed25519.PublicKey))},
			now:        sent,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "the identity point is refused as a key, so a forgery under it does not verify",
			req:        discordReq(discordCommandBody, forged, ts),
			keys:       keys(identity),
			now:        sent,
			wantReason: ReasonNoUsableKey,
		},
		{
			name:       "a PING with a bad signature is refused, never answered",
			req:        discordReq(discordPingBody, flipAt(pingSig, 2), ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonSignatureMismatch,
		},
		{
			name:       "a stale PING is refused, never answered",
			req:        discordReq(discordPingBody, pingSig, ts),
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent.Add(time.Hour),
			wantReason: ReasonTimestampOutOfRange,
		},
		{
			name:       "a nil request is refused without panicking",
			req:        nil,
			keys:       [][]byte{discordPublicKey(app)},
			now:        sent,
			wantReason: ReasonMissingSignature,
		},
	})
}

func TestDiscordHandshake(t *testing.T) {
	app := testEd25519Key("discord app")
	sent := unix(1700000000)
	ts := strconv.FormatInt(sent.Unix(), 10)
	v := NewDiscord(Options{PublicKeys: [][]byte{discordPublicKey(app)}})

	cases := []struct {
		name      string
		body      string
		wantPong  bool
		wantID    string
		signature string
	}{
		{name: "a verified PING is answered with a PONG", body: discordPingBody, wantPong: true, wantID: discordPingID},
		{name: "a minimal verified PING is answered with a PONG", body: `{"type":1}`, wantPong: true},
		{name: "a verified command is not a handshake", body: discordCommandBody, wantID: discordCommandID},
		{name: "a type given as a string is not a PING", body: `{"id":"1","type":"1"}`},
		{name: "a JSON array is not a PING", body: `[{"type":1}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := discordReq(tc.body, SignDiscord(app, sent, []byte(tc.body)), ts)
			res, err := v.Verify(r, nil, sent)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.DeliveryID != tc.wantID {
				t.Errorf("DeliveryID = %q, want %q", res.DeliveryID, tc.wantID)
			}
			if !tc.wantPong {
				if res.Handshake != nil {
					t.Fatalf("unexpected handshake %+v", res.Handshake)
				}
				return
			}
			h := res.Handshake
			if h == nil {
				t.Fatal("no handshake for a PING")
			}
			if h.Status != http.StatusOK || h.ContentType != "application/json" || string(h.Body) != `{"type":1}` {
				t.Fatalf("handshake = %d %q %q, want 200 application/json {\"type\":1}", h.Status, h.ContentType, h.Body)
			}
		})
	}
}

func TestDiscordKeySources(t *testing.T) {
	app := testEd25519Key("discord app")
	next := testEd25519Key("discord app, next key")
	sent := unix(1700000000)
	ts := strconv.FormatInt(sent.Unix(), 10)
	r := discordReq(discordCommandBody, SignDiscord(next, sent, []byte(discordCommandBody)), ts)

	cases := []struct {
		name       string
		opts       [][]byte
		keys       [][]byte
		wantReason Reason
	}{
		{name: "the key from Options.PublicKeys alone verifies", opts: [][]byte{discordPublicKey(next)}},
		{name: "the key passed to Verify alone verifies", keys: [][]byte{discordPublicKey(next)}},
		{name: "the same key in both places verifies", opts: [][]byte{discordPublicKey(next)}, keys: [][]byte{discordPublicKey(next)}},
		{name: "the old key in the options and the new one passed to Verify verifies", opts: [][]byte{discordPublicKey(app)}, keys: [][]byte{discordPublicKey(next)}},
		{name: "only the old key, wherever it is listed, is a mismatch", opts: [][]byte{discordPublicKey(app)}, keys: [][]byte{discordPublicKey(app)}, wantReason: ReasonSignatureMismatch},
		{name: "no key anywhere is refused as unusable", wantReason: ReasonNoUsableKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New("discord", Options{PublicKeys: tc.opts})
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

func TestDiscordCustomTolerance(t *testing.T) {
	app := testEd25519Key("discord app")
	sent := unix(1700000000)
	r := discordReq(discordCommandBody, SignDiscord(app, sent, []byte(discordCommandBody)), strconv.FormatInt(sent.Unix(), 10))
	runVerifyCases(t, NewDiscord(Options{Tolerance: 10 * time.Second}), []verifyCase{
		{name: "a request ten seconds old verifies under a ten-second tolerance", req: r, keys: [][]byte{discordPublicKey(app)}, now: sent.Add(10 * time.Second), wantID: discordCommandID, wantTS: sent},
		{name: "a request eleven seconds old is stale under a ten-second tolerance", req: r, keys: [][]byte{discordPublicKey(app)}, now: sent.Add(11 * time.Second), wantReason: ReasonTimestampOutOfRange},
	})
}

// TestDiscordAgreesWithDiscordgo holds the verifier to
// github.com/bwmarrin/discordgo's VerifyInteraction, an independent
// implementation of the same check (it has no replay window, so every case
// here is stamped now).
func TestDiscordAgreesWithDiscordgo(t *testing.T) {
	app := testEd25519Key("discord app")
	other := testEd25519Key("someone else")
	now := time.Now().UTC().Truncate(time.Second)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(discordCommandBody)
	sig := SignDiscord(app, now, body)

	cases := []struct {
		name    string
		body    []byte
		sig, ts string
		want    bool
	}{
		{name: "a genuine interaction is accepted by both", body: body, sig: sig, ts: ts, want: true},
		{name: "an empty body signed with the timestamp is accepted by both", body: []byte{}, sig: SignDiscord(app, now, nil), ts: ts, want: true},
		{name: "a binary body is accepted by both", body: []byte("\x00\xff\r\n"), sig: SignDiscord(app, now, []byte("\x00\xff\r\n")), ts: ts, want: true},
		{name: "a tampered body is refused by both", body: append(append([]byte{}, body...), ' '), sig: sig, ts: ts},
		{name: "a changed timestamp is refused by both", body: body, sig: sig, ts: strconv.FormatInt(now.Unix()-1, 10)},
		{name: "another key's signature is refused by both", body: body, sig: SignDiscord(other, now, body), ts: ts},
		{name: "a truncated signature is refused by both", body: body, sig: sig[:64], ts: ts},
	}
	v := NewDiscord(Options{PublicKeys: [][]byte{discordPublicKey(app)}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hr, err := http.NewRequest(http.MethodPost, "https://hooks.example.com/hook", bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			hr.Header.Set(DiscordSignatureHeader, tc.sig)
			hr.Header.Set(DiscordTimestampHeader, tc.ts)
			theirs := discordgo.VerifyInteraction(hr, app.Public().(ed25519.PublicKey))

			_, err = v.Verify(&Request{Method: http.MethodPost, Header: hr.Header, Body: tc.body}, nil, now)
			ours := err == nil
			if ours != tc.want || theirs != tc.want {
				t.Fatalf("ours = %v (err %v), discordgo = %v, want %v", ours, err, theirs, tc.want)
			}
		})
	}
}
