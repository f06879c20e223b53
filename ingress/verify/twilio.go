package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Twilio signs every webhook request as described in
// https://www.twilio.com/docs/usage/webhooks/webhooks-security and
// implemented by the official SDKs (twilio-go client.RequestValidator,
// twilio-node webhooks.validateRequest).
const (
	// TwilioSignatureHeader carries the base64 HMAC-SHA1 of the URL (and,
	// for form posts, the sorted parameters) keyed with the auth token.
	TwilioSignatureHeader = "X-Twilio-Signature"
	// TwilioIdempotencyHeader is sent by Twilio with the same value on
	// retries of one callback. It is not signed.
	TwilioIdempotencyHeader = "I-Twilio-Idempotency-Token"
	// twilioBodyHashParam is the query parameter Twilio adds to the URL when
	// the body is not form-encoded (JSON): the hex SHA-256 of the body.
	twilioBodyHashParam = "bodySHA256"
)

type twilioVerifier struct{ urls signedURLs }

func init() {
	register("twilio", func(o Options) (Verifier, error) { return NewTwilioWithOptions(o), nil })
}

// NewTwilio returns a Verifier for Twilio webhooks. Keys are account auth
// tokens (the primary first; Twilio signs with the primary, so a secondary
// only helps while a promotion is in flight), trimmed of surrounding
// whitespace since tokens have none.
//
// The signature covers the URL Twilio called, so the receiver must hand in
// the URL as Twilio saw it (scheme and host after trusted-proxy handling),
// or be told it (NewTwilioWithOptions, spec.signedURL).
//
// Twilio signs no timestamp: a captured request stays valid for as long as
// the auth token does. The idempotency header used for dedupe is not
// signed, so it stops Twilio's own retries, not a replay with a new token;
// Twilio endpoints should keep spec.sourceRanges or another layer in front
// where that matters.
func NewTwilio() Verifier { return twilioVerifier{} }

// NewTwilioWithOptions is NewTwilio verifying against o.SignedURL or
// o.PublicURL (signedurl.go).
func NewTwilioWithOptions(o Options) Verifier { return twilioVerifier{urls: newSignedURLs(o)} }

// Verify implements Verifier.
func (v twilioVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	value, ok, err := singleHeader(req.Header, TwilioSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", TwilioSignatureHeader)
	}
	sig, err := decodeSignature(TwilioSignatureHeader, value, "", encodingBase64, sha1.Size)
	if err != nil {
		return Result{}, err
	}
	urls := v.urls.candidates(req)
	if len(urls) == 0 {
		return Result{}, fail(ReasonMissingSignature, "the request URL, which Twilio signs, is unknown")
	}
	// Every candidate carries the request's query, so the body hash is
	// the same for all.
	content, err := twilioSignedContent(urls[0], req.Body)
	if err != nil {
		return Result{}, err
	}
	usable := trimmedKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	for _, candidate := range urls {
		for _, u := range twilioURLVariants(candidate) {
			write := func(h hash.Hash) { content.write(h, u) }
			if anyKeyMatches(sha1.New, usable, [][]byte{sig}, write) {
				return Result{DeliveryID: firstHeader(req.Header, TwilioIdempotencyHeader)}, nil
			}
		}
	}
	return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d keys", TwilioSignatureHeader, len(usable))
}

// twilioContent is what Twilio appends to the URL before signing.
type twilioContent struct {
	// params are "name"+"value" strings in signing order: names sorted,
	// and each name's distinct values sorted.
	params []string
}

func (c twilioContent) write(h hash.Hash, u string) {
	h.Write([]byte(u))
	for _, p := range c.params {
		h.Write([]byte(p))
	}
}

