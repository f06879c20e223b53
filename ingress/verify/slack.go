package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/http"
	"strconv"
	"time"
)

// Headers Slack signs its requests with
// (https://api.slack.com/authentication/verifying-requests-from-slack).
const (
	// SlackSignatureHeader carries "v0=" and the hex HMAC-SHA256 of
	// "v0:{timestamp}:{body}" under the app's signing secret.
	SlackSignatureHeader = "X-Slack-Signature"
	// SlackTimestampHeader is the signed send time in unix seconds.
	SlackTimestampHeader = "X-Slack-Request-Timestamp"
)

const (
	// slackVersion is the only signature version Slack has published. It is
	// both the header prefix ("v0=") and the first field of the signed
	// string ("v0:").
	slackVersion = "v0"
	// slackURLVerification is the Events API handshake type.
	slackURLVerification = "url_verification"
)

type slackVerifier struct {
	tolerance time.Duration
}

// NewSlack returns a Verifier for requests from Slack (Events API,
// interactivity, slash commands): every one is signed the same way, whatever
// its body's format. Keys are the app's signing secret as raw bytes.
//
// tolerance bounds X-Slack-Request-Timestamp in either direction; zero or
// negative means the five minutes Slack documents.
//
// An Events API url_verification request is answered with its challenge, as
// a Result.Handshake, but only once the request itself verified: Slack signs
// it like any other, and echoing challenges to unsigned requests would let
// anyone register the endpoint's URL with their own Slack app.
func NewSlack(tolerance time.Duration) Verifier {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	return &slackVerifier{tolerance: tolerance}
}

// Verify implements Verifier.
func (v *slackVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	value, ok, err := singleHeader(req.Header, SlackSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", SlackSignatureHeader)
	}
	tsRaw, ok, err := singleHeader(req.Header, SlackTimestampHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", SlackTimestampHeader)
	}
	ts, ok := parseUnixSeconds(tsRaw)
	if !ok {
		return Result{}, fail(ReasonMalformedSignature, "%s is not a unix time in seconds", SlackTimestampHeader)
	}
	sig, err := parseSlackSignature(value)
	if err != nil {
		return Result{}, err
	}
	usable := nonEmptyKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	// The timestamp is signed as the exact text that was sent.
	write := func(h hash.Hash) { writeSlackContent(h, tsRaw, req.Body) }
	if !anyKeyMatches(sha256.New, usable, [][]byte{sig}, write) {
		return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d keys", SlackSignatureHeader, len(usable))
	}
	// Checked after the signature, so TimestampOutOfRange is only ever
	// reported for requests Slack really signed.
	if err := checkWindow(ts, now, v.tolerance); err != nil {
		return Result{}, err
	}
	body := parseSlackBody(req.Body)
	res := Result{DeliveryID: body.eventID, Timestamp: ts}
	if body.challenge != "" {
		// Plain text is the first of the three answers Slack documents
		// (https://api.slack.com/events/url_verification).
		res.Handshake = &Handshake{Status: http.StatusOK, ContentType: "text/plain", Body: []byte(body.challenge)}
	}
	return res, nil
}

// parseSlackSignature decodes "v0=<hex>" into the raw MAC.
func parseSlackSignature(value string) ([]byte, error) {
	return decodeSignature(SlackSignatureHeader, value, slackVersion+"=", encodingHex, sha256.Size)
}

// writeSlackContent writes "v0:{timestamp}:{body}", the string Slack signs.
func writeSlackContent(h hash.Hash, timestamp string, body []byte) {
	h.Write([]byte(slackVersion + ":"))
	h.Write([]byte(timestamp))
	h.Write([]byte{':'})
	h.Write(body)
}

// slackBody is what a verifier needs from an already verified body.
type slackBody struct {
	// eventID is the Events API event_id, unique per event and repeated on
	// Slack's retries, which is exactly a dedupe key.
	eventID string
	// challenge is set only for a url_verification request.
	challenge string
}

// parseSlackBody reads event_id, or the url_verification challenge, from an
// Events API JSON body. Anything else (form-encoded slash commands and
// interactivity payloads, JSON without those fields) yields nothing: this
// parse only serves dedupe and the handshake, never the signature, which is
// always over the raw bytes.
func parseSlackBody(body []byte) slackBody {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return slackBody{}
	}
	// A map keeps key matching exact; decoding into a struct would match
	// "Event_ID" too.
	var fields map[string]json.RawMessage
	if json.Unmarshal(trimmed, &fields) != nil {
		return slackBody{}
	}
	str := func(name string) string {
		var s string
		if json.Unmarshal(fields[name], &s) != nil {
			return ""
		}
		return s
	}
	if str("type") == slackURLVerification {
		return slackBody{challenge: str("challenge")}
	}
	return slackBody{eventID: str("event_id")}
}

// SignSlack returns the X-Slack-Request-Timestamp and X-Slack-Signature
// values Slack would send for body at ts under key (the signing secret as raw
// bytes).
func SignSlack(ts time.Time, body, key []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, key)
	writeSlackContent(m, timestamp, body)
	return timestamp, slackVersion + "=" + hex.EncodeToString(m.Sum(nil))
}

func init() {
	register("slack", func(o Options) (Verifier, error) { return NewSlack(o.Tolerance), nil })
}
