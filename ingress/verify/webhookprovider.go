package verify

import (
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// CheckInfo builds the verifier of a provider table entry (a
// WebhookProvider's, WebhookProviderSpec.ProviderInfo) once, with the
// least per-endpoint settings it needs (an audience for a jwt recipe that
// fixes none), and returns why it cannot be built. The manager checks
// WebhookProviders with it (controllers.ProviderCheck), so that Ready says
// what the receiver will find.
func CheckInfo(info hookv1.ProviderInfo) error {
	o := Options{}
	if info.Scheme == hookv1.SchemeJWT && (info.JWT == nil || len(info.JWT.Audiences) == 0) {
		o.JWT = &JWTOptions{Audiences: []string{"https://audience.invalid"}}
	}
	_, err := NewFromInfo(info, o)
	return err
}
