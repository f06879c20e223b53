package controllers

import (
	"strings"
	"testing"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// The SecretReady message of an endpoint without a Secret says where its
// keys come from, not "spec.publicKeys (0 key(s))" for issuer-key providers.
func TestPublicKeysMessageSaysWhereKeysComeFrom(t *testing.T) {
	for _, c := range []struct {
		spec hookv1.WebhookEndpointSpec
		want string
	}{
		{hookv1.WebhookEndpointSpec{Provider: "discord", PublicKeys: []string{"k"}}, "spec.publicKeys (1 key(s))"},
		{hookv1.WebhookEndpointSpec{Provider: "jwt", JWT: &hookv1.JWTSpec{JWKSURL: "https://issuer.example.com/jwks"}}, "fetches from spec.jwt.jwksURL"},
		{hookv1.WebhookEndpointSpec{Provider: "jwt", JWT: &hookv1.JWTSpec{Keys: []string{"a", "b"}}}, "spec.jwt.keys (2 key(s))"},
		{hookv1.WebhookEndpointSpec{Provider: "google-pubsub", JWT: &hookv1.JWTSpec{}}, "https://www.googleapis.com/oauth2/v3/certs"},
		{hookv1.WebhookEndpointSpec{Provider: "github-actions"}, "token.actions.githubusercontent.com"},
		{hookv1.WebhookEndpointSpec{Provider: "azure-eventgrid"}, "login.microsoftonline.com"},
		{hookv1.WebhookEndpointSpec{Provider: "aws-sns"}, "signing certificate"},
	} {
		got := publicKeysMessage(&hookv1.WebhookEndpoint{Spec: c.spec})
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: %q does not say %q", c.spec.Provider, got, c.want)
		}
		if c.spec.Provider.KeysFromIssuer() && strings.Contains(got, "spec.publicKeys") {
			t.Errorf("%s: %q names spec.publicKeys, which it does not use", c.spec.Provider, got)
		}
	}
}
