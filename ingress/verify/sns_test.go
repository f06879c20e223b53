package verify

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS SignatureVersion 1
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// snsPKI is a test CA, an SNS signing certificate it issued, and a
// loopback server publishing that certificate for every path.
type snsPKI struct {
	key   *rsa.PrivateKey
	roots *x509.CertPool
	srv   *httptest.Server
	hits  atomic.Int32
	opts  SNSOptions
	// confirmed are the SubscribeURLs the verifier GOT.
	confirmed []string
}

var snsNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func newSNSPKI(t *testing.T) *snsPKI {
	t.Helper()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test SNS CA"},
		NotBefore: snsNow.Add(-time.Hour), NotAfter: snsNow.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	p := &snsPKI{key: testRSAKey(t), roots: x509.NewCertPool()}
	p.roots.AddCert(ca)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: snsNow.Add(-time.Hour), NotAfter: snsNow.AddDate(0, 6, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &p.key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	p.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		_, _ = w.Write(leaf)
	}))
	t.Cleanup(p.srv.Close)
	p.opts = SNSOptions{
		TopicARNs: []string{SNSTestTopicARN},
		Fetcher:   &Fetcher{Client: loopbackClient(p.srv)},
		Roots:     p.roots,
		Confirm: func(_ context.Context, u string) error {
			p.confirmed = append(p.confirmed, u)
			return nil
		},
	}
	return p
}

func (p *snsPKI) verifier(t *testing.T) *snsVerifier {
	v, err := newSNS(&p.opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func snsRequest(body []byte, typ string) *Request {
	u, _ := url.Parse("https://hooks.example.com/hook/abc")
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	if typ != "" {
		h.Set(SNSMessageTypeHeader, typ)
	}
	return &Request{Method: http.MethodPost, URL: u, Header: h, Body: body}
}

// A Notification signed over the canonical string written out by hand
// from the documented recipe (not through snsCanonical), both versions.
func TestSNSNotificationOfTheDocumentedStringVerifies(t *testing.T) {
	p := newSNSPKI(t)
	v := p.verifier(t)
	msg := map[string]string{
		"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": SNSTestTopicARN,
		"Subject": "My First Message", "Message": "Hello world!\nline two", "Timestamp": "2026-03-14T15:09:26.123Z",
		"SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
		"UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
	}
	canonical := "Message\nHello world!\nline two\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubject\nMy First Message\n" +
		"Timestamp\n2026-03-14T15:09:26.123Z\nTopicArn\n" + SNSTestTopicARN + "\nType\nNotification\n"
	for _, version := range []string{"1", "2"} {
		var sig []byte
		var err error
		if version == "1" {
			d := sha1.Sum([]byte(canonical)) //nolint:gosec
			sig, err = rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA1, d[:])
		} else {
			d := sha256.Sum256([]byte(canonical))
			sig, err = rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, d[:])
		}
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for k, val := range msg {
			m[k] = val
		}
		m["SignatureVersion"], m["Signature"] = version, base64.StdEncoding.EncodeToString(sig)
		body, _ := json.Marshal(m)
		res, err := v.Verify(snsRequest(body, "Notification"), nil, snsNow)
		if err != nil {
			t.Fatalf("SignatureVersion %s: %v", version, err)
		}
		if res.DeliveryID != msg["MessageId"] || res.Handshake != nil || !res.Timestamp.Equal(time.Date(2026, 3, 14, 15, 9, 26, 123e6, time.UTC)) {
			t.Fatalf("result %+v", res)
		}
	}
	if p.hits.Load() != 1 {
		t.Fatalf("certificate fetched %d times, want once", p.hits.Load())
	}
}

