package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/sendhook"
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
	info, err := sendhook.Provider(context.Background(), nil, spec, f)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "acme" || info.Scheme != hookv1.SchemeHMAC || info.HMAC.Header != "X-Acme-Signature" {
		t.Fatalf("info: %+v", info)
	}
	if err := os.WriteFile(f, []byte("kind: WebhookProvider\nspec: {displayName: A, scheme: hmac}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sendhook.Provider(context.Background(), nil, spec, f); err == nil {
		t.Fatal("an hmac provider without its recipe was accepted")
	}
}

func TestSendFlags(t *testing.T) {
	f, err := parseSendFlags([]string{"-endpoint", "shop/stripe", "-body", `{"a":1}`, "-id", "d1", "-event", "push",
		"-tamper", "-private-key", "k.pem", "-provider-file", "p.yaml", "-kubeconfig", "kc"})
	if err != nil {
		t.Fatal(err)
	}
	want := sendhook.Options{Namespace: "shop", Name: "stripe", Receiver: "http://127.0.0.1:8080", Body: `{"a":1}`, ID: "d1",
		Event: "push", Tamper: true, PrivateKeyFile: "k.pem", ProviderFile: "p.yaml"}
	if f.opts != want || f.kubeconfig != "kc" {
		t.Fatalf("options: %+v kubeconfig %q", f.opts, f.kubeconfig)
	}
	d, err := parseSendFlags([]string{"-endpoint", "a/b"})
	if err != nil {
		t.Fatal(err)
	}
	if d.opts.Body != sendhook.DefaultBody || d.opts.Event != "ping" || d.opts.Receiver != "http://127.0.0.1:8080" {
		t.Fatalf("defaults: %+v", d.opts)
	}
	for _, bad := range [][]string{{}, {"-endpoint", "stripe"}, {"-endpoint", "/b"}} {
		if _, err := parseSendFlags(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
	if g, err := parseSendFlags([]string{"-generate-key-pair", "discord"}); err != nil || g.genPair != "discord" {
		t.Fatalf("generate-key-pair: %v %+v", err, g)
	}
}
