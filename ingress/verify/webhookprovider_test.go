package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// acmeSpec is a platform-defined HMAC provider: "t=<unix>,v1=<hex>" over
// "<t>.<body>", the delivery id in the body.
func acmeSpec() hookv1.WebhookProviderSpec {
	return hookv1.WebhookProviderSpec{
		DisplayName: "Acme", Scheme: hookv1.SchemeHMAC,
		HMAC: &hookv1.HMACRecipe{
			Header: "X-Acme-Signature", Prefix: "v1=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "{timestamp}.{body}", TimestampParam: "t", IDField: "id",
		},
	}
}

// What the API and the manager accept, the receiver can build: Validate
// (api, which the manager runs) never passes a spec that NewFromInfo
// refuses. Validate may be stricter.
func TestWebhookProviderValidateAgreesWithTheVerifier(t *testing.T) {
	specs := map[string]hookv1.WebhookProviderSpec{"acme": acmeSpec()}
	for _, info := range hookv1.Providers {
		if s, err := hookv1.WebhookProviderSpecFromInfo(info); err == nil {
			specs["builtin "+string(info.Name)] = s
		}
	}
	mutations := map[string]func(*hookv1.WebhookProviderSpec){
		"a literal brace":          func(s *hookv1.WebhookProviderSpec) { s.HMAC.SignedContent = "{timestamp}.{body}}" },
		"an id header":             func(s *hookv1.WebhookProviderSpec) { s.HMAC.IDField, s.HMAC.IDHeader = "", "X-Acme-Id" },
		"the id header as the sig": func(s *hookv1.WebhookProviderSpec) { s.HMAC.IDField, s.HMAC.IDHeader = "", "x-acme-signature" },
		"a timestamp header too":   func(s *hookv1.WebhookProviderSpec) { s.HMAC.TimestampHeader = "X-Ts" },
		"a base64 key":             func(s *hookv1.WebhookProviderSpec) { s.HMAC.KeyEncoding = "base64" },
		"an unknown format":        func(s *hookv1.WebhookProviderSpec) { s.HMAC.TimestampFormat = "unix-ns" },
		"a bad header name":        func(s *hookv1.WebhookProviderSpec) { s.HMAC.Header = "X Acme" },
		"an unclosed brace":        func(s *hookv1.WebhookProviderSpec) { s.HMAC.SignedContent = "{timestamp.{body}" },
		"the head-check handshake": func(s *hookv1.WebhookProviderSpec) {
			s.Handshake = hookv1.HandshakeInfo{Kind: hookv1.HandshakeHeadCheck, Method: "HEAD"}
		},
		"a meta handshake":         func(s *hookv1.WebhookProviderSpec) { s.Key.Format = hookv1.KeyFormatVerifyTokenSecret },
		"no timestamp in the list": func(s *hookv1.WebhookProviderSpec) { s.HMAC.TimestampParam, s.HMAC.SignedContent = "", "" },
		"sha512 base64":            func(s *hookv1.WebhookProviderSpec) { s.HMAC.Algorithm, s.HMAC.Encoding = "sha512", "base64" },
		"{method}{url}{body} plain": func(s *hookv1.WebhookProviderSpec) {
			s.HMAC.SignedContent, s.HMAC.TimestampParam = "{method}{url}{body}", ""
		},
	}
	for name, m := range mutations {
		s := acmeSpec()
		m(&s)
		specs["acme with "+name] = s
	}
	var valid int
	for name, s := range specs {
		verr := s.Validate()
		cerr := CheckInfo(s.ProviderInfo("p"))
		if verr == nil {
			valid++
			if cerr != nil {
				t.Errorf("%s: Validate accepts what the verifier refuses: %v", name, cerr)
			}
		}
	}
	if valid < 50 {
		t.Fatalf("only %d valid specs", valid)
	}
}

// A request signed by the recipe, computed here with crypto/hmac from the
// recipe's words rather than by our signer, verifies; so does the one
// SignRequestFromInfo (hookgate send) makes.
func TestWebhookProviderRecipeVerifiesARequestSignedPerItsRecipe(t *testing.T) {
	spec := acmeSpec()
	info := spec.ProviderInfo("acme")
	v, err := NewFromInfo(info, Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, now := []byte("acme-secret"), time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"order.paid"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "." + string(body)))
	req := &Request{Method: http.MethodPost, URL: &url.URL{Path: "/hook/x"}, Header: http.Header{}, Body: body}
	req.Header.Set("X-Acme-Signature", "t="+ts+",v1="+hex.EncodeToString(m.Sum(nil)))
	res, err := v.Verify(req, [][]byte{key}, now)
	if err != nil || res.DeliveryID != "evt_1" || !res.Timestamp.Equal(now) {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	if _, err := v.Verify(req, [][]byte{key}, now.Add(info.Timestamp.DefaultWindow+time.Second)); ReasonOf(err) != ReasonTimestampOutOfRange {
		t.Fatalf("a stale request: %v", err)
	}
	if _, err := v.Verify(req, [][]byte{[]byte("other")}, now); ReasonOf(err) != ReasonSignatureMismatch {
		t.Fatalf("another key: %v", err)
	}
	signed, err := SignRequestFromInfo(info, Options{}, Delivery{ID: "evt_2", Time: now, Body: body, URL: &url.URL{Scheme: "https", Host: "h", Path: "/hook/x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(signed, [][]byte{key}, now); err != nil {
		t.Fatalf("SignRequestFromInfo's request: %v", err)
	}
}

// A jwt WebhookProvider fixes issuer, keys and audience: an endpoint needs
// no spec.jwt at all.
func TestWebhookProviderJWTRecipeFixesKeysAndAudiences(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(k)
	spec := hookv1.WebhookProviderSpec{DisplayName: "Acme OIDC", Scheme: hookv1.SchemeJWT, JWT: &hookv1.JWTRecipe{
		Issuers: []string{"https://issuer.acme.example"}, Audiences: []string{"https://hooks.example.com"},
		Keys:   []string{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
		Claims: map[string]string{"team": "payments"},
	}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	info := spec.ProviderInfo("acme-oidc")
	v, err := NewFromInfo(info, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	d := Delivery{ID: "d", Time: now, Body: []byte(`{}`), URL: &url.URL{Scheme: "https", Host: "hooks.example.com", Path: "/hook/x"}}
	priv := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	signed, err := SignRequestFromInfo(info, Options{}, d, priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(signed, nil, now); err != nil {
		t.Fatalf("a token per the recipe: %v", err)
	}
	// A token without the recipe's claim is refused.
	unclaimed := info
	unclaimed.JWT = info.JWT.DeepCopy()
	unclaimed.JWT.Claims = map[string]string{"team": "growth"}
	other, err := SignRequestFromInfo(unclaimed, Options{}, d, priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(other, nil, now); err == nil {
		t.Fatal("a token of another team verified")
	}
	if err := CheckInfo(info); err != nil {
		t.Fatal(err)
	}
	spec.JWT.Audiences = nil
	if err := CheckInfo(spec.ProviderInfo("acme-oidc")); err != nil {
		t.Fatalf("a recipe without audiences is checked with a stand-in: %v", err)
	}
}

func TestNewFromInfoRefusesASchemeWithoutVerifier(t *testing.T) {
	_, err := NewFromInfo(hookv1.ProviderInfo{Name: "x", Scheme: "nope"}, Options{})
	if err == nil {
		t.Fatal("no error")
	}
}
