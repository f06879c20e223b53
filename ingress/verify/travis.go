package verify

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Travis CI signs webhook notifications with its own RSA key
// (https://docs.travis-ci.com/user/notifications/#verifying-webhook-requests):
// the Signature header is the base64 RSA PKCS#1 v1.5 signature, SHA-1, of
// the payload form field's (decoded) value. The public key is published at
// https://api.travis-ci.com/config (config.notifications.webhook.public_key)
// and goes into spec.publicKeys as PEM.

const (
	TravisSignatureHeader = "Signature"
	TravisPayloadField    = "payload"
)

func init() {
	register(string(hookv1.SchemeTravis), func(o Options) (Verifier, error) {
		return travisVerifier{publicKeys: o.PublicKeys}, nil
	})
}

type travisVerifier struct{ publicKeys [][]byte }

// Verify implements Verifier. Travis signs no timestamp; the build id in
// the (signed) payload is the delivery id, so a replay is a duplicate.
func (v travisVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	value, ok, err := singleHeader(req.Header, TravisSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", TravisSignatureHeader)
	}
	sig, err := decodeBase64(value)
	if err != nil || len(sig) == 0 {
		return Result{}, fail(ReasonMalformedSignature, "%s is not valid base64", TravisSignatureHeader)
	}
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return Result{}, fail(ReasonMalformedSignature, "body is not a valid form")
	}
	switch n := len(form[TravisPayloadField]); {
	case n == 0:
		return Result{}, fail(ReasonMissingSignature, "form field %s is absent", TravisPayloadField)
	case n > 1:
		return Result{}, fail(ReasonMalformedSignature, "form field %s appears %d times", TravisPayloadField, n)
	}
	payload := []byte(form[TravisPayloadField][0])
	pubs := parseRSAPublicKeys(v.publicKeys, keys)
	if len(pubs) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no RSA public key (PEM) configured")
	}
	digest := sha1.Sum(payload)
	for _, pub := range pubs {
		if rsa.VerifyPKCS1v15(pub, crypto.SHA1, digest[:], sig) == nil {
			return Result{DeliveryID: jsonPathString(payload, "id")}, nil
		}
	}
	return Result{}, fail(ReasonSignatureMismatch, "%s verifies under none of %d keys", TravisSignatureHeader, len(pubs))
}

// parseRSAPublicKeys decodes every PEM RSA public key (PKIX "PUBLIC KEY" or
// PKCS#1 "RSA PUBLIC KEY"); others are skipped.
func parseRSAPublicKeys(lists ...[][]byte) []*rsa.PublicKey {
	var out []*rsa.PublicKey
	for _, l := range lists {
		for _, k := range l {
			block, _ := pem.Decode(k)
			if block == nil {
				continue
			}
			var pub any
			var err error
			switch block.Type {
			case "PUBLIC KEY":
				pub, err = x509.ParsePKIXPublicKey(block.Bytes)
			case "RSA PUBLIC KEY":
				pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
			default:
				continue
			}
			if rk, ok := pub.(*rsa.PublicKey); err == nil && ok {
				out = append(out, rk)
			}
		}
	}
	return out
}

// SignTravis returns the form body and Signature header Travis sends for a
// payload (JSON) signed with priv.
func SignTravis(payload []byte, priv *rsa.PrivateKey) (body []byte, signature string, err error) {
	digest := sha1.Sum(payload)
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA1, digest[:])
	if err != nil {
		return nil, "", err
	}
	return []byte(url.Values{TravisPayloadField: {string(payload)}}.Encode()), base64.StdEncoding.EncodeToString(sig), nil
}
