package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// The verification GETs of table-driven HMAC providers:
//
//   - Meta (facebook, instagram, whatsapp): GET ?hub.mode=subscribe&
//     hub.verify_token=<token>&hub.challenge=<c>, answered with the
//     challenge as text/plain when the verify token is the endpoint's
//     (https://developers.facebook.com/docs/graph-api/webhooks/getting-started).
//     The verify token is a string the receiver's owner typed into the App
//     Dashboard; it lives in the same Secret value as the app secret,
//     "<verify token>:<app secret>" (hookv1.KeyFormatVerifyTokenSecret).
//   - X: GET ?crc_token=<t>, answered {"response_token": "sha256=<base64
//     HMAC-SHA256(t) under the consumer secret>"}
//     (https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/securing-webhooks).
//     Anyone may ask, as X does: the answer proves we hold the key.
//
// X signs events with the same key and construction as the CRC answer,
// HMAC-SHA256(consumer secret, message), so a CRC answer for a crc_token
// equal to a body would be a valid signature of that body: an oracle. The
// two are kept apart: a crc_token may hold only token characters (no '{'
// and no space), and an X event must be a JSON object, whose first
// non-space byte is '{'.

// Query parameters of the handshakes.
const (
	MetaModeParam        = "hub.mode"
	MetaVerifyTokenParam = "hub.verify_token"
	MetaChallengeParam   = "hub.challenge"
	XCRCTokenParam       = "crc_token"
)

// maxChallengeLen bounds what is echoed or signed on request of a GET.
const maxChallengeLen = 512

// answerHandshake answers the provider's verification request or refuses
// it; it never returns an event.
func (t *tableHMAC) answerHandshake(req *Request, keys [][]byte) (Result, error) {
	q, err := handshakeQuery(req)
	if err != nil {
		return Result{}, err
	}
	switch t.handshake.Kind {
	case hookv1.HandshakeMetaSubscribe:
		return t.answerMeta(q, keys)
	case hookv1.HandshakeXCRC:
		return t.answerXCRC(q, keys)
	case hookv1.HandshakeDropboxChallenge:
		return answerDropbox(q)
	}
	return Result{}, fail(ReasonMissingSignature, "a %s request is not a handshake of this provider", req.Method)
}

func (t *tableHMAC) answerMeta(q url.Values, keys [][]byte) (Result, error) {
	token, challenge, err := hubSubscription(q)
	if err != nil {
		return Result{}, err
	}
	var tokens [][]byte
	for _, k := range keys {
		if vt, _ := splitVerifyToken(k); len(vt) > 0 {
			tokens = append(tokens, vt)
		}
	}
	if len(tokens) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no key holds a verify token (write the Secret value as <verify token>:<app secret>)")
	}
	if !credentialMatchesAny([]byte(token), tokens) {
		return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d verify tokens", MetaVerifyTokenParam, len(tokens))
	}
	return Result{Handshake: &Handshake{Status: http.StatusOK, ContentType: "text/plain", Body: []byte(challenge)}}, nil
}

func (t *tableHMAC) answerXCRC(q url.Values, keys [][]byte) (Result, error) {
	crc, err := oneParam(q, XCRCTokenParam)
	if err != nil {
		return Result{}, err
	}
	if !tokenText(crc) {
		return Result{}, fail(ReasonMalformedSignature, "%s is not a short token", XCRCTokenParam)
	}
	usable := nonEmptyKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	// The current key: X computes its check with the secret it holds now.
	body, _ := json.Marshal(map[string]string{"response_token": SignXCRC(crc, usable[0])})
	return Result{Handshake: &Handshake{Status: http.StatusOK, ContentType: "application/json", Body: body}}, nil
}

// SignXCRC is X's answer to a challenge-response check.
func SignXCRC(crcToken string, consumerSecret []byte) string {
	m := hmac.New(sha256.New, consumerSecret)
	m.Write([]byte(crcToken))
	return "sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// checkEvent applies a provider's rule on what an event may be, before its
// signature is checked.
func (t *tableHMAC) checkEvent(req *Request) error {
	if t.handshake.Kind == hookv1.HandshakeXCRC {
		if b := bytes.TrimLeft(req.Body, " \t\r\n"); len(b) == 0 || b[0] != '{' {
			return fail(ReasonMalformedSignature, "an X event is a JSON object")
		}
	}
	return nil
}

// secrets returns the signing part of each key.
func (t *tableHMAC) secrets(keys [][]byte) [][]byte {
	if !t.splitKeys {
		return keys
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = t.secret(k)
	}
	return out
}

func (t *tableHMAC) secret(key []byte) []byte {
	if !t.splitKeys {
		return key
	}
	_, s := splitVerifyToken(key)
	return s
}

// splitVerifyToken splits "[verify token:]secret" at its last colon.
func splitVerifyToken(key []byte) (token, secret []byte) {
	key = bytes.TrimSpace(key)
	i := bytes.LastIndexByte(key, ':')
	if i < 0 {
		return nil, key
	}
	return key[:i], key[i+1:]
}

func handshakeQuery(req *Request) (url.Values, error) {
	if req.URL == nil {
		return nil, fail(ReasonMissingSignature, "a %s request without a query is no handshake", req.Method)
	}
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return nil, fail(ReasonMalformedSignature, "the query does not parse")
	}
	return q, nil
}

// oneParam returns a query parameter that must appear exactly once.
func oneParam(q url.Values, name string) (string, error) {
	switch v := q[name]; {
	case len(v) == 0 || v[0] == "":
		return "", fail(ReasonMissingSignature, "query parameter %s is absent", name)
	case len(v) > 1:
		return "", fail(ReasonMalformedSignature, "query parameter %s appears %d times", name, len(v))
	default:
		return v[0], nil
	}
}

// tokenText reports whether s is a short run of characters a challenge is
// made of: letters, digits and -._~+/=. Nothing else is echoed or signed.
func tokenText(s string) bool {
	if len(s) == 0 || len(s) > maxChallengeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case bytes.IndexByte([]byte("-._~+/="), c) >= 0:
		default:
			return false
		}
	}
	return true
}

// hubSubscription reads a hub.* subscription check (Meta, Strava): exactly
// one hub.mode=subscribe, hub.verify_token and hub.challenge, the
// challenge a short token.
func hubSubscription(q url.Values) (token, challenge string, err error) {
	mode, err := oneParam(q, MetaModeParam)
	if err != nil {
		return "", "", err
	}
	token, err = oneParam(q, MetaVerifyTokenParam)
	if err != nil {
		return "", "", err
	}
	challenge, err = oneParam(q, MetaChallengeParam)
	if err != nil {
		return "", "", err
	}
	if mode != "subscribe" {
		return "", "", fail(ReasonMalformedSignature, "%s is %q, not subscribe", MetaModeParam, mode)
	}
	if !tokenText(challenge) {
		return "", "", fail(ReasonMalformedSignature, "%s is not a short token", MetaChallengeParam)
	}
	return token, challenge, nil
}
