package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Braintree posts webhooks as a form with two fields: bt_payload (base64
// XML) and bt_signature, "<public key>|<hex HMAC-SHA1>" pairs joined by
// "&", where the HMAC is keyed with SHA-1(private key) and covers
// bt_payload. This is what the SDKs' WebhookNotification.parse checks
// (https://developer.paypal.com/braintree/docs/guides/webhooks/parse;
// braintree_ruby lib/braintree/webhook_notification_gateway.rb and
// lib/braintree/digest.rb), including their acceptance of a signature over
// the payload followed by a newline.

const (
	BraintreeSignatureField = "bt_signature"
	BraintreePayloadField   = "bt_payload"
)

func init() {
	register(string(hookv1.SchemeBraintree), func(Options) (Verifier, error) { return braintreeVerifier{}, nil })
}

type braintreeVerifier struct{}

// Verify implements Verifier. Keys are "<public key>:<private key>" (the
// API key pair from the Braintree Control Panel). Braintree's signature
// covers the payload, which carries its own timestamp, but the SDKs check
// no window and there is no delivery id outside the XML.
func (braintreeVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	sigField, payload, err := braintreeFields(req.Body)
	if err != nil {
		return Result{}, err
	}
	sigs, err := parseBraintreeSignature(sigField)
	if err != nil {
		return Result{}, err
	}
	usable := 0
	for _, k := range trimmedKeys(keys) {
		pub, priv, ok := bytes.Cut(k, []byte(":"))
		if !ok || len(pub) == 0 || len(priv) == 0 {
			continue
		}
		usable++
		want, ok := sigs[string(pub)]
		if !ok {
			continue
		}
		for _, p := range []string{payload, payload + "\n"} {
			if subtle.ConstantTimeCompare(braintreeDigest(priv, []byte(p)), want) == 1 {
				return Result{}, nil
			}
		}
	}
	if usable == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no key of the form public_key:private_key")
	}
	return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d keys", BraintreeSignatureField, usable)
}

// braintreeFields reads the two form fields, each exactly once. The SDKs
// refuse a payload with characters outside base64 and newline.
func braintreeFields(body []byte) (sig, payload string, err error) {
	form, perr := url.ParseQuery(string(body))
	if perr != nil {
		return "", "", fail(ReasonMalformedSignature, "body is not a valid form")
	}
	for _, f := range []string{BraintreeSignatureField, BraintreePayloadField} {
		switch n := len(form[f]); {
		case n == 0 || form[f][0] == "":
			return "", "", fail(ReasonMissingSignature, "form field %s is absent", f)
		case n > 1:
			return "", "", fail(ReasonMalformedSignature, "form field %s appears %d times", f, n)
		}
	}
	payload = form[BraintreePayloadField][0]
	for i := 0; i < len(payload); i++ {
		c := payload[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=' || c == '\n') {
			return "", "", fail(ReasonMalformedSignature, "%s contains characters outside base64", BraintreePayloadField)
		}
	}
	return form[BraintreeSignatureField][0], payload, nil
}

// parseBraintreeSignature maps public key to decoded signature. Pairs
// without "|" are skipped, as the SDKs do; a pair whose signature is not 40
// hex digits is kept as a value that never matches.
func parseBraintreeSignature(value string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, pair := range strings.Split(value, "&") {
		pub, sig, ok := strings.Cut(pair, "|")
		if !ok || pub == "" {
			continue
		}
		sig, _, _ = strings.Cut(sig, "|")
		b, err := hex.DecodeString(sig)
		if err != nil || len(b) != sha1.Size {
			b = nil
		}
		if _, dup := out[pub]; !dup {
			out[pub] = b
		}
	}
	if len(out) == 0 {
		return nil, fail(ReasonMalformedSignature, "%s holds no public_key|signature pair", BraintreeSignatureField)
	}
	return out, nil
}

// braintreeDigest is Braintree::Digest.hexdigest, decoded: HMAC-SHA1 keyed
// with the SHA-1 of the private key.
func braintreeDigest(privateKey, data []byte) []byte {
	k := sha1.Sum(privateKey)
	m := hmac.New(sha1.New, k[:])
	m.Write(data)
	return m.Sum(nil)
}

// SignBraintree returns the form body Braintree posts for payload (the
// notification XML, which it base64-encodes) under key
// "<public key>:<private key>".
func SignBraintree(xml, key []byte) ([]byte, error) {
	pub, priv, ok := bytes.Cut(bytes.TrimSpace(key), []byte(":"))
	if !ok {
		return nil, fail(ReasonNoUsableKey, "key is not public_key:private_key")
	}
	payload := base64.StdEncoding.EncodeToString(xml)
	sig := string(pub) + "|" + hex.EncodeToString(braintreeDigest(priv, []byte(payload)))
	return []byte(url.Values{BraintreeSignatureField: {sig}, BraintreePayloadField: {payload}}.Encode()), nil
}
