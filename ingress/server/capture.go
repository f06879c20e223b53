package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/queue"
)

// HandshakeSecrets durably stores a signing secret captured from an armed
// handshake, once per arm (queue.HandshakeSecrets); the manager writes it
// into the endpoint's Secret. The receiver never writes a team's Secret.
type HandshakeSecrets interface {
	Capture(ctx context.Context, uid, arm string, secret []byte) error
}

// Reasons of a refused handshake capture.
const (
	// ReasonHandshakeNotArmed: the request hands over a secret, but the
	// endpoint is not armed (hookgate.io/arm-handshake absent, passed or
	// more than an hour ahead).
	ReasonHandshakeNotArmed = "HandshakeNotArmed"
	// ReasonHandshakeAlreadyCaptured: this arm already captured a secret.
	ReasonHandshakeAlreadyCaptured = "HandshakeAlreadyCaptured"
	// ReasonHandshakeUnavailable: the secret could not be stored.
	ReasonHandshakeUnavailable = "HandshakeUnavailable"
)

// captureHandshake answers a provider's secret handshake (Asana's
// X-Hook-Secret) for an endpoint whose provider hands over its secret:
// handled is false when the request is no such handshake. Whoever answers
// the handshake chooses the secret later events verify with, so it is
// taken only while the endpoint is armed, only once per arm, and echoed
// only after it is durably stored.
func (h *Handler) captureHandshake(r *http.Request, ep *registry.Endpoint, now time.Time) (o outcome, handled bool) {
	if !ep.CapturesSecret {
		return outcome{}, false
	}
	secret, present, err := verify.HookSecret(r.Header)
	if !present {
		return outcome{}, false
	}
	if err != nil {
		return outcome{status: http.StatusBadRequest, result: "rejected", reason: string(verify.ReasonOf(err))}, true
	}
	if ep.ArmedUntil.IsZero() || !now.Before(ep.ArmedUntil) || ep.ArmedUntil.After(now.Add(hookv1.MaxHandshakeArmWindow)) {
		return outcome{status: http.StatusForbidden, result: "rejected", reason: ReasonHandshakeNotArmed}, true
	}
	if h.Handshakes == nil {
		return outcome{status: http.StatusServiceUnavailable, result: "error", reason: ReasonHandshakeUnavailable}, true
	}
	switch err := h.Handshakes.Capture(r.Context(), ep.UID, ep.Arm, []byte(secret)); {
	case errors.Is(err, queue.ErrHandshakeSecretTaken):
		return outcome{status: http.StatusForbidden, result: "rejected", reason: ReasonHandshakeAlreadyCaptured}, true
	case err != nil:
		h.Log.Error(err, "Storing handshake secret failed", "endpoint", ep.Name())
		return outcome{status: http.StatusServiceUnavailable, result: "error", reason: ReasonHandshakeUnavailable}, true
	}
	hdr := http.Header{}
	hdr.Set(verify.AsanaHookSecretHeader, secret)
	return outcome{status: http.StatusOK, result: "handshake", handshake: &verify.Handshake{Status: http.StatusOK, Header: hdr, Body: []byte{}}}, true
}
