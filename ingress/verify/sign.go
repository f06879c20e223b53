package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

// The Sign* helpers produce what a provider would send, so that tests in
// other packages (receiver, e2e, benchmarks) can build signed requests without
// re-implementing each scheme. They live in a non-test file because Go does
// not share _test.go code across packages. They use the same key formats the
// verifiers accept, so a test can put one value in a Secret and sign with it.

// SignGitHub returns the X-Hub-Signature-256 value for body under key (the
// webhook secret as raw bytes).
func SignGitHub(body, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return githubSHA256.prefix + hex.EncodeToString(m.Sum(nil))
}

// SignStandardWebhooks returns a webhook-signature value ("v1,<base64>") for
// a delivery. key is a signing secret in the form the verifier takes
// ("whsec_<base64>" or bare base64). A key that does not decode is used as raw
// HMAC key bytes instead, which yields a signature the verifier rejects; that
// keeps this helper usable for wrong-key tests without an error to handle.
func SignStandardWebhooks(id string, ts time.Time, body, key []byte) string {
	hmacKey, ok := decodeStandardKey(key)
	if !ok {
		hmacKey = key
	}
	m := hmac.New(sha256.New, hmacKey)
	writeStandardContent(m, id, strconv.FormatInt(ts.Unix(), 10), body)
	return formatStandardSignature(m.Sum(nil))
}

// StandardWebhooksHeaders returns the three headers of a signed Standard
// Webhooks delivery, ready to copy onto a request.
func StandardWebhooksHeaders(id string, ts time.Time, body, key []byte) http.Header {
	h := http.Header{}
	h.Set(StandardWebhooksIDHeader, id)
	h.Set(StandardWebhooksTimestampHeader, strconv.FormatInt(ts.Unix(), 10))
	h.Set(StandardWebhooksSignatureHeader, SignStandardWebhooks(id, ts, body, key))
	return h
}

// StandardWebhooksSecret encodes raw key bytes as a "whsec_" signing secret,
// the form a provider hands out and the verifier expects in a Secret.
func StandardWebhooksSecret(raw []byte) []byte {
	return []byte(StandardWebhooksSecretPrefix + base64.StdEncoding.EncodeToString(raw))
}

// SignGenericHMAC returns the value of opts.Header for req under key (raw
// bytes), prefix included. The id, timestamp and URL are read from req just
// as the verifier reads them, so set opts.IDHeader and opts.TimestampHeader
// on req.Header (and req.URL, for {url}) before signing. It fails if opts is
// invalid or a header the template needs is missing.
func SignGenericHMAC(opts GenericHMACOptions, req *Request, key []byte) (string, error) {
	g, err := compileGenericHMAC(opts)
	if err != nil {
		return "", err
	}
	if req == nil {
		return "", errNoRequest()
	}
	fields, err := g.readFields(req)
	if err != nil {
		return "", err
	}
	m := hmac.New(g.newHash, key)
	g.writeContent(m, req, fields)
	return g.prefix + encodeSignature(g.encoding, m.Sum(nil)), nil
}

// encodeSignature is the inverse of decodeSignature's decoding step.
func encodeSignature(enc encoding, mac []byte) string {
	if enc == encodingBase64 {
		return base64.StdEncoding.EncodeToString(mac)
	}
	return hex.EncodeToString(mac)
}
