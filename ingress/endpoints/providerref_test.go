package endpoints

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/keyring"
)

func acmeProvider(name, header string) *hookv1.WebhookProvider {
	return &hookv1.WebhookProvider{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: hookv1.WebhookProviderSpec{
		DisplayName: "Acme", Scheme: hookv1.SchemeHMAC,
		HMAC: &hookv1.HMACRecipe{Header: header, Prefix: "v1=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "{timestamp}.{body}", TimestampParam: "t", IDField: "id"},
	}}
}

// acmeRequest is what Acme sends, signed per its recipe with crypto/hmac.
func acmeRequest(header string, key []byte, now time.Time) *verify.Request {
	body := []byte(`{"id":"evt_1"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "." + string(body)))
	r := &verify.Request{Method: http.MethodPost, URL: &url.URL{Path: "/hook/x"}, Header: http.Header{}, Body: body}
	r.Header.Set(header, "t="+ts+",v1="+hex.EncodeToString(m.Sum(nil)))
	return r
}

func verifies(e *registry.Endpoint, r *verify.Request) bool {
	if e.Verifier == nil || e.KeysError != "" {
		return false
	}
	res, err := e.Verifier.Verify(r, e.Keys, time.Now())
	return err == nil && res.DeliveryID == "evt_1"
}

// The receiver, with its own RBAC, reads the WebhookProvider an endpoint
// references, verifies with its recipe, and follows its changes.
func TestTheLoaderVerifiesWithTheReferencedWebhookProvider(t *testing.T) {
	startEnv(t)
	ctx := context.Background()
	reg, _ := startLoader(t)
	ns := newTeamNamespace(t)
	name := "acme-" + rand.String(6)

	ep := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"}}
	ep.Spec.ProviderRef = &hookv1.ProviderReference{Name: name}
	ep.Spec.SecretRef = &hookv1.SecretKeyRef{Name: "signing"}
	ep.Spec.Target = &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "t", Port: 80}}
	if err := admin.Create(ctx, ep); err != nil {
		t.Fatal(err)
	}
	ep.Status.WebhookPath = "/hook/" + strings.ReplaceAll(string(ep.UID), "-", "")
	if err := admin.Status().Update(ctx, ep); err != nil {
		t.Fatal(err)
	}
	key := []byte("acme-key")
	if err := admin.Create(ctx, mirror(ep, keysNS, map[string][]byte{keyring.MirrorCurrent: key})); err != nil {
		t.Fatal(err)
	}
	e := eventually(t, reg, ep, "a 503 reason while the provider is missing", func(e *registry.Endpoint) bool {
		return strings.Contains(e.KeysError, "WebhookProvider "+name+" not found")
	})
	if e.Verifier != nil {
		t.Fatal("a verifier without a provider")
	}

	p := acmeProvider(name, "X-Acme-Signature")
	if err := admin.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Delete(ctx, p) })
	e = eventually(t, reg, ep, "the provider's verifier", func(e *registry.Endpoint) bool {
		return verifies(e, acmeRequest("X-Acme-Signature", key, time.Now()))
	})
	if e.Provider != name {
		t.Fatalf("registry provider %q, want %q", e.Provider, name)
	}

	// A new recipe reaches the receiver without touching the endpoint.
	if err := admin.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
		t.Fatal(err)
	}
	p.Spec.HMAC.Header = "X-Acme-Signature-V2"
	if err := admin.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, reg, ep, "the updated recipe", func(e *registry.Endpoint) bool {
		return verifies(e, acmeRequest("X-Acme-Signature-V2", key, time.Now())) && !verifies(e, acmeRequest("X-Acme-Signature", key, time.Now()))
	})

	if err := admin.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, reg, ep, "no verifier once the provider is gone", func(e *registry.Endpoint) bool {
		return e.Verifier == nil && strings.Contains(e.KeysError, "not found")
	})
}

// An edge receiver finds the WebhookProvider in the registry entry.
func TestTheBuilderTakesTheProviderFromItsReader(t *testing.T) {
	ep := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "e", UID: "u"}}
	ep.Spec.ProviderRef = &hookv1.ProviderReference{Name: "acme"}
	ep.Spec.SecretRef = &hookv1.SecretKeyRef{Name: "s"}
	ep.Spec.Target = &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "t", Port: 80}}
	ep.Status.WebhookPath = "/hook/abc"
	key := []byte("k")
	mirrorData := func(context.Context) (map[string][]byte, bool, error) {
		return map[string][]byte{keyring.MirrorCurrent: key}, true, nil
	}
	reg := registry.New()
	Builder{Registry: reg}.Apply(context.Background(), ep, mirrorData)
	if e, _ := reg.ByPath("/hook/abc"); e == nil || e.Verifier != nil || !strings.Contains(e.KeysError, "cannot read WebhookProviders") {
		t.Fatalf("without a reader: %+v", e)
	}
	spec := acmeProvider("acme", "X-Acme-Signature").Spec
	Builder{Registry: reg, Provider: func(context.Context, string) (*hookv1.WebhookProviderSpec, error) { return &spec, nil }}.Apply(context.Background(), ep, mirrorData)
	if e, _ := reg.ByPath("/hook/abc"); e == nil || !verifies(e, acmeRequest("X-Acme-Signature", key, time.Now())) {
		t.Fatalf("with the provider: %+v", e)
	}
	spec.HMAC.SignedContent = "{timestamp}" // what an old CRD might have let through
	Builder{Registry: reg, Provider: func(context.Context, string) (*hookv1.WebhookProviderSpec, error) { return &spec, nil }}.Apply(context.Background(), ep, mirrorData)
	if e, _ := reg.ByPath("/hook/abc"); e == nil || e.Verifier != nil || !strings.Contains(e.KeysError, "is invalid") {
		t.Fatalf("with an invalid provider: %+v", e)
	}
}
