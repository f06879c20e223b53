package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"hash"
	"net/url"
	"sort"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Mailchimp Transactional (Mandrill) signs each webhook POST as its
// "Authenticating webhook requests" guide describes
// (https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/#authenticating-webhook-requests):
// the webhook URL exactly as configured, then every POST parameter's key
// immediately followed by its value, sorted by key, HMAC-SHA1 keyed with the
// webhook's key, base64.

// MandrillSignatureHeader carries the signature.
const MandrillSignatureHeader = "X-Mandrill-Signature"

// MandrillEventsField is the form field holding the JSON array of events.
const MandrillEventsField = "mandrill_events"

func init() {
	register(string(hookv1.SchemeMandrill), func(o Options) (Verifier, error) { return mandrillVerifier{urls: newSignedURLs(o)}, nil })
}

// mandrillVerifier checks the signature against o.SignedURL, o.PublicURL
// or the request's URL (signedurl.go).
type mandrillVerifier struct{ urls signedURLs }

// Verify implements Verifier. Mandrill signs no timestamp and sends no
// delivery id (one POST carries a batch of events): a captured request can
// be replayed while the key is valid.
func (v mandrillVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	value, ok, err := singleHeader(req.Header, MandrillSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", MandrillSignatureHeader)
	}
	sig, err := decodeSignature(MandrillSignatureHeader, value, "", encodingBase64, sha1.Size)
	if err != nil {
		return Result{}, err
	}
	urls := v.urls.candidates(req)
	if len(urls) == 0 {
		return Result{}, fail(ReasonMissingSignature, "the request URL, which Mandrill signs, is unknown")
	}
	usable := trimmedKeys(keys)
	for _, u := range urls {
		write, err := mandrillContent(u, req.Body)
		if err != nil {
			return Result{}, err
		}
		if len(usable) == 0 {
			return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
		}
		if anyKeyMatches(sha1.New, usable, [][]byte{sig}, write) {
			return Result{}, nil
		}
	}
	return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d keys", MandrillSignatureHeader, len(usable))
}

// mandrillContent returns the writer of the signed content. A parameter
// sent twice is refused: the guide signs one value per key, and which copy
// a target's form parser keeps is not something a signature should decide.
func mandrillContent(u *url.URL, body []byte) (func(hash.Hash), error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fail(ReasonMalformedSignature, "body is not a valid form")
	}
	names := make([]string, 0, len(form))
	for k, v := range form {
		if len(v) != 1 {
			return nil, fail(ReasonMalformedSignature, "form field %q appears %d times", k, len(v))
		}
		names = append(names, k)
	}
	sort.Strings(names)
	target := u.String()
	return func(h hash.Hash) {
		h.Write([]byte(target))
		for _, k := range names {
			h.Write([]byte(k))
			h.Write([]byte(form[k][0]))
		}
	}, nil
}

// SignMandrill returns the form body Mandrill posts for the events (a JSON
// array) and its X-Mandrill-Signature for a webhook at u under key.
func SignMandrill(u *url.URL, events, key []byte) (body []byte, signature string, err error) {
	body = []byte(url.Values{MandrillEventsField: {string(events)}}.Encode())
	write, err := mandrillContent(u, body)
	if err != nil {
		return nil, "", err
	}
	m := hmac.New(sha1.New, bytes.TrimSpace(key))
	write(m)
	return body, base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}
