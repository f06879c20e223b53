package v1alpha1

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// tableDrivenBuiltins are the built-in entries a WebhookProvider can
// write: every SchemeHMAC and SchemeToken entry, but those whose handshake
// is code of its own (ErrHandshakeNotTableDriven).
func tableDrivenBuiltins(t *testing.T) []ProviderInfo {
	var out []ProviderInfo
	for _, info := range Providers {
		if info.Scheme != SchemeHMAC && info.Scheme != SchemeToken {
			continue
		}
		if _, err := WebhookProviderSpecFromInfo(info); errors.Is(err, ErrHandshakeNotTableDriven) {
			t.Logf("%s: %v", info.Name, err)
			continue
		}
		out = append(out, info)
	}
	return out
}

// Every table-driven built-in is written in the WebhookProvider schema: it
// converts to a spec that validates, survives JSON (what the API server
// stores), and converts back to the same entry. The envtest suite
// (controllers/webhookprovider_test.go) puts each through the CRD's CEL
// rules as well.
func TestBuiltinTableEntriesRoundTripThroughWebhookProviderSpec(t *testing.T) {
	builtins := tableDrivenBuiltins(t)
	if len(builtins) < 50 {
		t.Fatalf("only %d table-driven built-ins", len(builtins))
	}
	for _, info := range builtins {
		t.Run(string(info.Name), func(t *testing.T) {
			spec, err := WebhookProviderSpecFromInfo(info)
			if err != nil {
				t.Fatal(err)
			}
			if err := spec.Validate(); err != nil {
				t.Fatalf("the built-in does not fit the schema: %v", err)
			}
			b, err := yaml.Marshal(spec)
			if err != nil {
				t.Fatal(err)
			}
			var stored WebhookProviderSpec
			if err := yaml.Unmarshal(b, &stored); err != nil {
				t.Fatal(err)
			}
			if got := stored.ProviderInfo(string(info.Name)); !reflect.DeepEqual(got, info) {
				t.Fatalf("round trip changed the entry:\n got %+v\nwant %+v\nyaml:\n%s", got, info, b)
			}
		})
	}
}

func TestSchemesWithCodeOfTheirOwnAreNoWebhookProvider(t *testing.T) {
	for _, p := range []Provider{ProviderGitHub, "twilio", "svix", ProviderGenericHMAC} {
		info, _ := LookupProvider(p)
		if _, err := WebhookProviderSpecFromInfo(info); err == nil {
			t.Errorf("%s converted to a WebhookProvider", p)
		}
	}
}

func TestWebhookProviderDefaultsFollowTheScheme(t *testing.T) {
	hmac := WebhookProviderSpec{DisplayName: "Acme", Scheme: SchemeHMAC, HMAC: &HMACRecipe{
		Header: "X-Acme-Signature", Algorithm: "sha256", Encoding: "hex", SignedContent: "{timestamp}.{body}", TimestampHeader: "X-Acme-Timestamp",
	}}
	info := hmac.ProviderInfo("acme")
	if info.Key.Kind != KeySharedSecret || info.Key.Format != KeyFormatRaw || info.Timestamp.DefaultWindow != DefaultReplayTolerance ||
		!reflect.DeepEqual(info.Signature.Headers, []string{"X-Acme-Signature"}) || info.Name != "acme" {
		t.Fatalf("defaults: %+v", info)
	}
	hmac.Timestamp.ReplayWindow = &metav1.Duration{Duration: time.Minute}
	if hmac.ProviderInfo("acme").Timestamp.DefaultWindow != time.Minute {
		t.Fatal("replayWindow is not the default window")
	}
	basic := WebhookProviderSpec{DisplayName: "B", Scheme: SchemeToken, Token: &TokenRecipe{AllowBasic: true}}
	if k := basic.ProviderInfo("b").Key; k.Kind != KeyBasic || k.Format != KeyFormatUserPassword {
		t.Fatalf("basic key: %+v", k)
	}
	jwt := WebhookProviderSpec{DisplayName: "J", Scheme: SchemeJWT, JWT: &JWTRecipe{Issuers: []string{"https://i"}, JWKSURL: "https://i/jwks"}}
	if i := jwt.ProviderInfo("j"); !i.KeysFromIssuer() || i.Key.Format != KeyFormatJWKS || !i.VerifiesWithPublicKeysOnly(&WebhookEndpointSpec{}) {
		t.Fatalf("jwt key: %+v", i.Key)
	}
}

