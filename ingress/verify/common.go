package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// DefaultTolerance is the replay window used when a verifier is given none.
// Five minutes is what the Standard Webhooks reference libraries and most
// providers document: wide enough for ordinary clock skew and a slow network,
// narrow enough that a captured request is soon useless.
const DefaultTolerance = 5 * time.Minute

// maxTimestampDigits bounds a timestamp header so that parsing can never
// overflow and time arithmetic on the result stays far from its limits.
// Twelve digits reach beyond the year 30000.
const maxTimestampDigits = 12

// encoding names how a signature's bytes are written in its header.
type encoding string

const (
	encodingHex    encoding = "hex"
	encodingBase64 encoding = "base64"
)

// errNoRequest keeps a nil request from panicking deep inside a verifier.
func errNoRequest() error {
	return fail(ReasonMissingSignature, "no request to verify")
}

// headerValues finds a header by name however its key was spelt. net/http
// always canonicalises keys, but requests built by hand (tests, other
// transports) may not, and a verifier that silently misses a lower-case key
// would report a confusing MissingSignature.
func headerValues(h http.Header, name string) []string {
	if h == nil {
		return nil
	}
	if v, ok := h[textproto.CanonicalMIMEHeaderKey(name)]; ok {
		return v
	}
	for k, v := range h {
		if len(k) == len(name) && hasPrefixFoldASCII(k, name) {
			return v
		}
	}
	return nil
}

// singleHeader returns the one value of a header that must appear at most
// once. A header sent twice is refused rather than resolved, because which
// copy a proxy or framework keeps is not something a signature check should
// depend on. An empty value counts as absent.
func singleHeader(h http.Header, name string) (value string, present bool, err error) {
	vals := headerValues(h, name)
	switch {
	case len(vals) == 0:
		return "", false, nil
	case len(vals) > 1:
		return "", false, fail(ReasonMalformedSignature, "header %s appears %d times", name, len(vals))
	}
	v := strings.TrimSpace(vals[0])
	if v == "" {
		return "", false, nil
	}
	return v, true, nil
}