func TestSNSRefusals(t *testing.T) {
	p := newSNSPKI(t)
	v := p.verifier(t)
	base := map[string]string{
		"Type": "Notification", "MessageId": "m-1", "TopicArn": SNSTestTopicARN, "Message": `{"a":1}`,
		"Timestamp": "2026-03-14T15:09:26.123Z",
	}
	sign := func(mod func(map[string]string), key *rsa.PrivateKey) []byte {
		m := map[string]string{}
		for k, val := range base {
			m[k] = val
		}
		if mod != nil {
			mod(m)
		}
		body, err := SignSNS(m, "2", key)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	edit := func(body []byte, k, val string) []byte {
		var m map[string]string
		_ = json.Unmarshal(body, &m)
		m[k] = val
		b, _ := json.Marshal(m)
		return b
	}
	good := sign(nil, p.key)
	if _, err := v.Verify(snsRequest(good, ""), nil, snsNow); err != nil {
		t.Fatalf("the good message: %v", err)
	}
	fetched := p.hits.Load()
	cases := []struct {
		name  string
		body  []byte
		typ   string
		want  Reason
		fetch bool
	}{
		{"a changed Message is refused", edit(good, "Message", `{"a":2}`), "", ReasonSignatureMismatch, true},
		{"a changed MessageId is refused", edit(good, "MessageId", "m-2"), "", ReasonSignatureMismatch, true},
		{"an added Subject is refused", edit(good, "Subject", "hi"), "", ReasonSignatureMismatch, true},
		{"another key's signature is refused", sign(nil, otherKey), "", ReasonSignatureMismatch, true},
		{"a missing signature is refused", edit(good, "Signature", ""), "", ReasonMissingSignature, false},
		{"SignatureVersion 3 is refused", edit(good, "SignatureVersion", "3"), "", ReasonMalformedSignature, false},
		{"another topic is refused before any fetch", sign(func(m map[string]string) { m["TopicArn"] = "arn:aws:sns:us-east-1:999999999999:evil" }, p.key), "", ReasonSignatureMismatch, false},
		{"an http certificate URL is refused", edit(good, "SigningCertURL", "http://sns.us-east-1.amazonaws.com/a.pem"), "", ReasonMalformedSignature, false},
		{"a certificate on another host is refused", edit(good, "SigningCertURL", "https://evil.example.com/a.pem"), "", ReasonMalformedSignature, false},
		{"a look-alike host is refused", edit(good, "SigningCertURL", "https://sns.us-east-1.amazonaws.com.evil.example/a.pem"), "", ReasonMalformedSignature, false},
		{"a host with a port is refused", edit(good, "SigningCertURL", "https://sns.us-east-1.amazonaws.com:8443/a.pem"), "", ReasonMalformedSignature, false},
		{"userinfo in the URL is refused", edit(good, "SigningCertURL", "https://evil@sns.us-east-1.amazonaws.com/a.pem"), "", ReasonMalformedSignature, false},
		{"a type header disagreeing with the body is refused", good, "SubscriptionConfirmation", ReasonMalformedSignature, false},
		{"an unknown Type is refused", edit(good, "Type", "Other"), "", ReasonMalformedSignature, false},
		{"a member named twice is refused", []byte(strings.Replace(string(good), `"Message":`, `"Message":"x","Message":`, 1)), "", ReasonMalformedSignature, false},
		{"a body that is no object is refused", []byte(`[1]`), "", ReasonMalformedSignature, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := p.hits.Load()
			_, err := v.Verify(snsRequest(c.body, c.typ), nil, snsNow)
			if got := ReasonOf(err); got != c.want {
				t.Fatalf("reason %q (%v), want %q", got, err, c.want)
			}
			if !c.fetch && p.hits.Load() != before {
				t.Fatal("a certificate was fetched for a message refused before its signature")
			}
		})
	}
	if p.hits.Load() != fetched {
		t.Errorf("the cached certificate was fetched again")
	}
	// A certificate that does not chain to the trusted roots.
	p2 := newSNSPKI(t)
	p2.opts.Roots = x509.NewCertPool()
	p2.opts.Fetcher = &Fetcher{Client: loopbackClient(p2.srv)}
	if _, err := p2.verifier(t).Verify(snsRequest(good, ""), nil, snsNow); ReasonOf(err) != ReasonNoUsableKey {
		t.Errorf("an untrusted certificate: %v", err)
	}
}

func TestSNSSubscriptionConfirmationIsConfirmedOnlyWhenItVerifies(t *testing.T) {
	p := newSNSPKI(t)
	v := p.verifier(t)
	sub := "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(SNSTestTopicARN) + "&Token=tok-1"
	m := map[string]string{
		"Type": SNSSubscriptionConfirmation, "MessageId": "c-1", "Token": "tok-1", "TopicArn": SNSTestTopicARN,
		"Message": "You have chosen to subscribe to the topic", "SubscribeURL": sub, "Timestamp": "2026-03-14T15:09:26.123Z",
	}
	body, err := SignSNS(m, "1", p.key)
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(snsRequest(body, SNSSubscriptionConfirmation), nil, snsNow)
	if err != nil || res.Handshake == nil || res.Handshake.Status != http.StatusOK {
		t.Fatalf("confirmation: %+v %v", res, err)
	}
	if len(p.confirmed) != 1 || p.confirmed[0] != sub {
		t.Fatalf("confirmed %v", p.confirmed)
	}
	// A replay costs no second GET.
	if _, err := v.Verify(snsRequest(body, ""), nil, snsNow); err != nil || len(p.confirmed) != 1 {
		t.Fatalf("replay: %v, %d GETs", err, len(p.confirmed))
	}
	for name, u := range map[string]string{
		"another host":  strings.Replace(sub, "sns.us-east-1.amazonaws.com", "evil.example.com", 1),
		"another topic": strings.Replace(sub, "hookgate-test", "other", 1),
		"another token": strings.Replace(sub, "tok-1", "tok-2", 1),
		"http":          strings.Replace(sub, "https:", "http:", 1),
	} {
		m2 := map[string]string{}
		for k, val := range m {
			m2[k] = val
		}
		m2["SubscribeURL"], m2["MessageId"] = u, "c-"+name
		b, _ := SignSNS(m2, "2", p.key)
		res, err := v.Verify(snsRequest(b, ""), nil, snsNow)
		if err != nil || res.Handshake == nil || res.Handshake.Status != http.StatusBadRequest {
			t.Errorf("SubscribeURL on %s: %+v %v", name, res, err)
		}
	}
	tampered := []byte(strings.Replace(string(body), "tok-1", "tok-9", 2))
	if _, err := v.Verify(snsRequest(tampered, ""), nil, snsNow); err == nil {
		t.Error("a tampered confirmation verified")
	}
	if len(p.confirmed) != 1 {
		t.Errorf("%d GETs, want 1", len(p.confirmed))
	}
}
