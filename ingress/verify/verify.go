// Package verify checks that an inbound webhook request was signed by the
// provider it claims to come from. Every provider implements Verifier; the
// receiver picks one per WebhookEndpoint from its spec.
//
// Verifiers see the raw body bytes exactly as they arrived: nothing here may
// re-serialise a payload before checking its signature.
package verify

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Request is the part of an inbound HTTP request a verifier may read.
type Request struct {
	// Method is the HTTP method, e.g. POST.
	Method string
	// URL is the URL as the provider called it (scheme and host as seen by
	// the receiver, after trusted-proxy handling).
	URL *url.URL
	// Header holds the request headers.
	Header http.Header
	// Body is the raw request body, byte for byte.
	Body []byte
}

// Result is what a successful verification tells the receiver.
type Result struct {
	// DeliveryID is the provider's id for this delivery, used as the dedupe
	// key. Empty when the provider sends none.
	DeliveryID string
	// Timestamp is the signed send time, zero when the provider signs none.
	Timestamp time.Time
	// Handshake, when set, is a verification handshake (Slack
	// url_verification, Zoom endpoint.url_validation, Twitch
	// webhook_callback_verification, Discord PING, ...) that the receiver
	// answers itself with this response instead of storing an event. A
	// verifier returns it only after the request itself verified, where the
	// provider signs it.
	Handshake *Handshake
	// DedupeTTL, when non-zero, is the least time the delivery id must be
	// remembered, for providers whose ids must be single-use (Mailgun
	// tokens). Remembering the id is then the replay protection, see
	// ReplayGuard.
	DedupeTTL time.Duration
}

// ReplayGuard reports whether the dedupe marker is what refuses a replay of
// this request (a single-use token that the signature does not bind to the
// body): the receiver must then not accept the event unless the delivery id
// is recorded.
func (r Result) ReplayGuard() bool { return r.DedupeTTL > 0 }

// Handshake is the receiver's direct answer to a verification request.
type Handshake struct {
	Status      int
	ContentType string
	Body        []byte
	// Header holds further response headers (CloudEvents'
	// WebHook-Allowed-Origin, X-Content-Type-Options).
	Header http.Header
}

// Options are the per-endpoint settings a provider verifier may use. Zero
// values mean the provider's documented default.
type Options struct {
	// Tolerance is the replay window for providers that sign a timestamp.
	Tolerance time.Duration
	// AllowSHA1 enables SHA-1 signatures where a provider still sends them
	// beside a stronger one (GitHub X-Hub-Signature).
	AllowSHA1 bool
	// PublicKeys are verification keys for providers that sign with an
	// asymmetric key (Discord, SendGrid, Standard Webhooks v1a), in the
	// provider's published encoding. For those providers they are passed to
	// Verify as keys instead of the Secret's values.
	PublicKeys [][]byte
	// Generic configures the generic-hmac provider (spec.genericHMAC).
	Generic *GenericHMACOptions
	// JWT configures the JWT providers (spec.jwt).
	JWT *JWTOptions
	// SNS configures aws-sns (spec.sns).
	SNS *SNSOptions
	// EventGrid configures Event Grid's validation handshake
	// (spec.eventGrid).
	EventGrid *EventGridOptions
	// SignedURL is the URL the provider was configured with
	// (spec.signedURL), for providers that sign the URL they call: when
	// set it is the only URL verified against, with the request's query.
	// See signedurl.go.
	SignedURL *url.URL
	// PublicURL is the endpoint's public URL (status.url), tried before
	// the URL rebuilt from the request when SignedURL is unset.
	PublicURL *url.URL
}

// Verifier checks one request against every currently valid key.
type Verifier interface {
	// Verify returns nil error when the request carries a valid signature
	// made with any of keys. keys are the raw values from the signing
	// Secret (current key first); each verifier decodes its own key format.
	// now is injected so replay windows can be tested without sleeping.
	Verify(req *Request, keys [][]byte, now time.Time) (Result, error)
}

// Reason says why a request was refused. Reasons are stable strings used in
// logs, metrics and status.
type Reason string

const (
	// ReasonMissingSignature: the signature header (or another required
	// header) is absent.
	ReasonMissingSignature Reason = "MissingSignature"
	// ReasonMalformedSignature: a signature or timestamp header could not be
	// parsed.
	ReasonMalformedSignature Reason = "MalformedSignature"
	// ReasonSignatureMismatch: no key produced the presented signature.
	ReasonSignatureMismatch Reason = "SignatureMismatch"
	// ReasonTimestampOutOfRange: the signed timestamp is outside the replay
	// window.
	ReasonTimestampOutOfRange Reason = "TimestampOutOfRange"
	// ReasonNoUsableKey: no key in the Secret is usable for this provider
	// (e.g. not valid base64 where the provider needs it).
	ReasonNoUsableKey Reason = "NoUsableKey"
)

// Error is a refused verification. It never contains key material.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return string(e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
}

// ReasonOf returns the Reason of a verification error, or "" for nil.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var ve *Error
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ReasonSignatureMismatch
}

func fail(r Reason, format string, args ...any) error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}
