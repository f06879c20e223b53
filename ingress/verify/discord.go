package verify

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers Discord sends with every request to an interactions endpoint
// (https://discord.com/developers/docs/interactions/overview, "Setting Up an
// Endpoint").
const (
	// DiscordSignatureHeader carries the hex Ed25519 signature of the
	// timestamp followed by the body.
	DiscordSignatureHeader = "X-Signature-Ed25519"
	// DiscordTimestampHeader carries the signed send time in unix seconds.
	DiscordTimestampHeader = "X-Signature-Timestamp"
)

// discordPing is the interaction type Discord sends when an interactions
// endpoint URL is saved in the developer portal, and again later to check it.
const discordPing = 1

func init() {
	register("discord", func(o Options) (Verifier, error) { return NewDiscord(o), nil })
}

type discordVerifier struct {
	tolerance  time.Duration
	publicKeys [][]byte
}

// NewDiscord returns a Verifier for Discord interactions. Keys are the
// application's public key as the developer portal shows it: 64 hex digits.
// Both o.PublicKeys and the keys passed to Verify are tried, so the verifier
// works whichever way the receiver hands them over. A key that does not
// decode is skipped, so a new key can be listed beside the old one.
//
// Discord documents no replay window. o.Tolerance bounds how far
// X-Signature-Timestamp may be from now in either direction; zero means
// DefaultTolerance. Discord expects an answer within three seconds and
// documents no retries of interactions, so a short window loses nothing.
//
// A verified PING (type 1) comes back with Result.Handshake set to the PONG
// Discord expects; the receiver answers it and stores nothing. Requests that
// fail verification never get one: Discord deliberately sends badly signed
// requests and requires a 401 for them.
func NewDiscord(o Options) Verifier {
	tolerance := o.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	return &discordVerifier{tolerance: tolerance, publicKeys: o.PublicKeys}
}

// Verify implements Verifier.
//
// The signature is checked before the timestamp so that TimestampOutOfRange
// is reported only for requests Discord really signed.
func (v *discordVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	sigHeader, ok, err := singleHeader(req.Header, DiscordSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", DiscordSignatureHeader)
	}
	tsRaw, ok, err := singleHeader(req.Header, DiscordTimestampHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", DiscordTimestampHeader)
	}
	ts, ok := parseUnixSeconds(tsRaw)
	if !ok {
		return Result{}, fail(ReasonMalformedSignature, "%s is not a unix time in seconds", DiscordTimestampHeader)
	}
	sig, err := parseDiscordSignature(sigHeader)
	if err != nil {
		return Result{}, err
	}
	usable := decodeDiscordKeys(v.publicKeys, keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "none of %d keys is a hex Ed25519 public key", len(v.publicKeys)+len(keys))
	}
	// Discord signs the timestamp text exactly as sent, then the raw body.
	msg := make([]byte, 0, len(tsRaw)+len(req.Body))
	msg = append(append(msg, tsRaw...), req.Body...)
	if !ed25519AnyVerifies(usable, msg, [][]byte{sig}) {
		return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d public keys", DiscordSignatureHeader, len(usable))
	}
	if err := checkWindow(ts, now, v.tolerance); err != nil {
		return Result{}, err
	}
	in := parseDiscordInteraction(req.Body)
	res := Result{DeliveryID: in.ID, Timestamp: ts}
	if in.Type == discordPing {
		res.Handshake = &Handshake{
			Status:      http.StatusOK,
			ContentType: "application/json",
			// Interaction callback type 1, PONG.
			Body: []byte(`{"type":1}`),
		}
	}
	return res, nil
}

// SignDiscord returns the X-Signature-Ed25519 value Discord would send for
// body at ts, for tests in other packages that need a signed interaction.
// Set X-Signature-Timestamp to strconv.FormatInt(ts.Unix(), 10).
func SignDiscord(priv ed25519.PrivateKey, ts time.Time, body []byte) string {
	msg := append([]byte(strconv.FormatInt(ts.Unix(), 10)), body...)
	return hex.EncodeToString(ed25519.Sign(priv, msg))
}

// parseDiscordSignature decodes the hex X-Signature-Ed25519 value.
func parseDiscordSignature(value string) ([]byte, error) {
	return decodeSignature(DiscordSignatureHeader, value, "", encodingHex, ed25519.SignatureSize)
}

// decodeDiscordKeys decodes every usable hex public key from both lists,
// each once. Surrounding whitespace is ignored because keys pasted into YAML
// or made with `echo` often carry a newline.
func decodeDiscordKeys(lists ...[][]byte) []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, list := range lists {
		for _, k := range list {
			raw, err := hex.DecodeString(strings.TrimSpace(string(k)))
			if err != nil || !ed25519KeyUsable(raw) {
				continue
			}
			out = appendEd25519Key(out, raw)
		}
	}
	return out
}

// discordInteraction is the part of an interaction body the receiver needs.
type discordInteraction struct {
	// ID is the interaction's snowflake, unique per interaction, so it is
	// the dedupe key.
	ID   string `json:"id"`
	Type int    `json:"type"`
}

// parseDiscordInteraction reads the id and type of a verified body. A body
// that is not an interaction object yields neither: the request is still
// authentic, it just has no dedupe key and is no PING.
func parseDiscordInteraction(body []byte) discordInteraction {
	var in discordInteraction
	if err := json.Unmarshal(body, &in); err != nil {
		return discordInteraction{}
	}
	return in
}
