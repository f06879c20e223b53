package verify

import (
	"crypto/ed25519"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// StandardWebhooksPublicKeyPrefix marks a Standard Webhooks ed25519 public
// key ("whpk_<base64>"). It is optional on keys given to the verifier.
const StandardWebhooksPublicKeyPrefix = "whpk_"

// standardWebhooksAsymmetricVersion is the signature identifier of the
// asymmetric (ed25519) scheme of the specification.
const standardWebhooksAsymmetricVersion = "v1a"

type standardWebhooksAsymmetricVerifier struct {
	tolerance time.Duration
}

// NewStandardWebhooksAsymmetric returns a Verifier for the asymmetric scheme
// of the Standard Webhooks specification: "v1a,<base64 ed25519 signature>"
// entries in webhook-signature (or svix-signature), each over
// "{id}.{timestamp}.{body}", the same content the symmetric scheme signs.
//
// Keys are the sender's public keys as it shows them: "whpk_<base64>" (the
// prefix optional) of 32 raw bytes. A key that does not decode is skipped,
// so a new key can be listed beside the old one; a "whsec_" or "whsk_" value
// never decodes and is skipped too.
//
// tolerance bounds how far webhook-timestamp may be from now in either
// direction; zero or negative means DefaultTolerance.
func NewStandardWebhooksAsymmetric(tolerance time.Duration) Verifier {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	return &standardWebhooksAsymmetricVerifier{tolerance: tolerance}
}

// Verify implements Verifier. Header handling (names, families, order of
// checks) is that of the symmetric verifier; only signatures and keys
// differ.
func (v *standardWebhooksAsymmetricVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	sr, err := readStandardHeaders(req)
	if err != nil {
		return Result{}, err
	}
	id, tsRaw, ts := sr.id, sr.tsRaw, sr.ts
	sigs, err := parseStandardAsymmetricSignatures(sr.sigName, sr.sigValue)
	if err != nil {
		return Result{}, err
	}
	usable := decodeStandardPublicKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "none of %d keys is a whpk_ ed25519 public key", len(keys))
	}
	msg := make([]byte, 0, len(id)+len(tsRaw)+2+len(req.Body))
	msg = append(msg, id...)
	msg = append(msg, '.')
	msg = append(msg, tsRaw...)
	msg = append(msg, '.')
	msg = append(msg, req.Body...)
	if !ed25519AnyVerifies(usable, msg, sigs) {
		return Result{}, fail(ReasonSignatureMismatch, "none of %d v1a signatures matches any of %d public keys", len(sigs), len(usable))
	}
	if err := checkWindow(ts, now, v.tolerance); err != nil {
		return Result{}, err
	}
	return Result{DeliveryID: id, Timestamp: ts}, nil
}

// parseStandardAsymmetricSignatures reads the v1a entries of a
// webhook-signature value, with the rules parseStandardSignatures applies to
// v1: entries of other versions are skipped (a sender may send v1 and v1a
// side by side), a broken v1a entry is skipped if another v1a entry is good,
// and only when none is usable is the header malformed (something was
// unparsable) or missing (it simply holds no v1a signature).
func parseStandardAsymmetricSignatures(name, value string) ([][]byte, error) {
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
		if version != standardWebhooksAsymmetricVersion {
			continue
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(sig)
		if err != nil || len(raw) != ed25519.SignatureSize {
			bad++
			continue
		}
		sigs = append(sigs, raw)
	}
	switch {
	case len(sigs) > 0:
		return sigs, nil
	case bad > 0:
		return nil, fail(ReasonMalformedSignature, "%s has %d unparsable entries and no valid v1a signature", name, bad)
	default:
		return nil, fail(ReasonMissingSignature, "%s holds no v1a signature", name)
	}
}

// formatStandardAsymmetricSignature is the inverse of one
// parseStandardAsymmetricSignatures entry.
func formatStandardAsymmetricSignature(sig []byte) string {
	return standardWebhooksAsymmetricVersion + "," + base64.StdEncoding.EncodeToString(sig)
}

// SignStandardWebhooksAsymmetric returns a webhook-signature value
// ("v1a,<base64>") for a delivery, for tests in other packages.
func SignStandardWebhooksAsymmetric(id string, ts time.Time, body []byte, priv ed25519.PrivateKey) string {
	msg := []byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + ".")
	return formatStandardAsymmetricSignature(ed25519.Sign(priv, append(msg, body...)))
}

// StandardWebhooksPublicKey encodes a public key as "whpk_<base64>", the form
// a sender hands out and the verifier expects.
func StandardWebhooksPublicKey(pub ed25519.PublicKey) []byte {
	return []byte(StandardWebhooksPublicKeyPrefix + base64.StdEncoding.EncodeToString(pub))
}

// decodeStandardPublicKeys decodes every usable public key, each once.
func decodeStandardPublicKeys(keys [][]byte) []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, k := range keys {
		if pub, ok := decodeStandardPublicKey(k); ok {
			out = appendEd25519Key(out, pub)
		}
	}
	return out
}

// decodeStandardPublicKey decodes one "whpk_<base64>" (or bare base64) key.
// Surrounding whitespace is ignored because keys pasted into YAML or made
// with `echo` often carry a newline.
func decodeStandardPublicKey(key []byte) (ed25519.PublicKey, bool) {
	s := strings.TrimSpace(string(key))
	s = strings.TrimPrefix(s, StandardWebhooksPublicKeyPrefix)
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !ed25519KeyUsable(raw) {
		return nil, false
	}
	return raw, true
}

// standardWebhooksAny is the verifier behind the "standardwebhooks" and
// "svix" providers: the asymmetric scheme when the endpoint lists public
// keys, the symmetric one otherwise.
type standardWebhooksAny struct {
	publicKeys [][]byte
	symmetric  Verifier
	asymmetric Verifier
}

// NewStandardWebhooksWithOptions returns the Standard Webhooks verifier an
// endpoint's options call for. With o.PublicKeys set it checks only v1a
// (ed25519) signatures, against those keys and any whpk_ keys passed to
// Verify; otherwise it is NewStandardWebhooks and checks v1 (HMAC)
// signatures with the keys passed to Verify.
//
// The schemes are never both accepted: an endpoint given public keys is one
// whose owner chose not to trust a shared secret, and accepting v1 as well
// would let anyone holding that secret in again. A sender moving between
// schemes can send v1 and v1a entries side by side, which either
// configuration accepts.
func NewStandardWebhooksWithOptions(o Options) Verifier {
	return &standardWebhooksAny{
		publicKeys: o.PublicKeys,
		symmetric:  NewStandardWebhooks(o.Tolerance),
		asymmetric: NewStandardWebhooksAsymmetric(o.Tolerance),
	}
}

// Verify implements Verifier.
func (v *standardWebhooksAny) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if len(v.publicKeys) == 0 {
		return v.symmetric.Verify(req, keys, now)
	}
	// The configured public keys come first; keys from the receiver are
	// usually the endpoint's shared secrets, which never decode as public
	// keys and are skipped.
	all := make([][]byte, 0, len(v.publicKeys)+len(keys))
	all = append(append(all, v.publicKeys...), keys...)
	return v.asymmetric.Verify(req, all, now)
}
