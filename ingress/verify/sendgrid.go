package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Headers of the Twilio SendGrid Signed Event Webhook
// (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features,
// and the eventwebhook helpers of the official SDKs).
const (
	// SendGridSignatureHeader carries the base64 DER ECDSA signature.
	SendGridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	// SendGridTimestampHeader carries the signed send time in unix seconds.
	SendGridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// sendGridMaxSignatureBytes bounds a DER ECDSA P-256 signature: a SEQUENCE
// of two INTEGERs of at most 33 bytes each is 2 + 2*(2+33) = 72 bytes.
// Anything longer cannot be a P-256 signature and is not worth parsing.
const sendGridMaxSignatureBytes = 72

func init() {
	register("sendgrid", func(o Options) (Verifier, error) { return NewSendGrid(o), nil })
}

type sendGridVerifier struct {
	tolerance  time.Duration
	publicKeys [][]byte
}

// NewSendGrid returns a Verifier for the Twilio SendGrid Signed Event
// Webhook: ECDSA P-256 with SHA-256 over the timestamp header followed by the
// raw body. Keys are the "Verification Key" from the Event Webhook settings:
// base64 DER SubjectPublicKeyInfo, or the same key as PEM. Both o.PublicKeys
// and the keys passed to Verify are tried; a key that does not parse as a
// P-256 public key is skipped, so a new key can be listed beside the old one.
//
// SendGrid documents no replay window. o.Tolerance bounds how far the
// timestamp may be from now in either direction; zero means
// DefaultTolerance.
//
// SendGrid batches several events into one request and sends no delivery
// id, so Result.DeliveryID is empty; each event's sg_event_id is the dedupe
// key SendGrid recommends, for the consumer to apply.
func NewSendGrid(o Options) Verifier {
	tolerance := o.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	return &sendGridVerifier{tolerance: tolerance, publicKeys: o.PublicKeys}
}

// Verify implements Verifier.
//
// The signature is checked before the timestamp so that TimestampOutOfRange
// is reported only for requests SendGrid really signed.
func (v *sendGridVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	sigHeader, ok, err := singleHeader(req.Header, SendGridSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", SendGridSignatureHeader)
	}
	tsRaw, ok, err := singleHeader(req.Header, SendGridTimestampHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", SendGridTimestampHeader)
	}
	ts, ok := parseUnixSeconds(tsRaw)
	if !ok {
		return Result{}, fail(ReasonMalformedSignature, "%s is not a unix time in seconds", SendGridTimestampHeader)
	}
	sig, err := parseSendGridSignature(sigHeader)
	if err != nil {
		return Result{}, err
	}
	usable := decodeSendGridKeys(v.publicKeys, keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "none of %d keys is a base64 DER or PEM ECDSA P-256 public key", len(v.publicKeys)+len(keys))
	}
	// The body is hashed byte for byte: SendGrid's events are joined and
	// terminated with CRLF, which any re-serialisation would lose.
	h := sha256.New()
	h.Write([]byte(tsRaw))
	h.Write(req.Body)
	digest := h.Sum(nil)
	matched := false
	for _, k := range usable {
		if ecdsa.VerifyASN1(k, digest, sig) {
			matched = true
			break
		}
	}
	if !matched {
		return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d public keys", SendGridSignatureHeader, len(usable))
	}
	if err := checkWindow(ts, now, v.tolerance); err != nil {
		return Result{}, err
	}
	return Result{Timestamp: ts}, nil
}

// SignSendGrid returns the X-Twilio-Email-Event-Webhook-Signature value
// SendGrid would send for body at ts, for tests in other packages. Set
// X-Twilio-Email-Event-Webhook-Timestamp to strconv.FormatInt(ts.Unix(), 10).
func SignSendGrid(priv *ecdsa.PrivateKey, ts time.Time, body []byte) (string, error) {
	h := sha256.New()
	h.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	h.Write(body)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, h.Sum(nil))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// SendGridPublicKey encodes a public key the way the SendGrid UI shows it:
// base64 DER SubjectPublicKeyInfo.
func SendGridPublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return []byte(base64.StdEncoding.EncodeToString(der)), nil
}

// ecdsaDERSignature is the ASN.1 shape of an ECDSA signature (RFC 3279).
type ecdsaDERSignature struct {
	R, S *big.Int
}

// parseSendGridSignature decodes the base64 header value and checks that it
// is exactly one DER ECDSA signature with positive r and s, returning the DER
// bytes. Shape errors are reported as malformed here, so that a mismatch
// later means a well-formed signature that no key produced. Trailing bytes
// after the SEQUENCE are refused (the SDKs ignore them) because nothing
// legitimate sends them.
func parseSendGridSignature(value string) ([]byte, error) {
	der, err := decodeBase64(strings.TrimSpace(value))
	if err != nil {
		return nil, fail(ReasonMalformedSignature, "%s is not valid base64", SendGridSignatureHeader)
	}
	if len(der) > sendGridMaxSignatureBytes {
		return nil, fail(ReasonMalformedSignature, "%s holds %d bytes, at most %d expected", SendGridSignatureHeader, len(der), sendGridMaxSignatureBytes)
	}
	var sig ecdsaDERSignature
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 {
		return nil, fail(ReasonMalformedSignature, "%s is not a DER ECDSA signature", SendGridSignatureHeader)
	}
	// asn1.Unmarshal ignores bytes left inside the SEQUENCE; only the
	// canonical encoding of (r, s) is a well-formed signature.
	if canon, err := asn1.Marshal(sig); err != nil || !bytes.Equal(canon, der) {
		return nil, fail(ReasonMalformedSignature, "%s is not a canonical DER ECDSA signature", SendGridSignatureHeader)
	}
	return der, nil
}

// decodeSendGridKeys parses every usable key from both lists, each once.
func decodeSendGridKeys(lists ...[][]byte) []*ecdsa.PublicKey {
	var out []*ecdsa.PublicKey
	for _, list := range lists {
		for _, k := range list {
			pub, ok := decodeSendGridKey(k)
			if !ok {
				continue
			}
			dup := false
			for _, o := range out {
				dup = dup || o.Equal(pub)
			}
			if !dup {
				out = append(out, pub)
			}
		}
	}
	return out
}

// decodeSendGridKey parses one verification key. SendGrid shows it as bare
// base64 DER; PEM is accepted too because tools and guides often wrap it so.
// Only P-256 keys are usable: that is the curve SendGrid signs with, and a
// key on another curve can only be a mistake.
func decodeSendGridKey(key []byte) (*ecdsa.PublicKey, bool) {
	s := strings.TrimSpace(string(key))
	var der []byte
	if strings.HasPrefix(s, "-----BEGIN") {
		block, _ := pem.Decode([]byte(s))
		if block == nil || block.Type != "PUBLIC KEY" {
			return nil, false
		}
		der = block.Bytes
	} else {
		var err error
		if der, err = decodeBase64(s); err != nil {
			return nil, false
		}
	}
	parsed, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, false
	}
	pub, ok := parsed.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, false
	}
	return pub, true
}