func TestWebhookProviderValidateRefusesWhatTheCRDRefuses(t *testing.T) {
	good := func() WebhookProviderSpec {
		return WebhookProviderSpec{DisplayName: "Acme", Scheme: SchemeHMAC, HMAC: &HMACRecipe{Header: "X-Sig", Algorithm: "sha256", Encoding: "hex"}}
	}
	if err := (&WebhookProviderSpec{DisplayName: "x", Scheme: SchemeHMAC, HMAC: good().HMAC}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		mutate func(*WebhookProviderSpec)
		want   string
	}{
		{"an hmac provider without its recipe", func(s *WebhookProviderSpec) { s.HMAC = nil }, "needs spec.hmac"},
		{"an unknown placeholder", func(s *WebhookProviderSpec) { s.HMAC.SignedContent = "{body}{tiemstamp}" }, "unknown placeholder {tiemstamp}"},
		{"a template without the body", func(s *WebhookProviderSpec) { s.HMAC.SignedContent = "{method}" }, "must include {body}"},
		{"timestampParam without a list separator", func(s *WebhookProviderSpec) {
			s.HMAC.TimestampParam, s.HMAC.SignedContent = "t", "{timestamp}.{body}"
		}, "set listSeparator"},
		{"{timestamp} without a source", func(s *WebhookProviderSpec) { s.HMAC.SignedContent = "{timestamp}.{body}" }, "{timestamp} exactly when"},
		{"a timestamp that is not signed", func(s *WebhookProviderSpec) { s.HMAC.TimestampHeader = "X-Ts" }, "{timestamp} exactly when"},
		{"{id} without an id header", func(s *WebhookProviderSpec) { s.HMAC.SignedContent = "{id}.{body}" }, "set idHeader"},
		{"a scheme with code of its own", func(s *WebhookProviderSpec) { s.Scheme = "github" }, "not one of hmac, token, jwt"},
		{"a handshake hmac does not answer", func(s *WebhookProviderSpec) {
			s.Handshake = HandshakeInfo{Kind: HandshakeOktaChallenge, Method: "GET"}
		}, "not answered by scheme hmac"},
		{"receiverChooses with a raw key", func(s *WebhookProviderSpec) { s.Key = KeyInfo{ReceiverChooses: true, Format: KeyFormatRaw} }, "needs spec.key.format hex"},
		{"a replay window without a timestamp", func(s *WebhookProviderSpec) {
			s.Timestamp.ReplayWindow = &metav1.Duration{Duration: time.Minute}
		}, "needs a signed timestamp"},
		{"jwt without keys", func(s *WebhookProviderSpec) {
			s.Scheme, s.HMAC, s.JWT = SchemeJWT, nil, &JWTRecipe{Issuers: []string{"https://issuer.example.com"}}
		}, "the issuer's keys are required"},
		{"jwt with an http JWKS URL", func(s *WebhookProviderSpec) {
			s.Scheme, s.HMAC, s.JWT = SchemeJWT, nil, &JWTRecipe{Issuers: []string{"https://issuer.example.com"}, JWKSURL: "http://issuer.example.com/jwks"}
		}, "jwksURL must be an https URL"},
		{"jwt with a key that is no key", func(s *WebhookProviderSpec) {
			s.Scheme, s.HMAC, s.JWT = SchemeJWT, nil, &JWTRecipe{Issuers: []string{"https://issuer.example.com"}, Keys: []string{"not a key"}}
		}, "neither PEM nor a JWK"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := good()
			c.mutate(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestCheckEndpointAgainstAWebhookProvider(t *testing.T) {
	hmac := (&WebhookProviderSpec{DisplayName: "A", Scheme: SchemeHMAC, HMAC: &HMACRecipe{Header: "X-Sig", Algorithm: "sha256", Encoding: "hex"}}).ProviderInfo("acme")
	ok := &WebhookEndpointSpec{ProviderRef: &ProviderReference{Name: "acme"}, SecretRef: &SecretKeyRef{Name: "s"}}
	if err := hmac.CheckEndpoint(ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		spec WebhookEndpointSpec
		want string
	}{
		{"no Secret", WebhookEndpointSpec{}, "spec.secretRef is required"},
		{"rotation where the sender chooses the secret", WebhookEndpointSpec{SecretRef: ok.SecretRef, Rotation: &RotationSpec{}}, "spec.rotation needs"},
		{"spec.jwt for an hmac provider", WebhookEndpointSpec{SecretRef: ok.SecretRef, JWT: &JWTSpec{Audiences: []string{"a"}}}, "spec.jwt is only used"},
		{"a signed URL the recipe does not sign", WebhookEndpointSpec{SecretRef: ok.SecretRef, SignedURL: "https://x"}, "spec.signedURL is only used"},
		{"spec.eventGrid without Event Grid's handshake", WebhookEndpointSpec{SecretRef: ok.SecretRef, EventGrid: &EventGridSpec{Validation: EventGridValidationURL}}, "spec.eventGrid is only used"},
	} {
		if err := hmac.CheckEndpoint(&c.spec); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	jwt := (&WebhookProviderSpec{DisplayName: "J", Scheme: SchemeJWT, JWT: &JWTRecipe{Issuers: []string{"https://i"}, JWKSURL: "https://i/k"}}).ProviderInfo("j")
	if err := jwt.CheckEndpoint(&WebhookEndpointSpec{}); err == nil || !strings.Contains(err.Error(), "audiences") {
		t.Errorf("jwt without audiences: %v", err)
	}
	jwt.JWT.Audiences = []string{"https://me"}
	if err := jwt.CheckEndpoint(&WebhookEndpointSpec{}); err != nil {
		t.Errorf("jwt with the provider's audiences: %v", err)
	}
	if err := jwt.CheckEndpoint(&WebhookEndpointSpec{EventGrid: &EventGridSpec{}}); err == nil || !strings.Contains(err.Error(), "spec.eventGrid") {
		t.Errorf("spec.eventGrid for a jwt provider without Event Grid's handshake: %v", err)
	}
	jwt.Handshake = HandshakeInfo{Kind: HandshakeEventGrid, Method: "OPTIONS"}
	if err := jwt.CheckEndpoint(&WebhookEndpointSpec{EventGrid: &EventGridSpec{Validation: EventGridValidationURL}}); err != nil {
		t.Errorf("spec.eventGrid with Event Grid's handshake: %v", err)
	}
}
