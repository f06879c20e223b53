package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/endpoints"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/ingress/verify"
)

// The URL configured at the provider: a proxy in front of the receiver
// serves it under a path prefix and another host, so the receiver sees
// http://example.com/hook/f3a9c2 instead.
const providerURL = "https://hooks.example.com/tenant-a" + hookPath

// urlSigningEndpoint compiles a WebhookEndpoint of provider as the loader
// does, with spec.signedURL and status.url as given.
func urlSigningEndpoint(t *testing.T, provider hookv1.Provider, key []byte, signedURL, statusURL string) *registry.Endpoint {
	t.Helper()
	ep := &hookv1.WebhookEndpoint{}
	ep.Namespace, ep.Name, ep.UID, ep.Generation = endpointName.Namespace, endpointName.Name, types.UID(endpointU), 1
	ep.Spec = hookv1.WebhookEndpointSpec{
		Provider:  provider,
		SecretRef: &hookv1.SecretKeyRef{Name: "s"},
		SignedURL: signedURL,
		Target:    &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "t", Port: 80}},
	}
	ep.Status.WebhookPath, ep.Status.URL = hookPath, statusURL
	e, err := endpoints.Compile(ep)
	if err != nil {
		t.Fatal(err)
	}
	e.Keys = [][]byte{key}
	return e
}

// Square, Twilio and Trello (a table-driven {url} recipe) sign the URL
// they were configured with. Received behind a proxy that changes it, the
// request verifies with spec.signedURL (or status.url, the default) and
// is refused with neither.
func TestURLSigningProvidersVerifyAgainstSpecSignedURL(t *testing.T) {
	key := []byte("url-signing-key")
	for _, provider := range []hookv1.Provider{"square", "twilio", "trello"} {
		t.Run(string(provider), func(t *testing.T) {
			signed, err := verify.SignRequest(string(provider), verify.Options{}, verify.Delivery{
				ID: "d-1", Time: now, Body: []byte(`{"event_id":"ev-` + string(provider) + `","type":"x"}`), URL: mustParse(t, providerURL),
			}, key)
			if err != nil {
				t.Fatal(err)
			}
			send := func(f *fixture) *httptest.ResponseRecorder {
				target := hookPath
				if signed.URL.RawQuery != "" {
					target += "?" + signed.URL.RawQuery
				}
				r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(string(signed.Body)))
				for k, vs := range signed.Header {
					r.Header[k] = vs
				}
				rec := httptest.NewRecorder()
				f.h.ServeHTTP(rec, r)
				return rec
			}
			for _, c := range []struct {
				name                 string
				signedURL, statusURL string
				want                 int
			}{
				{"with spec.signedURL", providerURL, "", http.StatusOK},
				{"with status.url as the default", "", providerURL, http.StatusOK},
				{"with neither: the receiver's own URL", "", "", http.StatusUnauthorized},
				{"spec.signedURL wins over status.url", "https://hooks.example.com/elsewhere" + hookPath, providerURL, http.StatusUnauthorized},
			} {
				t.Run(c.name, func(t *testing.T) {
					f := newFixture(t, urlSigningEndpoint(t, provider, key, c.signedURL, c.statusURL))
					if rec := send(f); rec.Code != c.want {
						t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
					}
				})
			}
		})
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
