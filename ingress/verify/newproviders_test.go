package verify

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Tests of the providers added with the provider table. Each expected
// signature is computed here from the provider's documented recipe with
// crypto/* directly, independently of the verifier and of SignRequest;
// the docs link of each recipe is the entry's Docs in api/v1alpha1.

func hmacSum(alg string, key, msg string) []byte {
	var m = hmac.New(sha256.New, []byte(key))
	if alg == "sha1" {
		m = hmac.New(sha1.New, []byte(key))
	}
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func mustNew(t *testing.T, provider string, o Options) Verifier {
	t.Helper()
	v, err := New(provider, o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// Body-HMAC providers of the table-driven scheme: the recipe, computed
// independently, verifies; a changed body, another key, a missing header
// and a truncated MAC are refused. None of them signs a timestamp, so there
// is no stale case; the delivery id comes from the signed body where the
// provider documents one.
func TestTableHMACProviders(t *testing.T) {
	const key, body = "whs-secret", `{"id":"c-1","event_id":"tf-1","event":{"id":"cb-1"},"x":1}`
	cases := []struct {
		provider, header, value, wantID string
	}{
		// CircleCI: "v1=" + hex HMAC-SHA256 of the body (https://circleci.com/docs/webhooks/#validate-webhooks).
		{"circleci", "circleci-signature", "v1=" + hex.EncodeToString(hmacSum("sha256", key, body)), "c-1"},
		// Several versions, comma-separated: unknown ones are skipped.
		{"circleci", "circleci-signature", "v2=abcd,v1=" + hex.EncodeToString(hmacSum("sha256", key, body)), "c-1"},
		// Meta: X-Hub-Signature-256: sha256=<hex> of the body, keyed with the app secret.
		{"meta", "X-Hub-Signature-256", "sha256=" + hex.EncodeToString(hmacSum("sha256", key, body)), ""},
		// Coinbase Commerce: hex HMAC-SHA256 of the raw payload; event.id dedupes.
		{"coinbase", "X-CC-Webhook-Signature", hex.EncodeToString(hmacSum("sha256", key, body)), "cb-1"},
		// DocuSign Connect: base64 HMAC-SHA256 of the body.
		{"docusign", "X-DocuSign-Signature-1", base64.StdEncoding.EncodeToString(hmacSum("sha256", key, body)), ""},
		// Typeform: sha256=<base64> of the body; event_id dedupes.
		{"typeform", "Typeform-Signature", "sha256=" + base64.StdEncoding.EncodeToString(hmacSum("sha256", key, body)), "tf-1"},
		// Xero: base64 HMAC-SHA256 of the body, keyed with the webhook key.
		{"xero", "x-xero-signature", base64.StdEncoding.EncodeToString(hmacSum("sha256", key, body)), ""},
	}
	now := time.Unix(1_700_000_000, 0)
	for _, c := range cases {
		t.Run(c.provider+" "+c.value[:4], func(t *testing.T) {
			v := mustNew(t, c.provider, Options{})
			res, err := v.Verify(&Request{Header: hdr(c.header, c.value), Body: []byte(body)}, keys(key), now)
			if err != nil || res.DeliveryID != c.wantID {
				t.Fatalf("documented signature: (%+v, %v), want id %q", res, err, c.wantID)
			}
			if _, err := v.Verify(&Request{Header: hdr(c.header, c.value), Body: []byte(body + " ")}, keys(key), now); ReasonOf(err) != ReasonSignatureMismatch {
				t.Errorf("tampered body: %v", err)
			}
			if _, err := v.Verify(&Request{Header: hdr(c.header, c.value), Body: []byte(body)}, keys("other"), now); ReasonOf(err) != ReasonSignatureMismatch {
				t.Errorf("wrong key: %v", err)
			}
			if _, err := v.Verify(&Request{Header: hdr(), Body: []byte(body)}, keys(key), now); ReasonOf(err) != ReasonMissingSignature {
				t.Errorf("missing header: %v", err)
			}
			if _, err := v.Verify(&Request{Header: hdr(c.header, c.value[:len(c.value)-8]), Body: []byte(body)}, keys(key), now); err == nil {
				t.Errorf("truncated MAC accepted")
			}
		})
	}
}

func TestCircleCIRefusesAListWithoutV1(t *testing.T) {
	v := mustNew(t, "circleci", Options{})
	_, err := v.Verify(&Request{Header: hdr("circleci-signature", "v2=00ff"), Body: []byte("{}")}, keys("k"), time.Time{})
	if ReasonOf(err) != ReasonMissingSignature {
		t.Fatalf("reason %q", ReasonOf(err))
	}
	_, err = v.Verify(&Request{Header: hdr("circleci-signature", "v1=zz"), Body: []byte("{}")}, keys("k"), time.Time{})
	if ReasonOf(err) != ReasonMalformedSignature {
		t.Fatalf("reason %q", ReasonOf(err))
	}
}

// Okta event hooks send the secret you registered as the whole
// Authorization value, and verify the endpoint once with a GET carrying
// X-Okta-Verification-Challenge, answered {"verification": "<value>"}
// (https://developer.okta.com/docs/concepts/event-hooks/). The challenge
// is answered only for GET and only with the right secret.
func TestOkta(t *testing.T) {
	v := mustNew(t, "okta", Options{})
	body := []byte(`{"eventType":"com.okta.event_hook","eventId":"b5a188b9","data":{"events":[]}}`)
	res, err := v.Verify(&Request{Method: http.MethodPost, Header: hdr("Authorization", "okta-secret"), Body: body}, keys("okta-secret\n"), time.Time{})
	if err != nil || res.DeliveryID != "b5a188b9" || res.Handshake != nil {
		t.Fatalf("event: (%+v, %v)", res, err)
	}
	get := &Request{Method: http.MethodGet, Header: hdr("Authorization", "okta-secret", OktaChallengeHeader, `abc"123`)}
	res, err = v.Verify(get, keys("okta-secret"), time.Time{})
	if err != nil || res.Handshake == nil || string(res.Handshake.Body) != `{"verification":"abc\"123"}` || res.Handshake.ContentType != "application/json" {
		t.Fatalf("challenge: (%+v, %v)", res, err)
	}
	get.Header.Set("Authorization", "wrong")
	if _, err := v.Verify(get, keys("okta-secret"), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
		t.Fatalf("challenge with a wrong secret: %v", err)
	}
	get.Header.Del("Authorization")
	if _, err := v.Verify(get, keys("okta-secret"), time.Time{}); ReasonOf(err) != ReasonMissingSignature {
		t.Fatalf("challenge without a secret: %v", err)
	}
	post := &Request{Method: http.MethodPost, Header: hdr("Authorization", "okta-secret", OktaChallengeHeader, "x"), Body: body}
	if res, err := v.Verify(post, keys("okta-secret"), time.Time{}); err != nil || res.Handshake != nil {
		t.Fatalf("a POST is never a challenge: (%+v, %v)", res, err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodGet, Header: hdr("Authorization", "okta-secret")}, keys("okta-secret"), time.Time{}); ReasonOf(err) != ReasonMissingSignature {
		t.Fatalf("a GET without a challenge: %v", err)
	}
}

// Mailchimp Marketing does not sign: the secret is in the webhook URL's
// query, or Basic credentials in it; the GET that validates the URL is
// answered 200 once the secret matches
// (https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/).
func TestMailchimp(t *testing.T) {
	v := mustNew(t, "mailchimp", Options{})
	u, _ := url.Parse("https://hooks.example.com/w/x?secret=s3cret")
	form := []byte("type=subscribe&data%5Bemail%5D=a%40example.com")
	if _, err := v.Verify(&Request{Method: http.MethodPost, URL: u, Header: hdr(), Body: form}, keys("s3cret"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	basic := &Request{Method: http.MethodPost, URL: &url.URL{Path: "/w/x"}, Header: hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("mc:pw"))), Body: form}
	if _, err := v.Verify(basic, keys("mc:pw"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(&Request{Method: http.MethodGet, URL: u, Header: hdr()}, keys("s3cret"), time.Time{})
	if err != nil || res.Handshake == nil || res.Handshake.Status != http.StatusOK {
		t.Fatalf("validation GET: (%+v, %v)", res, err)
	}
	bad, _ := url.Parse("https://hooks.example.com/w/x?secret=nope")
	if _, err := v.Verify(&Request{Method: http.MethodGet, URL: bad, Header: hdr()}, keys("s3cret"), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
		t.Fatalf("wrong secret: %v", err)
	}
	twice, _ := url.Parse("https://hooks.example.com/w/x?secret=s3cret&secret=x")
	if _, err := v.Verify(&Request{Method: http.MethodPost, URL: twice, Header: hdr()}, keys("s3cret"), time.Time{}); ReasonOf(err) != ReasonMalformedSignature {
		t.Fatalf("secret twice: %v", err)
	}
	if _, err := v.Verify(&Request{Method: http.MethodPost, URL: &url.URL{Path: "/w/x"}, Header: hdr()}, keys("s3cret"), time.Time{}); ReasonOf(err) != ReasonMissingSignature {
		t.Fatalf("no secret: %v", err)
	}
}

// Dialogflow fulfillment sends "authorization: Basic base64(user:password)"
// from the login fields, or the header values you configured
// (https://cloud.google.com/dialogflow/es/docs/fulfillment-webhook#auth).
func TestDialogflow(t *testing.T) {
	v := mustNew(t, "dialogflow", Options{})
	body := []byte(`{"responseId":"r-1","queryResult":{}}`)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("df:pw"))
	res, err := v.Verify(&Request{Header: hdr("Authorization", basic), Body: body}, keys("df:pw"), time.Time{})
	if err != nil || res.DeliveryID != "r-1" {
		t.Fatalf("basic: (%+v, %v)", res, err)
	}
	if _, err := v.Verify(&Request{Header: hdr("Authorization", "my-token"), Body: body}, keys("my-token"), time.Time{}); err != nil {
		t.Fatalf("header: %v", err)
	}
	if _, err := v.Verify(&Request{Header: hdr("Authorization", basic), Body: body}, keys("df:other"), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := v.Verify(&Request{Header: hdr(), Body: body}, keys("df:pw"), time.Time{}); ReasonOf(err) != ReasonMissingSignature {
		t.Fatalf("missing: %v", err)
	}
}

// Mandrill: base64 HMAC-SHA1, keyed with the webhook key, of the webhook
// URL followed by each POST key and value sorted by key
// (https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/#authenticating-webhook-requests).
func TestMandrill(t *testing.T) {
	const key, events = "mandrill-key", `[{"event":"send","_id":"m1"}]`
	u, _ := url.Parse("https://hooks.example.com/w/m?x=1")
	body := "mandrill_events=" + url.QueryEscape(events)
	sig := base64.StdEncoding.EncodeToString(hmacSum("sha1", key, u.String()+"mandrill_events"+events))
	v := mustNew(t, "mandrill", Options{})
	if _, err := v.Verify(&Request{URL: u, Header: hdr(MandrillSignatureHeader, sig), Body: []byte(body)}, keys(key), time.Time{}); err != nil {
		t.Fatal(err)
	}
	// Two fields: sorted by key, each key then its value.
	body2 := "z=2&a=1"
	sig2 := base64.StdEncoding.EncodeToString(hmacSum("sha1", key, u.String()+"a1z2"))
	if _, err := v.Verify(&Request{URL: u, Header: hdr(MandrillSignatureHeader, sig2), Body: []byte(body2)}, keys(key), time.Time{}); err != nil {
		t.Fatal(err)
	}
	other, _ := url.Parse("https://hooks.example.com/w/other")
	for name, r := range map[string]*Request{
		"tampered body": {URL: u, Header: hdr(MandrillSignatureHeader, sig), Body: []byte(body + "x")},
		"other URL":     {URL: other, Header: hdr(MandrillSignatureHeader, sig), Body: []byte(body)},
		"missing":       {URL: u, Header: hdr(), Body: []byte(body)},
		"field twice":   {URL: u, Header: hdr(MandrillSignatureHeader, sig), Body: []byte(body + "&mandrill_events=x")},
	} {
		if _, err := v.Verify(r, keys(key), time.Time{}); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := v.Verify(&Request{URL: u, Header: hdr(MandrillSignatureHeader, sig), Body: []byte(body)}, keys("other"), time.Time{}); ReasonOf(err) != ReasonSignatureMismatch {
		t.Errorf("wrong key: %v", err)
	}
}

// Braintree's digest is HMAC-SHA1 keyed with SHA-1(private key); the SDK's
// own spec pins it with RFC 2202 test cases 6 and 7 (braintree_ruby
// spec/unit/braintree/digest_spec.rb), which hold because HMAC hashes a key
// longer than the block size with SHA-1 first.
func TestBraintreeDigestSDKVectors(t *testing.T) {
	key := []byte(strings.Repeat("\xaa", 80))
	for data, want := range map[string]string{
		"Test Using Larger Than Block-Size Key - Hash Key First":                    "aa4ae5e15272d00e95705637ce8a3b55ed402112",
		"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data": "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
	} {
		if got := hex.EncodeToString(braintreeDigest(key, []byte(data))); got != want {
			t.Errorf("%q: %s, want %s", data, got, want)
		}
	}
}

// bt_signature is "public_key|hex(HMAC-SHA1(SHA-1(private_key), bt_payload))"
// pairs joined by "&"; the SDKs also accept the payload plus a newline.
func TestBraintree(t *testing.T) {
	const pub, priv = "my_public_key", "my_private_key"
	payload := base64.StdEncoding.EncodeToString([]byte("<notification><kind>check</kind></notification>"))
	k := sha1.Sum([]byte(priv))
	m := hmac.New(sha1.New, k[:])
	m.Write([]byte(payload))
	good := pub + "|" + hex.EncodeToString(m.Sum(nil))
	m.Reset()
	m.Write([]byte(payload + "\n"))
	withNewline := pub + "|" + hex.EncodeToString(m.Sum(nil))
	form := func(sig, p string) []byte {
		return []byte(url.Values{"bt_signature": {sig}, "bt_payload": {p}}.Encode())
	}
	v := mustNew(t, "braintree", Options{})
	for name, sig := range map[string]string{"plain": good, "newline": withNewline, "other pair first": "other_key|00&" + good} {
		if _, err := v.Verify(&Request{Body: form(sig, payload)}, keys(pub+":"+priv), time.Time{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, c := range map[string]struct {
		body []byte
		key  string
		want Reason
	}{
		"tampered payload": {form(good, "A"+payload), pub + ":" + priv, ReasonSignatureMismatch},
		"wrong private":    {form(good, payload), pub + ":other", ReasonSignatureMismatch},
		"other public":     {form(good, payload), "other:" + priv, ReasonSignatureMismatch},
		"missing":          {[]byte("bt_payload=" + url.QueryEscape(payload)), pub + ":" + priv, ReasonMissingSignature},
		"illegal payload":  {form(good, payload+"!"), pub + ":" + priv, ReasonMalformedSignature},
		"no colon key":     {form(good, payload), "justone", ReasonNoUsableKey},
	} {
		if _, err := v.Verify(&Request{Body: c.body}, keys(c.key), time.Time{}); ReasonOf(err) != c.want {
			t.Errorf("%s: reason %q, want %q", name, ReasonOf(err), c.want)
		}
	}
}

// Travis CI: Signature is base64 RSA-SHA1 (PKCS#1 v1.5) of the payload
// form field, under Travis' public key from /config
// (https://docs.travis-ci.com/user/notifications/#verifying-webhook-requests).
func TestTravis(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	payload := `{"id":183791261,"state":"passed"}`
	digest := sha1.Sum([]byte(payload))
	raw, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA1, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := base64.StdEncoding.EncodeToString(raw)
	body := []byte("payload=" + url.QueryEscape(payload))
	v := mustNew(t, "travis", Options{PublicKeys: [][]byte{[]byte("not a key"), pubPEM}})
	res, err := v.Verify(&Request{Header: hdr("Signature", sig), Body: body}, nil, time.Time{})
	if err != nil || res.DeliveryID != "183791261" {
		t.Fatalf("(%+v, %v)", res, err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	oder, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	for name, c := range map[string]struct {
		v    Verifier
		r    *Request
		want Reason
	}{
		"tampered": {v, &Request{Header: hdr("Signature", sig), Body: []byte("payload=" + url.QueryEscape(payload+" "))}, ReasonSignatureMismatch},
		"wrong key": {mustNew(t, "travis", Options{PublicKeys: [][]byte{pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: oder})}}),
			&Request{Header: hdr("Signature", sig), Body: body}, ReasonSignatureMismatch},
		"missing":  {v, &Request{Header: hdr(), Body: body}, ReasonMissingSignature},
		"no key":   {mustNew(t, "travis", Options{}), &Request{Header: hdr("Signature", sig), Body: body}, ReasonNoUsableKey},
		"no field": {v, &Request{Header: hdr("Signature", sig), Body: []byte("x=1")}, ReasonMissingSignature},
		"not b64":  {v, &Request{Header: hdr("Signature", "***"), Body: body}, ReasonMalformedSignature},
	} {
		if _, err := c.v.Verify(c.r, nil, time.Time{}); ReasonOf(err) != c.want {
			t.Errorf("%s: reason %q, want %q", name, ReasonOf(err), c.want)
		}
	}
}
