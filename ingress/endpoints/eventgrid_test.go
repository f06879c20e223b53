package endpoints

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/verify"
)

// spec.eventGrid reaches the verifier: in URL mode a validation event is
// answered by its validationUrl (here one refused, so nothing is fetched),
// in Code mode by its code; on another provider it does not compile.
func TestCompilePlumbsSpecEventGrid(t *testing.T) {
	pub, priv, err := verify.GenerateKeyPair("azure-eventgrid")
	if err != nil {
		t.Fatal(err)
	}
	const iss, aud = "https://login.microsoftonline.com/tenant-1/v2.0", "api://hookgate"
	now := time.Now()
	u, _ := url.Parse("https://hooks.example.com/hook/abc")
	signed, err := verify.SignRequest("azure-eventgrid", verify.Options{JWT: &verify.JWTOptions{Issuer: iss, Audiences: []string{aud}}},
		verify.Delivery{ID: "x", Time: now, Body: []byte(`{}`), URL: u}, priv)
	if err != nil {
		t.Fatal(err)
	}
	body := `[{"id":"v","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"c0de","validationUrl":"http://rp-eastus2.eventgrid.azure.net/validate"}}]`
	answer := func(eg *hookv1.EventGridSpec) (string, error) {
		ep := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "e", UID: "u"}}
		ep.Spec.Provider = "azure-eventgrid"
		ep.Spec.Target = &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "t", Port: 80}}
		ep.Spec.JWT = &hookv1.JWTSpec{Issuer: iss, Audiences: []string{aud}, Keys: []string{string(pub)}}
		ep.Spec.EventGrid = eg
		e, err := Compile(ep)
		if err != nil {
			return "", err
		}
		res, err := e.Verifier.Verify(&verify.Request{Method: http.MethodPost, URL: u, Header: signed.Header, Body: []byte(body)}, nil, now)
		if err != nil || res.Handshake == nil {
			t.Fatalf("%+v: %+v %v", eg, res, err)
		}
		return string(res.Handshake.Body), nil
	}
	for _, eg := range []*hookv1.EventGridSpec{nil, {}, {Validation: hookv1.EventGridValidationCode}} {
		if got, err := answer(eg); err != nil || got != `{"validationResponse":"c0de"}` {
			t.Errorf("%+v: %s %v", eg, got, err)
		}
	}
	if got, err := answer(&hookv1.EventGridSpec{Validation: hookv1.EventGridValidationURL}); err != nil || !strings.Contains(got, verify.EventGridURLRefused) {
		t.Errorf("URL mode: %s %v", got, err)
	}
	ep := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "e", UID: "u"}}
	ep.Spec.Provider = "google-pubsub"
	ep.Spec.Target = &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "t", Port: 80}}
	ep.Spec.JWT = &hookv1.JWTSpec{Audiences: []string{aud}}
	ep.Spec.EventGrid = &hookv1.EventGridSpec{Validation: hookv1.EventGridValidationURL}
	if _, err := Compile(ep); err == nil || !strings.Contains(err.Error(), "spec.eventGrid") {
		t.Errorf("spec.eventGrid on google-pubsub: %v", err)
	}
}
