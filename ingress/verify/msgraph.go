package verify

import (
	"encoding/json"
	"net/http"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Microsoft Graph change notifications
// (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks):
//
//   - validation: when a subscription is created or renewed, Graph POSTs to
//     the notification URL with ?validationToken=<t> and expects 200,
//     text/plain, the token within 10 seconds. The request carries no
//     credential, so it cannot prove itself; answering proves nothing
//     either (any subscription's notifications still need the clientState).
//     The token is echoed only when it is short text of the characters
//     Graph uses, as text/plain with X-Content-Type-Options: nosniff, and
//     never stored.
//   - notifications: a JSON {"value": [...]} whose every item carries the
//     clientState given when subscribing: each must equal a key, compared
//     in constant time. Like a bearer token, clientState proves knowledge
//     only; nothing binds it to the rest of the body.

// GraphValidationTokenParam is the query parameter of Graph's validation.
const GraphValidationTokenParam = "validationToken"

// maxGraphNotifications bounds the items of one collection.
const maxGraphNotifications = 1000

func init() {
	registerScheme(hookv1.SchemeMicrosoftGraph, func(hookv1.ProviderInfo, Options) (Verifier, error) {
		return graphVerifier{}, nil
	})
}

type graphVerifier struct{}

// Verify implements Verifier.
func (graphVerifier) Verify(req *Request, keys [][]byte, _ time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	if req.URL != nil && req.URL.RawQuery != "" {
		q, err := handshakeQuery(req)
		if err != nil {
			return Result{}, err
		}
		if _, ok := q[GraphValidationTokenParam]; ok {
			token, err := oneParam(q, GraphValidationTokenParam)
			if err != nil {
				return Result{}, err
			}
			if !graphTokenText(token) {
				return Result{}, fail(ReasonMalformedSignature, "%s is not short text", GraphValidationTokenParam)
			}
			h := http.Header{}
			h.Set("X-Content-Type-Options", "nosniff")
			return Result{Handshake: &Handshake{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(token), Header: h}}, nil
		}
	}
	var c struct {
		Value []struct {
			ClientState *string `json:"clientState"`
		} `json:"value"`
	}
	if err := decodeJSONObject(req.Body, &c); err != nil {
		return Result{}, fail(ReasonMissingSignature, "not a change notification collection")
	}
	if len(c.Value) == 0 {
		return Result{}, fail(ReasonMissingSignature, "the collection holds no notification")
	}
	if len(c.Value) > maxGraphNotifications {
		return Result{}, fail(ReasonMalformedSignature, "more than %d notifications", maxGraphNotifications)
	}
	usable := trimmedKeys(keys)
	if len(usable) == 0 {
		return Result{}, fail(ReasonNoUsableKey, "no non-empty key configured")
	}
	for i, n := range c.Value {
		if n.ClientState == nil || *n.ClientState == "" {
			return Result{}, fail(ReasonMissingSignature, "notification %d has no clientState", i)
		}
		if !credentialMatchesAny([]byte(*n.ClientState), usable) {
			return Result{}, fail(ReasonSignatureMismatch, "notification %d: clientState matches none of %d keys", i, len(usable))
		}
	}
	return Result{}, nil
}

// graphTokenText: letters, digits, space and -._~+/=:, at most 1024.
// Graph's tokens are opaque text such as "Validation: Testing client
// application reachability for subscription Request-Id: <uuid>".
func graphTokenText(s string) bool {
	if len(s) == 0 || len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == ' ' || c == ':' || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=':
		default:
			return false
		}
	}
	return true
}

// GraphNotificationBody wraps an event in a change notification
// collection with clientState, as Graph sends it (for `hookgate send`).
func GraphNotificationBody(event json.RawMessage, clientState string) ([]byte, error) {
	return json.Marshal(map[string]any{"value": []map[string]any{{
		"subscriptionId": "00000000-0000-0000-0000-000000000000", "clientState": clientState,
		"changeType": "created", "resource": "hookgate/test", "resourceData": event,
	}}})
}