// twilioSignedContent works out what follows the URL in the signed string,
// and checks the body hash when Twilio sent one.
//
// When the URL carries bodySHA256 (Twilio does this for JSON bodies), the
// signature covers the URL alone and the body is bound to it through that
// hash, which must match. Otherwise the body is read as
// application/x-www-form-urlencoded parameters, which is what Twilio posts;
// a GET or an empty body has none. Parameter names are sorted by byte
// order, which for UTF-8 is Unicode code point order, and a name sent
// several times contributes each distinct value once, in sorted order: what
// Twilio's servers sign, as twilio-python and twilio-node reproduce it (the
// python vector is in twilio_test.go). twilio-go signs only the first value
// of such a name, so it refuses Twilio's signatures over repeated names and
// accepts values appended to a signed one; we do not follow it there.
func twilioSignedContent(u *url.URL, body []byte) (twilioContent, error) {
	// The query is signed as the text it is; it is parsed only to find the
	// body hash, so a parse error elsewhere in it does not matter here.
	query, _ := url.ParseQuery(u.RawQuery)
	hashes := query[twilioBodyHashParam]
	switch {
	case len(hashes) > 1:
		return twilioContent{}, fail(ReasonMalformedSignature, "URL has %d %s parameters", len(hashes), twilioBodyHashParam)
	case len(hashes) == 1:
		want, err := hex.DecodeString(hashes[0])
		if err != nil || len(want) != sha256.Size {
			return twilioContent{}, fail(ReasonMalformedSignature, "%s is not a hex SHA-256", twilioBodyHashParam)
		}
		got := sha256.Sum256(body)
		if !hmac.Equal(got[:], want) {
			return twilioContent{}, fail(ReasonSignatureMismatch, "body does not match %s", twilioBodyHashParam)
		}
		return twilioContent{}, nil
	}
	params, err := url.ParseQuery(string(body))
	if err != nil {
		return twilioContent{}, fail(ReasonMalformedSignature, "body is neither form-encoded nor covered by %s", twilioBodyHashParam)
	}
	return twilioContent{params: twilioSortedParams(params)}, nil
}

// twilioSortedParams flattens form parameters into signing order.
func twilioSortedParams(params url.Values) []string {
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		values := append([]string(nil), params[name]...)
		sort.Strings(values)
		for i, v := range values {
			if i > 0 && v == values[i-1] {
				continue
			}
			out = append(out, name+v)
		}
	}
	return out
}

// twilioURLVariants returns the URL as received plus the one other spelling
// the official SDKs also try: with the scheme's default port added when
// none is given, or with the port removed when one is. Twilio's own SDKs
// explain this as "signature generation on the back end is inconsistent"
// about ports. Removing any port, not only 443 or 80, is what twilio-go
// and twilio-node do; a port only moves the signature between URLs of the
// same host and token.
func twilioURLVariants(u *url.URL) []string {
	out := []string{u.String()}
	host := u.Hostname()
	if host == "" {
		// No host, no port to speak of: Twilio only calls absolute URLs.
		return out
	}
	c := *u
	if strings.Contains(host, ":") {
		// Only an IPv6 literal may hold colons; anything else is no host
		// Twilio could have called, and bracketing it would not parse.
		if _, err := netip.ParseAddr(host); err != nil {
			return out
		}
		host = "[" + host + "]"
	}
	if u.Port() != "" {
		c.Host = host
		return append(out, c.String())
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		c.Host = net.JoinHostPort(u.Hostname(), "443")
	case "http":
		c.Host = net.JoinHostPort(u.Hostname(), "80")
	default:
		return out
	}
	return append(out, c.String())
}

// SignTwilio returns the X-Twilio-Signature value Twilio would send for a
// request to u with body under key (an auth token). u is signed exactly as
// u.String() spells it, so set the bodySHA256 query parameter on it first
// for a JSON body. It fails if the body is not form-encoded and u carries no
// body hash, or carries a wrong one.
func SignTwilio(u *url.URL, body, key []byte) (string, error) {
	if u == nil {
		return "", fail(ReasonMissingSignature, "no URL to sign")
	}
	content, err := twilioSignedContent(u, body)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha1.New, bytes.TrimSpace(key))
	content.write(m, u.String())
	return base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}
