package verify

import (
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strings"
	"time"
)

// Headers defined by the Standard Webhooks specification
// (https://www.standardwebhooks.com/), and the Svix names they grew out of.
const (
	StandardWebhooksIDHeader        = "webhook-id"
	StandardWebhooksTimestampHeader = "webhook-timestamp"
	StandardWebhooksSignatureHeader = "webhook-signature"

	SvixIDHeader        = "svix-id"
	SvixTimestampHeader = "svix-timestamp"
	SvixSignatureHeader = "svix-signature"
)

// StandardWebhooksSecretPrefix marks a Standard Webhooks signing secret. It
// is optional on keys given to the verifier.
const StandardWebhooksSecretPrefix = "whsec_"

// standardWebhooksVersion is the signature identifier for the symmetric
// (HMAC-SHA256) scheme. Other identifiers, such as "v1a" for ed25519, belong
// to schemes this verifier does not implement and are skipped.
const standardWebhooksVersion = "v1"

// standardHeaderSet is one naming of the three Standard Webhooks headers.
type standardHeaderSet struct {
	id, timestamp, signature string
}

var (
	standardHeaders = standardHeaderSet{StandardWebhooksIDHeader, StandardWebhooksTimestampHeader, StandardWebhooksSignatureHeader}
	svixHeaders     = standardHeaderSet{SvixIDHeader, SvixTimestampHeader, SvixSignatureHeader}
)

type standardWebhooksVerifier struct {
	tolerance time.Duration
}

// NewStandardWebhooks returns a Verifier for the Standard Webhooks
// specification (HMAC-SHA256, "v1" signatures), which Svix and the providers
// built on it also follow under svix-* header names.
//
// Keys are signing secrets as the provider shows them: base64, optionally
// prefixed "whsec_". A key that does not decode is skipped, so one bad entry
// in a Secret does not take the endpoint down during a rotation.
//
// tolerance bounds how far webhook-timestamp may be from now in either
// direction; zero or negative means DefaultTolerance.
func NewStandardWebhooks(tolerance time.Duration) Verifier {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	return &standardWebhooksVerifier{tolerance: tolerance}
}

// Verify implements Verifier.
//
// The signature is checked before the timestamp so that TimestampOutOfRange
// is only ever reported for requests the provider really signed: a stale but
// authentic request points at a replay or a skewed clock, which is worth
// telling apart from noise.
func (v *standardWebhooksVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	sr, err := readStandardHeaders(req)
	if err != nil {
		return Result{}, err
	}
	id, tsRaw, ts := sr.id, sr.tsRaw, sr.ts
	sigs, err := parseStandardSignatures(sr.sigName, sr.sigValue)
	if err != nil {
		return Result{}, err
	}
	usable := decodeStandardKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "none of %d keys is a base64 signing secret", len(keys))
	}
	// The timestamp is signed as the exact text that was sent, so what is
	// authenticated is byte for byte what was parsed above.
	write := func(h hash.Hash) { writeStandardContent(h, id, tsRaw, req.Body) }
	if !anyKeyMatches(sha256.New, usable, sigs, write) {
		return Result{}, fail(ReasonSignatureMismatch, "none of %d v1 signatures matches any of %d keys", len(sigs), len(usable))
	}
	if err := checkWindow(ts, now, v.tolerance); err != nil {
		return Result{}, err
	}
	return Result{DeliveryID: id, Timestamp: ts}, nil
}

// standardRequest is what both Standard Webhooks schemes read from the
// headers before checking signatures.
type standardRequest struct {
	id       string
	tsRaw    string // exactly as sent: it is what was signed
	ts       time.Time
	sigName  string
	sigValue string
}

