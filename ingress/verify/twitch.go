package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/http"
	"time"
)

// Twitch EventSub signs every webhook message with the subscription's
// secret, as described in
// https://dev.twitch.tv/docs/eventsub/handling-webhook-events/
// ("Verifying the event message", "Responding to a challenge request").
const (
	TwitchMessageIDHeader        = "Twitch-Eventsub-Message-Id"
	TwitchMessageTimestampHeader = "Twitch-Eventsub-Message-Timestamp"
	// TwitchMessageSignatureHeader carries "sha256=" and the hex
	// HMAC-SHA256 of id + timestamp + body.
	TwitchMessageSignatureHeader = "Twitch-Eventsub-Message-Signature"
	// TwitchMessageTypeHeader is notification, webhook_callback_verification
	// or revocation. It is not signed.
	TwitchMessageTypeHeader = "Twitch-Eventsub-Message-Type"
	// TwitchDefaultTolerance is the ten minutes Twitch's guide names when it
	// tells receivers to refuse older messages.
	TwitchDefaultTolerance = 10 * time.Minute
	// twitchVerificationType is the challenge Twitch sends after a
	// subscription is created.
	twitchVerificationType = "webhook_callback_verification"
	twitchSignaturePrefix  = "sha256="
)

type twitchVerifier struct {
	tolerance time.Duration
}

func init() {
	register("twitch", func(o Options) (Verifier, error) { return NewTwitch(o.Tolerance), nil })
}

// NewTwitch returns a Verifier for Twitch EventSub webhooks. Keys are the
// subscription secrets, chosen by whoever created the subscription (10 to
// 100 ASCII characters) and used as raw bytes, untrimmed: a chosen secret
// may begin or end with a space.
//
// tolerance bounds how far the message timestamp may be from now in either
// direction; zero or negative means TwitchDefaultTolerance.
func NewTwitch(tolerance time.Duration) Verifier {
	if tolerance <= 0 {
		tolerance = TwitchDefaultTolerance
	}
	return &twitchVerifier{tolerance: tolerance}
}

// Verify implements Verifier.
//
// Every message type is signed, the challenge included, so the challenge is
// echoed only after the request verified: otherwise anyone could confirm a
// subscription to an endpoint on its owner's behalf. Revocations are
// ordinary events for the target to see. The message id is the dedupe key;
// Twitch keeps it on every resend of a message.
func (v *twitchVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	var values [3]string
	for i, name := range []string{TwitchMessageIDHeader, TwitchMessageTimestampHeader, TwitchMessageSignatureHeader} {
		value, ok, err := singleHeader(req.Header, name)
		if err != nil {
			return Result{}, err
		}
		if !ok {
			return Result{}, fail(ReasonMissingSignature, "%s is absent", name)
		}
		values[i] = value
	}
	id, tsRaw, sigValue := values[0], values[1], values[2]
	ts, err := parseTwitchTimestamp(tsRaw)
	if err != nil {
		return Result{}, err
	}
	sig, err := parseTwitchSignature(sigValue)
	if err != nil {
		return Result{}, err
	}
	usable := nonEmptyKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	write := func(h hash.Hash) { writeTwitchContent(h, id, tsRaw, req.Body) }
	if !anyKeyMatches(sha256.New, usable, [][]byte{sig}, write) {
		return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d keys", TwitchMessageSignatureHeader, len(usable))
	}
	if err := checkWindow(ts, now, v.tolerance); err != nil {
		return Result{}, err
	}
	if firstHeader(req.Header, TwitchMessageTypeHeader) == twitchVerificationType {
		return Result{DeliveryID: id, Timestamp: ts, Handshake: twitchHandshake(req.Body)}, nil
	}
	return Result{DeliveryID: id, Timestamp: ts}, nil
}

// parseTwitchTimestamp reads the RFC 3339 timestamp (Twitch sends
// nanoseconds). The signature covers the header text, not this value, so
// the parse only serves the window check.
func parseTwitchTimestamp(value string) (time.Time, error) {
	ts, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return time.Time{}, fail(ReasonMalformedSignature, "%s is not an RFC 3339 time", TwitchMessageTimestampHeader)
	}
	return ts.UTC(), nil
}

// parseTwitchSignature decodes "sha256=<hex>" into the raw MAC.
func parseTwitchSignature(value string) ([]byte, error) {
	return decodeSignature(TwitchMessageSignatureHeader, value, twitchSignaturePrefix, encodingHex, sha256.Size)
}

// writeTwitchContent writes id + timestamp + body, with no separators, as
// Twitch signs them.
func writeTwitchContent(h hash.Hash, id, timestamp string, body []byte) {
	h.Write([]byte(id))
	h.Write([]byte(timestamp))
	h.Write(body)
}

// twitchHandshake answers a verified webhook_callback_verification: 200
// with the raw challenge as text/plain, as Twitch requires. A challenge
// message without a challenge gets a 400 rather than being stored.
func twitchHandshake(body []byte) *Handshake {
	var msg struct {
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(body, &msg) != nil || msg.Challenge == "" {
		return &Handshake{
			Status:      http.StatusBadRequest,
			ContentType: "text/plain; charset=utf-8",
			Body:        []byte("webhook_callback_verification without a challenge\n"),
		}
	}
	return &Handshake{Status: http.StatusOK, ContentType: "text/plain", Body: []byte(msg.Challenge)}
}

// TwitchHeaders returns the signature headers Twitch would send for a
// message of type msgType with id and body, stamped ts and signed with key
// (a subscription secret).
func TwitchHeaders(id, msgType string, ts time.Time, body, key []byte) http.Header {
	t := ts.UTC().Format(time.RFC3339Nano)
	m := hmac.New(sha256.New, key)
	writeTwitchContent(m, id, t, body)
	h := http.Header{}
	h.Set(TwitchMessageIDHeader, id)
	h.Set(TwitchMessageTimestampHeader, t)
	h.Set(TwitchMessageSignatureHeader, twitchSignaturePrefix+hex.EncodeToString(m.Sum(nil)))
	h.Set(TwitchMessageTypeHeader, msgType)
	return h
}
