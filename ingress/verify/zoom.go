package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Zoom signs every webhook with the event subscription's secret token, as
// described in https://developers.zoom.us/docs/api/webhooks/ ("Verify
// webhook events", "Validate your webhook endpoint") and shown in Zoom's
// sample receiver https://github.com/zoom/webhook-sample.
const (
	// ZoomSignatureHeader carries "v0=" and the hex HMAC-SHA256 of
	// "v0:<timestamp>:<body>".
	ZoomSignatureHeader = "x-zm-signature"
	// ZoomTimestampHeader is the signed send time in unix seconds.
	ZoomTimestampHeader = "x-zm-request-timestamp"
	// ZoomDefaultTolerance is this package's DefaultTolerance: Zoom signs
	// the timestamp but documents no window for it.
	ZoomDefaultTolerance = 5 * time.Minute
	// zoomURLValidationEvent is the challenge Zoom sends when an endpoint
	// is saved and every 72 hours after.
	zoomURLValidationEvent = "endpoint.url_validation"
	// zoomVersion prefixes both the signature and the signed content.
	zoomVersion = "v0"
)

type zoomVerifier struct {
	tolerance time.Duration
}

func init() {
	register("zoom", func(o Options) (Verifier, error) { return NewZoom(o.Tolerance), nil })
}

// NewZoom returns a Verifier for Zoom webhooks. Keys are secret tokens as
// Zoom shows them, used whole as the HMAC key and trimmed of surrounding
// whitespace, which they never contain.
//
// tolerance bounds how far the timestamp may be from now in either
// direction; zero or negative means ZoomDefaultTolerance.
func NewZoom(tolerance time.Duration) Verifier {
	if tolerance <= 0 {
		tolerance = ZoomDefaultTolerance
	}
	return &zoomVerifier{tolerance: tolerance}
}

// Verify implements Verifier.
//
// Zoom signs the endpoint.url_validation challenge like any event (its
// sample receiver checks the signature before answering), so the challenge
// is answered only once the request has verified, with the key that
// verified it: answering unsigned challenges would let anyone obtain
// HMAC(secret, chosen text), which is exactly what a signature is.
func (v *zoomVerifier) Verify(req *Request, keys [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	sigValue, ok, err := singleHeader(req.Header, ZoomSignatureHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", ZoomSignatureHeader)
	}
	tsRaw, ok, err := singleHeader(req.Header, ZoomTimestampHeader)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fail(ReasonMissingSignature, "%s is absent", ZoomTimestampHeader)
	}
	ts, ok := parseUnixSeconds(tsRaw)
	if !ok {
		return Result{}, fail(ReasonMalformedSignature, "%s is not a unix time in seconds", ZoomTimestampHeader)
	}
	sig, err := parseZoomSignature(sigValue)
	if err != nil {
		return Result{}, err
	}
	usable := trimmedKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	key := zoomMatchingKey(usable, sig, tsRaw, req.Body)
	if key == nil {
		return Result{}, fail(ReasonSignatureMismatch, "%s matches none of %d keys", ZoomSignatureHeader, len(usable))
	}
	if err := checkWindow(ts, now, v.tolerance); err != nil {
		return Result{}, err
	}
	if hs := zoomHandshake(req.Body, key); hs != nil {
		return Result{Timestamp: ts, Handshake: hs}, nil
	}
	return Result{DeliveryID: zoomDeliveryID(req.Body), Timestamp: ts}, nil
}

// parseZoomSignature decodes "v0=<hex>" into the raw MAC.
func parseZoomSignature(value string) ([]byte, error) {
	return decodeSignature(ZoomSignatureHeader, value, zoomVersion+"=", encodingHex, sha256.Size)
}

// zoomMatchingKey returns the first key whose MAC of "v0:<ts>:<body>" equals
// sig, or nil. The key is needed again to answer a validation challenge.
func zoomMatchingKey(keys [][]byte, sig []byte, timestamp string, body []byte) []byte {
	for _, k := range keys {
		if hmac.Equal(zoomMAC(k, timestamp, body), sig) {
			return k
		}
	}
	return nil
}

func zoomMAC(key []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(zoomVersion + ":"))
	m.Write([]byte(timestamp))
	m.Write([]byte{':'})
	m.Write(body)
	return m.Sum(nil)
}

// zoomHandshake answers an endpoint.url_validation request, or returns nil
// for any other body. The answer is {"plainToken", "encryptedToken"} where
// encryptedToken is the hex HMAC-SHA256 of plainToken under the secret
// token. A validation request without a plainToken gets a 400 rather than
// being stored as an event.
func zoomHandshake(body []byte, key []byte) *Handshake {
	// Only the event name decides; a payload of another shape is Zoom's
	// business and the target's, not a reason to refuse an event.
	var probe struct {
		Event string `json:"event"`
	}
	if json.Unmarshal(body, &probe) != nil || probe.Event != zoomURLValidationEvent {
		return nil
	}
	var msg struct {
		Payload struct {
			PlainToken string `json:"plainToken"`
		} `json:"payload"`
	}
	if json.Unmarshal(body, &msg) != nil || msg.Payload.PlainToken == "" {
		return &Handshake{
			Status:      http.StatusBadRequest,
			ContentType: "text/plain; charset=utf-8",
			Body:        []byte("endpoint.url_validation without payload.plainToken\n"),
		}
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg.Payload.PlainToken))
	answer, err := json.Marshal(struct {
		PlainToken     string `json:"plainToken"`
		EncryptedToken string `json:"encryptedToken"`
	}{msg.Payload.PlainToken, hex.EncodeToString(m.Sum(nil))})
	if err != nil {
		// Marshalling two strings cannot fail; refuse rather than panic.
		return &Handshake{Status: http.StatusInternalServerError}
	}
	return &Handshake{Status: http.StatusOK, ContentType: "application/json", Body: answer}
}

// zoomDeliveryID is a digest of the verified body. Zoom sends no delivery
// id, but a body carries the event name, its millisecond event_ts and the
// object it is about, so a byte-identical body is a resend of the same
// event (a retry, or the same event through two subscriptions) and safe to
// drop. A retry whose body differed would simply not be recognised.
func zoomDeliveryID(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ZoomHeaders returns the two headers Zoom would send for body signed at ts
// with key (a secret token).
func ZoomHeaders(ts time.Time, body, key []byte) http.Header {
	t := strconv.FormatInt(ts.Unix(), 10)
	h := http.Header{}
	h.Set(ZoomTimestampHeader, t)
	h.Set(ZoomSignatureHeader, zoomVersion+"="+hex.EncodeToString(zoomMAC(bytes.TrimSpace(key), t, body)))
	return h
}
