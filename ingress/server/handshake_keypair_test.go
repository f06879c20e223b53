package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/ingress/verify"
)

// issuerEndpoint serves provider with the verifier built from o, holding
// no Secret keys: the verifier has the issuer's (KeysInVerifier).
func issuerEndpoint(t *testing.T, provider, method string, o verify.Options) *registry.Endpoint {
	t.Helper()
	v, err := verify.New(provider, o)
	if err != nil {
		t.Fatal(err)
	}
	ep := githubEndpoint()
	ep.Provider, ep.Verifier, ep.Keys, ep.KeysInVerifier, ep.HandshakeMethod = provider, v, nil, true, method
	return ep
}

// eventGridFixture is an azure-eventgrid endpoint whose Entra ID key is a
// test key given inline, and a function signing tokens with it; eg, when
// given, is its spec.eventGrid.
func eventGridFixture(t *testing.T, eg ...*verify.EventGridOptions) (*fixture, func(aud string) string) {
	pub, priv, err := verify.GenerateKeyPair("azure-eventgrid")
	if err != nil {
		t.Fatal(err)
	}
	const iss, aud = "https://login.microsoftonline.com/tenant-1/v2.0", "api://hookgate"
	o := verify.Options{JWT: &verify.JWTOptions{Issuer: iss, Audiences: []string{aud}, Keys: [][]byte{pub}}}
	if len(eg) > 0 {
		o.EventGrid = eg[0]
	}
	f := newFixture(t, issuerEndpoint(t, "azure-eventgrid", http.MethodOptions, o))
	token := func(a string) string {
		u, _ := url.Parse("https://hooks.example.com" + hookPath)
		o2 := verify.Options{JWT: &verify.JWTOptions{Issuer: iss, Audiences: []string{a}}}
		req, err := verify.SignRequest("azure-eventgrid", o2, verify.Delivery{ID: "x", Event: "e", Time: now, Body: []byte(`{}`), URL: u}, priv)
		if err != nil {
			t.Fatal(err)
		}
		return req.Header.Get("Authorization")
	}
	return f, token
}

// postEventGridValidation POSTs body to f's endpoint as Event Grid sends a
// validation event, with Authorization auth when it is not empty.
func postEventGridValidation(f *fixture, auth, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("aeg-event-type", "SubscriptionValidation")
	return f.serveAuth(r, auth)
}

