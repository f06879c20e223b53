package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

func TestSendSignsWithAWebhookProviderFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "provider.yaml")
	if err := os.WriteFile(f, []byte(`apiVersion: hookgate.io/v1alpha1
kind: WebhookProvider
metadata: {name: acme}
spec:
  displayName: Acme
  scheme: hmac
  hmac: {header: X-Acme-Signature, algorithm: sha256, encoding: hex}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := &hookv1.WebhookEndpointSpec{ProviderRef: &hookv1.ProviderReference{Name: "acme"}}
	info, err := sendProvider(context.Background(), nil, spec, f)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "acme" || info.Scheme != hookv1.SchemeHMAC || info.HMAC.Header != "X-Acme-Signature" {
		t.Fatalf("info: %+v", info)
	}
	if err := os.WriteFile(f, []byte("kind: WebhookProvider\nspec: {displayName: A, scheme: hmac}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sendProvider(context.Background(), nil, spec, f); err == nil {
		t.Fatal("an hmac provider without its recipe was accepted")
	}
}
