package verify

import (
	"net/http"
)

// Asana (https://developers.asana.com/docs/webhooks-guide): events are the
// table-driven HMAC recipe (X-Hook-Signature, hex HMAC-SHA256 of the body
// under the webhook's secret). The secret is not typed in anywhere: Asana
// sends it once, in the X-Hook-Secret header of the handshake POST it makes
// when the webhook is created, and expects it echoed in the response's
// X-Hook-Secret header. Whoever answers that first POST chooses which
// secret later events are checked with, so the receiver accepts it only
// while the endpoint is armed and only once (ingress/server, capture.go);
// the manager stores it in the endpoint's Secret.

// AsanaHookSecretHeader carries the secret in Asana's handshake.
const AsanaHookSecretHeader = "X-Hook-Secret"

// maxHookSecretLen bounds the captured secret.
const maxHookSecretLen = 512

// HookSecret returns the X-Hook-Secret of a handshake: present reports
// whether the header was sent at all; err refuses a header sent twice or
// one that is empty, too long or not visible ASCII (it is echoed in a
// response header and stored as a key).
func HookSecret(h http.Header) (secret string, present bool, err error) {
	v, ok, err := singleHeader(h, AsanaHookSecretHeader)
	if err != nil || !ok {
		return "", ok || err != nil, err
	}
	if len(v) == 0 || len(v) > maxHookSecretLen {
		return "", true, fail(ReasonMalformedSignature, "%s is empty or longer than %d bytes", AsanaHookSecretHeader, maxHookSecretLen)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return "", true, fail(ReasonMalformedSignature, "%s holds a byte that is not visible ASCII", AsanaHookSecretHeader)
		}
	}
	return v, true, nil
}
