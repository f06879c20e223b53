package endpoints

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Every provider the API accepts must have a verifier in this receiver: an
// enum value without one would pass validation and then answer 503 forever.
func TestEveryProviderInTheCRDHasAVerifier(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "hookgate.io_webhookendpoints.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	enum := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["provider"].Enum
	if len(enum) < 20 {
		t.Fatalf("only %d providers in the CRD enum", len(enum))
	}
	for _, raw := range enum {
		var p string
		if err := yaml.Unmarshal(raw.Raw, &p); err != nil {
			t.Fatal(err)
		}
		t.Run(p, func(t *testing.T) {
			ep := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "e", UID: "u"}}
			ep.Spec.Provider = hookv1.Provider(p)
			ep.Spec.Target = &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "t", Port: 80}}
			if p == string(hookv1.ProviderGenericHMAC) {
				ep.Spec.GenericHMAC = &hookv1.GenericHMACSpec{}
			}
			// What the CRD's rules require of the JWT and SNS providers.
			if info, _ := hookv1.LookupProvider(ep.Spec.Provider); info.Scheme == hookv1.SchemeJWT {
				ep.Spec.JWT = &hookv1.JWTSpec{Audiences: []string{"a"}}
				if len(info.JWT.Issuers) == 0 {
					ep.Spec.JWT.Issuer = "https://issuer.example.com"
				}
				if info.JWT.JWKSURL == "" {
					ep.Spec.JWT.JWKSURL = "https://issuer.example.com/jwks"
				}
			}
			if p == "aws-sns" {
				ep.Spec.SNS = &hookv1.SNSSpec{TopicARNs: []string{"arn:aws:sns:us-east-1:123456789012:t"}}
			}
			e, err := Compile(ep)
			if err != nil || e.Verifier == nil {
				t.Fatalf("provider %q has no verifier: %v", p, err)
			}
		})
	}
}

func TestCompileCarriesTheDeliveryPolicyAndLimits(t *testing.T) {
	ep := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "e", UID: "u"}}
	ep.Spec.Provider = hookv1.ProviderGitHub
	ep.Spec.Target = &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "t", Port: 80}}
	ep.Spec.SourceRanges = []string{"192.0.2.7/24"}
	rps, maxBody := int32(5), int64(4096)
	ep.Spec.Limits = hookv1.LimitsSpec{RequestsPerSecond: &rps, MaxBodyBytes: &maxBody}
	ep.Spec.Delivery.Timeout = &metav1.Duration{Duration: 3 * time.Second}
	e, err := Compile(ep)
	if err != nil {
		t.Fatal(err)
	}
	if e.SourceRanges[0].String() != "192.0.2.0/24" {
		t.Fatalf("source range not masked: %s", e.SourceRanges[0])
	}
	if e.Limiter == nil || e.Limiter.Burst() != 5 || e.MaxBodyBytes != 4096 || e.Targets[0].Timeout != 3*time.Second {
		t.Fatalf("limits not carried: %+v", e)
	}
	if tg := e.Targets[0]; tg.MaxAttempts != 0 || tg.RetryFor != hookv1.DefaultRetryFor || tg.BackoffMax != hookv1.DefaultBackoffMax || e.DedupeWindow != hookv1.DefaultDedupeWindow || tg.Path != "/" || tg.Key != string(ep.UID) ||
		!tg.Breaker.Enabled || tg.Breaker.ConsecutiveFailures != hookv1.DefaultCircuitConsecutiveFailures || tg.RequestsPerSecond != 0 {
		t.Fatalf("defaults not applied: %+v", e)
	}
}

func TestTargetsCompileTheirFilterAndFormat(t *testing.T) {
	ep := &hookv1.WebhookEndpoint{}
	ep.UID = "u-f"
	ep.Spec.Provider = hookv1.ProviderGitHub
	ep.Spec.SecretRef = &hookv1.SecretKeyRef{Name: "s"}
	ep.Spec.Targets = []hookv1.TargetSpec{
		{Name: "a", Service: hookv1.ServiceTarget{Name: "t", Port: 80}, Filter: `event.type == "push"`, Format: hookv1.FormatCloudEvents},
		{Service: hookv1.ServiceTarget{Name: "b", Port: 80}},
	}
	e, err := Compile(ep)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Targets) != 2 || e.Targets[0].Filter == nil || !e.Targets[0].CloudEvents || e.Targets[1].Filter != nil || e.Targets[1].CloudEvents {
		t.Fatalf("targets not compiled: %+v %+v", e.Targets[0], e.Targets[1])
	}
	if e.Targets[0].Key != "u-f_a" || e.Targets[1].Key != "u-f_b" || e.Targets[1].Name != "b" {
		t.Errorf("keys %q %q, names %q %q", e.Targets[0].Key, e.Targets[1].Key, e.Targets[0].Name, e.Targets[1].Name)
	}
	if e.EventType.Header != "X-GitHub-Event" {
		t.Errorf("event type from %+v, want GitHub's header", e.EventType)
	}
	ep.Spec.Targets[1].Filter = "event.tpye == 'x'"
	if _, err := Compile(ep); err == nil || !strings.Contains(err.Error(), `target "b": filter`) {
		t.Errorf("a filter that does not compile gave %v", err)
	}
}