// readStandardHeaders requires the id, timestamp and signature headers of
// one family, each at most once, and parses the timestamp.
func readStandardHeaders(req *Request) (standardRequest, error) {
	names := pickStandardHeaders(req)
	var sr standardRequest
	for _, h := range []struct {
		name string
		dst  *string
	}{{names.id, &sr.id}, {names.timestamp, &sr.tsRaw}, {names.signature, &sr.sigValue}} {
		v, ok, err := singleHeader(req.Header, h.name)
		if err != nil {
			return standardRequest{}, err
		}
		if !ok {
			return standardRequest{}, fail(ReasonMissingSignature, "%s is absent", h.name)
		}
		*h.dst = v
	}
	ts, ok := parseUnixSeconds(sr.tsRaw)
	if !ok {
		return standardRequest{}, fail(ReasonMalformedSignature, "%s is not a unix time in seconds", names.timestamp)
	}
	sr.ts, sr.sigName = ts, names.signature
	return sr, nil
}

// pickStandardHeaders uses the webhook-* names if any of them is present and
// the svix-* names otherwise. The three are never mixed across families: a
// request carrying some of each is not one any sender produces.
func pickStandardHeaders(req *Request) standardHeaderSet {
	for _, name := range []string{standardHeaders.id, standardHeaders.timestamp, standardHeaders.signature} {
		if len(headerValues(req.Header, name)) > 0 {
			return standardHeaders
		}
	}
	for _, name := range []string{svixHeaders.id, svixHeaders.timestamp, svixHeaders.signature} {
		if len(headerValues(req.Header, name)) > 0 {
			return svixHeaders
		}
	}
	return standardHeaders
}

// writeStandardContent writes "{id}.{timestamp}.{body}", the signed content
// the specification defines.
func writeStandardContent(h hash.Hash, id, timestamp string, body []byte) {
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
}

// parseStandardSignatures reads a webhook-signature value: a space-delimited
// list of "<version>,<base64>" entries, several when the sender signs with an
// old and a new secret during rotation. It returns the decoded v1 signatures.
//
// Entries of other versions are skipped so that senders can add schemes
// without breaking receivers. A v1 entry that does not decode to a 32-byte
// MAC is skipped too if another v1 entry is good; only when no v1 entry is
// usable does the header count as malformed (if anything in it was
// unparsable) or missing (if it simply holds no v1 signature).
func parseStandardSignatures(name, value string) ([][]byte, error) {
	entries := strings.Fields(value)
	if len(entries) == 0 {
		return nil, fail(ReasonMissingSignature, "%s is empty", name)
	}
	var (
		sigs [][]byte
		bad  int
	)
	for _, e := range entries {
		version, sig, ok := strings.Cut(e, ",")
		if !ok || version == "" || sig == "" {
			bad++
			continue
		}
		if version != standardWebhooksVersion {
			continue
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(sig)
		if err != nil || len(raw) != sha256.Size {
			bad++
			continue
		}
		sigs = append(sigs, raw)
	}
	switch {
	case len(sigs) > 0:
		return sigs, nil
	case bad > 0:
		return nil, fail(ReasonMalformedSignature, "%s has %d unparsable entries and no valid v1 signature", name, bad)
	default:
		return nil, fail(ReasonMissingSignature, "%s holds no v1 signature", name)
	}
}

// formatStandardSignature is the inverse of one parseStandardSignatures
// entry.
func formatStandardSignature(mac []byte) string {
	return standardWebhooksVersion + "," + base64.StdEncoding.EncodeToString(mac)
}

// decodeStandardKeys turns signing secrets into HMAC keys, dropping any that
// do not decode or decode to nothing.
func decodeStandardKeys(keys [][]byte) [][]byte {
	out := make([][]byte, 0, len(keys))
	for _, k := range keys {
		if key, ok := decodeStandardKey(k); ok {
			out = append(out, key)
		}
	}
	return out
}

// decodeStandardKey decodes one "whsec_<base64>" (or bare base64) secret.
// Surrounding whitespace is ignored because Secrets made with `echo` or a
// YAML block scalar commonly end in a newline.
func decodeStandardKey(secret []byte) ([]byte, bool) {
	s := strings.TrimSpace(string(secret))
	s = strings.TrimPrefix(s, StandardWebhooksSecretPrefix)
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(key) == 0 {
		return nil, false
	}
	return key, true
}