// Event Grid's SubscriptionValidationEvent is answered with its code only
// when the request's Entra ID token verifies; it is never stored.
func TestEventGridValidationIsAnsweredOnlyWithAValidToken(t *testing.T) {
	f, token := eventGridFixture(t)
	validation := `[{"id":"2d1781af","topic":"/subscriptions/x","subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://rp-eastus2.eventgrid.azure.net:553/x"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2026-03-14T15:09:26Z","metadataVersion":"1","dataVersion":"2"}]`
	post := func(auth, body string) *httptest.ResponseRecorder { return postEventGridValidation(f, auth, body) }
	rec := post(token("api://hookgate"), validation)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}` {
		t.Fatalf("with a valid token: %d %s", rec.Code, rec.Body)
	}
	for name, auth := range map[string]string{"no token": "", "a token for another audience": token("api://other"), "a forged token": "Bearer e30.e30.AAAA"} {
		if rec := post(auth, validation); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, rec.Code)
		}
	}
	if n := len(storedEvents(t, f.q)); n != 0 {
		t.Fatalf("%d validation events stored", n)
	}
	// An ordinary event with a valid token is stored, keyed by its id.
	ev := `[{"id":"ev-1","eventType":"Microsoft.Storage.BlobCreated","subject":"/b","eventTime":"2026-03-14T15:09:26Z","data":{},"dataVersion":"1"}]`
	if rec := post(token("api://hookgate"), ev); rec.Code != http.StatusOK {
		t.Fatalf("event: %d %s", rec.Code, rec.Body)
	}
	if n := eventsWithBody(t, f, "ev-1"); n != 1 {
		t.Fatalf("stored %d events", n)
	}
}

// With spec.eventGrid.validation URL, the SubscriptionValidationEvent of
// a request whose token verifies is answered 200 without the code, then
// its validationUrl is fetched once; other URLs are answered 400, other
// tokens 401, and neither is fetched. Nothing is stored.
func TestEventGridURLValidationThroughTheReceiver(t *testing.T) {
	gets := make(chan string, 16)
	f, token := eventGridFixture(t, &verify.EventGridOptions{
		Validation: "URL",
		Confirm: func(_ context.Context, u string) error {
			gets <- u
			return nil
		},
		After: func(time.Duration) <-chan time.Time {
			ch := make(chan time.Time, 1)
			ch <- time.Time{}
			return ch
		},
	})
	// The confirmer remembers URLs across endpoints: one of this run only.
	validationURL := fmt.Sprintf("https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/estest/validate?id=%d&t=2026-03-14T15:09:26Z&apiVersion=2018-05-01-preview&token=1A1A", time.Now().UnixNano())
	validation := func(u string) string {
		b, _ := json.Marshal([]map[string]any{{"id": "2d1781af", "topic": "/subscriptions/x", "subject": "",
			"data":      map[string]string{"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", "validationUrl": u},
			"eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "eventTime": "2026-03-14T15:09:26Z", "metadataVersion": "1", "dataVersion": "2"}})
		return string(b)
	}
	post := func(auth, body string) *httptest.ResponseRecorder { return postEventGridValidation(f, auth, body) }
	noGET := func(what string) {
		t.Helper()
		select {
		case u := <-gets:
			t.Fatalf("%s: GET of %s", what, u)
		case <-time.After(100 * time.Millisecond):
		}
	}
	for name, auth := range map[string]string{"no token": "", "a token for another audience": token("api://other")} {
		if rec := post(auth, validation(validationURL)); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, rec.Code)
		}
	}
	noGET("refused tokens")
	for _, u := range []string{"http://rp-eastus2.eventgrid.azure.net/validate", "https://eventgrid.azure.net.evil.com/validate", ""} {
		rec := post(token("api://hookgate"), validation(u))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "ValidationURLRefused") {
			t.Errorf("validationUrl %q: %d %s", u, rec.Code, rec.Body)
		}
	}
	noGET("refused URLs")
	rec := post(token("api://hookgate"), validation(validationURL))
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "validationResponse") || strings.Contains(rec.Body.String(), "512d38b6") {
		t.Fatalf("with a valid token: %d %s", rec.Code, rec.Body)
	}
	select {
	case u := <-gets:
		if u != validationURL {
			t.Fatalf("GET of %s, want %s", u, validationURL)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no GET of the validationUrl")
	}
	if rec := post(token("api://hookgate"), validation(validationURL)); rec.Code != http.StatusOK {
		t.Fatalf("replay: %d %s", rec.Code, rec.Body)
	}
	noGET("a replay")
	if n := len(storedEvents(t, f.q)); n != 0 {
		t.Fatalf("%d validation events stored", n)
	}
}

// The CloudEvents abuse-protection OPTIONS is answered with
// WebHook-Allowed-Origin for Event Grid's origin, with a valid token only.
func TestCloudEventsOptionsHandshake(t *testing.T) {
	f, token := eventGridFixture(t)
	options := func(auth, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, hookPath, nil)
		if origin != "" {
			r.Header.Set("WebHook-Request-Origin", origin)
		}
		r.Header.Set("WebHook-Request-Rate", "120")
		return f.serveAuth(r, auth)
	}
	rec := options(token("api://hookgate"), "eventgrid.azure.net")
	if rec.Code != http.StatusOK || rec.Header().Get("WebHook-Allowed-Origin") != "eventgrid.azure.net" || rec.Header().Get("WebHook-Allowed-Rate") == "" {
		t.Fatalf("with a valid token: %d %v", rec.Code, rec.Header())
	}
	for name, c := range map[string][2]string{
		"no token":       {"", "eventgrid.azure.net"},
		"another origin": {token("api://hookgate"), "evil.example.com"},
		"no origin":      {token("api://hookgate"), ""},
	} {
		if rec := options(c[0], c[1]); rec.Code != http.StatusUnauthorized || rec.Header().Get("WebHook-Allowed-Origin") != "" {
			t.Errorf("%s: %d %v", name, rec.Code, rec.Header())
		}
	}
	if n := len(storedEvents(t, f.q)); n != 0 {
		t.Fatalf("%d events stored from OPTIONS", n)
	}
}

// A generic jwt endpoint stores a request whose token verifies, with no
// Secret at all, and refuses others.
func TestJWTEndpointNeedsNoSecret(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	privDER, _ := x509.MarshalPKCS8PrivateKey(k)
	priv := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})
	o := verify.Options{JWT: &verify.JWTOptions{Issuer: "https://ci.example.com", Audiences: []string{"hookgate"}, Keys: [][]byte{pemKey}, Claims: map[string]string{"repository": "org/repo"}}}
	f := newFixture(t, issuerEndpoint(t, "jwt", "", o))
	send := func(claims map[string]string, at time.Time) int {
		u, _ := url.Parse("https://hooks.example.com" + hookPath)
		so := verify.Options{JWT: &verify.JWTOptions{Issuer: "https://ci.example.com", Audiences: []string{"hookgate"}, Claims: claims}}
		req, err := verify.SignRequest("jwt", so, verify.Delivery{ID: "d", Time: at, Body: []byte(payload), URL: u}, priv)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(string(req.Body)))
		r.Header = req.Header
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, r)
		return rec.Code
	}
	if c := send(map[string]string{"repository": "org/repo"}, now); c != http.StatusOK {
		t.Fatalf("valid token: %d", c)
	}
	if c := send(map[string]string{"repository": "org/other"}, now); c != http.StatusUnauthorized {
		t.Fatalf("another repository: %d", c)
	}
	if c := send(map[string]string{"repository": "org/repo"}, now.Add(-time.Hour)); c != http.StatusUnauthorized {
		t.Fatalf("expired token: %d", c)
	}
	if n := len(storedEvents(t, f.q)); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
}

// Graph's validationToken POST is echoed as text/plain with nosniff and
// never stored; notifications need every clientState to match.
func TestMicrosoftGraphValidationAndClientState(t *testing.T) {
	v, _ := verify.New("microsoft-graph", verify.Options{})
	ep := githubEndpoint()
	ep.Provider, ep.Verifier, ep.Keys = "microsoft-graph", v, [][]byte{[]byte("client-state-secret")}
	f := newFixture(t, ep)
	post := func(query, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, hookPath+query, strings.NewReader(body))
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, r)
		return rec
	}
	tok := "Validation: Testing client application reachability for subscription Request-Id: 2d7f-11"
	rec := post("?validationToken="+url.QueryEscape(tok), "")
	if rec.Code != http.StatusOK || rec.Body.String() != tok || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("validation: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	if rec := post("?validationToken="+url.QueryEscape("<script>alert(1)</script>"), ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("markup echoed: %d", rec.Code)
	}
	ok := `{"value":[{"subscriptionId":"s","clientState":"client-state-secret","changeType":"created","resource":"me/messages"}]}`
	if rec := post("", ok); rec.Code != http.StatusOK {
		t.Fatalf("notification: %d %s", rec.Code, rec.Body)
	}
	for name, body := range map[string]string{
		"a wrong clientState":          strings.Replace(ok, "client-state-secret", "guess", 1),
		"a missing clientState":        `{"value":[{"subscriptionId":"s"}]}`,
		"one bad item among good ones": `{"value":[{"clientState":"client-state-secret"},{"clientState":"guess"}]}`,
		"an empty collection":          `{"value":[]}`,
	} {
		if rec := post("", body); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d", name, rec.Code)
		}
	}
	if n := len(storedEvents(t, f.q)); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
}

// Dropbox's challenge GET is echoed as text/plain with nosniff; its events
// need X-Dropbox-Signature.
func TestDropboxChallengeAndSignature(t *testing.T) {
	v, _ := verify.New("dropbox", verify.Options{})
	ep := githubEndpoint()
	ep.Provider, ep.Verifier, ep.Keys, ep.HandshakeMethod = "dropbox", v, [][]byte{[]byte("app-secret")}, http.MethodGet
	f := newFixture(t, ep)
	rec := serveGET(f, "challenge=abc123XYZ")
	if rec.Code != http.StatusOK || rec.Body.String() != "abc123XYZ" || rec.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("challenge: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	for _, q := range []string{"challenge=%3Cb%3E", "", "challenge=a&challenge=b"} {
		if rec := serveGET(f, q); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET ?%s: %d", q, rec.Code)
		}
	}
	body := `{"list_folder":{"accounts":["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"]},"delta":{"users":[12345678]}}`
	post := func(sig string) int {
		r := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(body))
		if sig != "" {
			r.Header.Set("X-Dropbox-Signature", sig)
		}
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, r)
		return rec.Code
	}
	// HMAC-SHA256 hex of the body under "app-secret", computed with openssl:
	// printf '%s' "$body" | openssl dgst -sha256 -hmac app-secret
	good := dropboxSig(body, "app-secret")
	if c := post(good); c != http.StatusOK {
		t.Fatalf("signed event: %d", c)
	}
	if c := post(dropboxSig(body, "other")); c != http.StatusUnauthorized {
		t.Errorf("wrong key: %d", c)
	}
	if c := post(""); c != http.StatusUnauthorized {
		t.Errorf("unsigned: %d", c)
	}
}

func dropboxSig(body, key string) string {
	// X-Dropbox-Signature is GitHub's construction without the prefix.
	return strings.TrimPrefix(verify.SignGitHub([]byte(body), []byte(key)), "sha256=")
}

// An SNS endpoint confirms a verified SubscriptionConfirmation itself and
// stores Notifications keyed by MessageId.
func TestSNSThroughTheReceiver(t *testing.T) {
	pub, priv, err := verify.GenerateKeyPair("aws-sns")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(priv)
	k, _ := x509.ParsePKCS8PrivateKey(block.Bytes)
	var got []string
	o := verify.Options{SNS: &verify.SNSOptions{TopicARNs: []string{verify.SNSTestTopicARN}, Certificates: [][]byte{pub},
		Confirm: func(_ ctxT, u string) error { got = append(got, u); return nil }}}
	f := newFixture(t, issuerEndpoint(t, "aws-sns", "", o))
	sub := "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(verify.SNSTestTopicARN) + "&Token=t-42"
	conf, err := verify.SignSNS(map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "c-42", "Token": "t-42",
		"TopicArn": verify.SNSTestTopicARN, "Message": "confirm", "SubscribeURL": sub, "Timestamp": "2026-03-14T15:09:26.000Z"}, "2", rsaKey(k))
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(string(body)))
		r.Header.Set("x-amz-sns-message-type", "")
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, r)
		return rec
	}
	if rec := post(conf); rec.Code != http.StatusOK || len(got) != 1 || got[0] != sub {
		t.Fatalf("confirmation: %d %s, GETs %v", rec.Code, rec.Body, got)
	}
	if rec := post([]byte(strings.Replace(string(conf), "confirm", "confirn", 1))); rec.Code != http.StatusUnauthorized {
		t.Fatalf("tampered confirmation: %d", rec.Code)
	}
	u, _ := url.Parse("https://hooks.example.com" + hookPath)
	req, err := verify.SignRequest("aws-sns", o, verify.Delivery{ID: "msg-7", Time: now, Body: []byte(payload), URL: u}, priv)
	if err != nil {
		t.Fatal(err)
	}
	if rec := post(req.Body); rec.Code != http.StatusOK {
		t.Fatalf("notification: %d %s", rec.Code, rec.Body)
	}
	if n := eventsWithBody(t, f, "msg-7"); n != 1 {
		t.Fatalf("stored %d notifications, want 1", n)
	}
	if n := eventsWithBody(t, f, "c-42"); n != 0 {
		t.Fatalf("the confirmation was stored %d times", n)
	}
}

type ctxT = context.Context

func rsaKey(k any) *rsa.PrivateKey { return k.(*rsa.PrivateKey) }

// eventsWithBody counts stored messages whose body holds s (the stream
// also holds dedupe markers).
func eventsWithBody(t *testing.T, f *fixture, s string) int {
	n := 0
	for _, m := range storedEvents(t, f.q) {
		if strings.Contains(string(m.Data), s) {
			n++
		}
	}
	return n
}
