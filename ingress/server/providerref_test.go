package server

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/endpoints"
)

// An endpoint with spec.providerRef, compiled as the loader does from its
// WebhookProvider, accepts a request signed per the provider's recipe and
// refuses one signed otherwise.
func TestAWebhookProviderEndpointAcceptsRequestsSignedPerItsRecipe(t *testing.T) {
	spec := hookv1.WebhookProviderSpec{DisplayName: "Acme", Scheme: hookv1.SchemeHMAC, HMAC: &hookv1.HMACRecipe{
		Header: "X-Acme-Signature", Algorithm: "sha512", Encoding: "hex", Prefix: "sha512=",
		SignedContent: "{method} {timestamp} {body}", TimestampHeader: "X-Acme-Timestamp", IDHeader: "X-Acme-Delivery",
	}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	info := spec.ProviderInfo("acme")
	ep := &hookv1.WebhookEndpoint{}
	ep.Namespace, ep.Name, ep.UID, ep.Generation = endpointName.Namespace, endpointName.Name, types.UID(endpointU), 1
	ep.Spec = hookv1.WebhookEndpointSpec{
		ProviderRef: &hookv1.ProviderReference{Name: "acme"},
		SecretRef:   &hookv1.SecretKeyRef{Name: "s"},
		Target:      &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "t", Port: 80}},
	}
	ep.Status.WebhookPath = hookPath
	e, err := endpoints.CompileWith(ep, &info)
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("acme-signing-key")
	e.Keys = [][]byte{key}
	f := newFixture(t, e)

	body := `{"order":42}`
	ts := strconv.FormatInt(now.Unix(), 10)
	send := func(k []byte) *httptest.ResponseRecorder {
		m := hmac.New(sha512.New, k)
		m.Write([]byte("POST " + ts + " " + body))
		r := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(body))
		r.Header.Set("X-Acme-Signature", "sha512="+hex.EncodeToString(m.Sum(nil)))
		r.Header.Set("X-Acme-Timestamp", ts)
		r.Header.Set("X-Acme-Delivery", "d-1")
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, r)
		return rec
	}
	if rec := send(key); rec.Code != http.StatusOK {
		t.Fatalf("signed per the recipe: %d %s", rec.Code, rec.Body)
	}
	if rec := send([]byte("another key")); rec.Code != http.StatusUnauthorized {
		t.Fatalf("signed with another key: %d %s", rec.Code, rec.Body)
	}
}