// firstHeader returns the first non-empty value of an informational header,
// one that is not part of any signature and so cannot be tampered with in a
// way that matters more than any other unsigned input.
func firstHeader(h http.Header, name string) string {
	for _, v := range headerValues(h, name) {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// parseUnixSeconds parses a decimal unix timestamp. Only ASCII digits are
// accepted (no sign, no spaces, no fraction) so that the text that was signed
// and the value that is checked cannot disagree.
func parseUnixSeconds(s string) (time.Time, bool) {
	if len(s) == 0 || len(s) > maxTimestampDigits {
		return time.Time{}, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		n = n*10 + int64(c-'0')
	}
	return time.Unix(n, 0).UTC(), true
}

// checkWindow refuses timestamps further than tolerance from now in either
// direction. Future timestamps are refused too: a sender whose clock runs
// ahead would otherwise hand out requests that stay replayable for longer than
// the window promises. A timestamp exactly tolerance away is still accepted,
// matching the reference libraries.
func checkWindow(ts, now time.Time, tolerance time.Duration) error {
	if age := now.Sub(ts); age > tolerance {
		return fail(ReasonTimestampOutOfRange, "timestamp is %s in the past; tolerance is %s", age.Round(time.Second), tolerance)
	}
	if ahead := ts.Sub(now); ahead > tolerance {
		return fail(ReasonTimestampOutOfRange, "timestamp is %s in the future; tolerance is %s", ahead.Round(time.Second), tolerance)
	}
	return nil
}

// nonEmptyKeys drops empty keys. An HMAC under an empty key is something
// anyone can compute, so a blank entry in a Secret must never make a request
// verify.
func nonEmptyKeys(keys [][]byte) [][]byte {
	out := make([][]byte, 0, len(keys))
	for _, k := range keys {
		if len(k) > 0 {
			out = append(out, k)
		}
	}
	return out
}

// timestampedSignatures is a parsed "<ts key>=<unix>,<scheme>=<hex>,..."
// header, the shape Stripe (t=, v1=, commas) and Paddle (ts=, h1=,
// semicolons) share.
type timestampedSignatures struct {
	// timestamp is the timestamp exactly as sent: it is what was signed.
	timestamp  string
	time       time.Time
	signatures [][]byte
}

// timestampedFormat names the parts of one provider's header, and the byte
// that joins timestamp and body in the signed content.
type timestampedFormat struct {
	header string
	sep    string
	tsKey  string
	scheme string
	joiner byte
}

// write writes "<timestamp><joiner><body>", the signed content.
func (f timestampedFormat) write(h hash.Hash, timestamp string, body []byte) {
	h.Write([]byte(timestamp))
	h.Write([]byte{f.joiner})
	h.Write(body)
}

// verify reads f's header from req and checks its HMAC-SHA256 signatures
// over the signed content under every trimmed key. The replay window is the
// caller's: providers apply it differently.
func (f timestampedFormat) verify(req *Request, keys [][]byte) (timestampedSignatures, error) {
	value, ok, err := singleHeader(req.Header, f.header)
	if err != nil {
		return timestampedSignatures{}, err
	}
	if !ok {
		return timestampedSignatures{}, fail(ReasonMissingSignature, "%s is absent", f.header)
	}
	ts, err := parseTimestampedSignatures(f, value)
	if err != nil {
		return timestampedSignatures{}, err
	}
	usable := trimmedKeys(keys)
	if len(usable) == 0 {
		return timestampedSignatures{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	write := func(h hash.Hash) { f.write(h, ts.timestamp, req.Body) }
	if !anyKeyMatches(sha256.New, usable, ts.signatures, write) {
		return timestampedSignatures{}, fail(ReasonSignatureMismatch, "none of %d %s signatures matches any of %d keys", len(ts.signatures), f.scheme, len(usable))
	}
	return ts, nil
}

// parseTimestampedSignatures reads a header of that shape. Every element
// must be exactly one key=value pair or the whole header is malformed; the
// timestamp must be plain digits and appear exactly once (a second one
// would make what is checked differ from what a proxy or the target reads);
// several scheme entries are allowed (one per secret while a secret is
// rolled) and each must decode to a whole SHA-256 MAC, hex in either case;
// unknown keys are skipped, so a scheme added later does not take endpoints
// down. A broken entry is skipped when a good one exists; only when none
// does is the header malformed (something was unparsable) or missing.
func parseTimestampedSignatures(f timestampedFormat, value string) (timestampedSignatures, error) {
	var (
		ts      timestampedSignatures
		haveTS  bool
		badSigs int
	)
	for _, element := range strings.Split(value, f.sep) {
		key, val, ok := strings.Cut(element, "=")
		if !ok || strings.Contains(val, "=") {
			return timestampedSignatures{}, fail(ReasonMalformedSignature, "%s has an element that is not one key=value pair", f.header)
		}
		switch key {
		case f.tsKey:
			if haveTS {
				return timestampedSignatures{}, fail(ReasonMalformedSignature, "%s has more than one timestamp", f.header)
			}
			t, ok := parseUnixSeconds(val)
			if !ok {
				return timestampedSignatures{}, fail(ReasonMalformedSignature, "%s timestamp is not a unix time in seconds", f.header)
			}
			ts.timestamp, ts.time, haveTS = val, t, true
		case f.scheme:
			sig, err := hex.DecodeString(val)
			if err != nil || len(sig) != sha256.Size {
				badSigs++
				continue
			}
			ts.signatures = append(ts.signatures, sig)
		}
	}
	switch {
	case !haveTS:
		return timestampedSignatures{}, fail(ReasonMalformedSignature, "%s has no timestamp", f.header)
	case len(ts.signatures) > 0:
		return ts, nil
	case badSigs > 0:
		return timestampedSignatures{}, fail(ReasonMalformedSignature, "%s has %d unparsable %s entries and no valid one", f.header, badSigs, f.scheme)
	default:
		return timestampedSignatures{}, fail(ReasonMissingSignature, "%s holds no %s signature", f.header, f.scheme)
	}
}

// trimmedKeys returns the keys with surrounding whitespace removed (Secrets
// made with `echo` or a YAML block scalar commonly end in a newline), dropping
// any left empty: an empty credential must never be something that matches.
// For providers whose secrets are tokens the provider generates, which never
// begin or end with whitespace.
func trimmedKeys(keys [][]byte) [][]byte {
	out := make([][]byte, 0, len(keys))
	for _, k := range keys {
		if k = bytes.TrimSpace(k); len(k) > 0 {
			out = append(out, k)
		}
	}
	return out
}

// jsonStringField returns a top-level string field of a JSON object body,
// matched by its exact name; "" when the body is no object or the field is
// absent or not a string. Providers that send no delivery id header carry
// it in the (verified) body.
func jsonStringField(body []byte, name string) string {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return ""
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(trimmed, &fields) != nil {
		return ""
	}
	var v string
	if json.Unmarshal(fields[name], &v) != nil {
		return ""
	}
	return v
}

// verifyBodyMAC checks sig, the MAC presented in header, over the raw body
// under every non-empty key: the whole check of the providers that sign
// nothing but the body (GitHub, Bitbucket, Shopify, Intercom).
func verifyBodyMAC(header string, sig []byte, keys [][]byte, body []byte, newHash func() hash.Hash) error {
	usable := nonEmptyKeys(keys)
	if len(usable) == 0 {
		return fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	if !anyKeyMatches(newHash, usable, [][]byte{sig}, func(h hash.Hash) { h.Write(body) }) {
		return fail(ReasonSignatureMismatch, "%s matches none of %d keys", header, len(usable))
	}
	return nil
}

// anyKeyMatches reports whether the MAC of the content written by write, under
// any of keys, equals any of the presented signatures. Every comparison is
// constant-time so that a caller probing byte by byte learns nothing.
func anyKeyMatches(newHash func() hash.Hash, keys, sigs [][]byte, write func(hash.Hash)) bool {
	for _, k := range keys {
		m := hmac.New(newHash, k)
		write(m)
		sum := m.Sum(nil)
		for _, s := range sigs {
			if hmac.Equal(sum, s) {
				return true
			}
		}
	}
	return false
}

// decodeSignature strips prefix from the value of header name and decodes
// the rest with enc. The prefix is compared without regard to case, since
// providers are inconsistent about it and it carries no secret. The decoded
// signature must be exactly size bytes: a truncated MAC is refused as
// malformed rather than compared, so a short header can never be mistaken for
// a near miss.
//
// Errors describe the shape that was expected, never the value presented,
// because header values are attacker-controlled and end up in logs.
func decodeSignature(name, value, prefix string, enc encoding, size int) ([]byte, error) {
	v := strings.TrimSpace(value)
	if prefix != "" {
		if !hasPrefixFoldASCII(v, prefix) {
			return nil, fail(ReasonMalformedSignature, "%s does not start with %q", name, prefix)
		}
		v = v[len(prefix):]
	}
	var (
		sig []byte
		err error
	)
	switch enc {
	case encodingHex:
		// hex.DecodeString accepts both cases, which some senders need.
		sig, err = hex.DecodeString(v)
	case encodingBase64:
		sig, err = decodeBase64(v)
	default:
		return nil, fail(ReasonMalformedSignature, "%s: unsupported encoding %q", name, string(enc))
	}
	if err != nil {
		return nil, fail(ReasonMalformedSignature, "%s is not valid %s", name, string(enc))
	}
	if len(sig) != size {
		return nil, fail(ReasonMalformedSignature, "%s holds %d bytes, want %d", name, len(sig), size)
	}
	return sig, nil
}

// hasPrefixFoldASCII is strings.HasPrefix ignoring ASCII case only. Unicode
// case folding would let exotic characters (the long s, the Kelvin sign)
// stand in for a prefix, which no sender means.
func hasPrefixFoldASCII(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != lowerASCII(prefix[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// decodeBase64 accepts standard base64 with or without padding: senders
// differ, and since the decoded bytes are what get compared, leniency here
// admits no forgery.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.Strict().DecodeString(s)
	}
	return base64.RawStdEncoding.Strict().DecodeString(s)
}
