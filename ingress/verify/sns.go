package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS SignatureVersion 1 is SHA1withRSA.
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Amazon SNS (hookv1.SchemeSNS), as documented in
// https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
// and done by the official validators (aws-js-sns-message-validator,
// aws-php-sns-message-validator):
//
//   - the body is a JSON object of strings; the signed string is
//     "<Name>\n<Value>\n" for, in this order, Message, MessageId, Subject
//     (only if present), Timestamp, TopicArn, Type (Notification), or
//     Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type
//     (SubscriptionConfirmation, UnsubscribeConfirmation);
//   - SignatureVersion 1 is SHA1withRSA, 2 SHA256withRSA, of that string,
//     base64 in Signature, under the certificate at SigningCertURL;
//   - SigningCertURL must be https on sns.<region>.amazonaws.com(.cn)
//     (anything else is refused before any fetch) and its certificate must
//     chain to a trusted root;
//   - the TopicArn must be one of the endpoint's (spec.sns.topicARNs),
//     checked before the certificate is fetched.
//
// A SubscriptionConfirmation whose signature verifies is confirmed by a GET
// of its SubscribeURL, which must also be https on an SNS host and name
// the same topic and token; it is answered, not stored.

// SNSOptions configure the aws-sns verifier.
type SNSOptions struct {
	// TopicARNs are the accepted topics; required.
	TopicARNs []string
	// Fetcher gets signing certificates; nil: DefaultFetcher.
	Fetcher *Fetcher
	// Roots verify the certificate chain; nil: the system roots.
	Roots *x509.CertPool
	// Certificates, when set, are the only trusted signing certificates
	// (PEM), used instead of fetching SigningCertURL: for tests and the
	// round trip of `hookgate send`, never set from a spec.
	Certificates [][]byte
	// Confirm GETs a SubscribeURL; nil: a bounded GET with
	// DefaultFetchClient.
	Confirm func(ctx context.Context, subscribeURL string) error
}

// SNS message types and the header SNS sends the type in.
const (
	SNSNotification             = "Notification"
	SNSSubscriptionConfirmation = "SubscriptionConfirmation"
	SNSUnsubscribeConfirmation  = "UnsubscribeConfirmation"
	SNSMessageTypeHeader        = "x-amz-sns-message-type"
)

// snsHost is the host check of the official validators.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]{3,}\.amazonaws\.com(\.cn)?$`)

func init() {
	registerScheme(hookv1.SchemeSNS, func(_ hookv1.ProviderInfo, o Options) (Verifier, error) {
		return newSNS(o.SNS)
	})
}

type snsVerifier struct {
	o      SNSOptions
	pinned []*x509.Certificate
}

func newSNS(o *SNSOptions) (*snsVerifier, error) {
	if o == nil || len(o.TopicARNs) == 0 {
		return nil, errors.New("aws-sns needs spec.sns.topicARNs")
	}
	v := &snsVerifier{o: *o}
	for i, p := range o.Certificates {
		c, err := parseSNSCertificate(p)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i, err)
		}
		v.pinned = append(v.pinned, c)
	}
	return v, nil
}

// snsMessage is the signed part of an SNS body.
type snsMessage map[string]string

// parseSNSMessage reads a body that must be a JSON object of strings with
// no duplicate names.
func parseSNSMessage(body []byte) (snsMessage, error) {
	var raw map[string]json.RawMessage
	if err := decodeJSONObject(body, &raw); err != nil || raw == nil {
		return nil, fail(ReasonMalformedSignature, "an SNS message is a JSON object with each name once")
	}
	m := snsMessage{}
	for k, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			if k == "MessageAttributes" {
				continue // unsigned, an object in raw delivery off mode
			}
			return nil, fail(ReasonMalformedSignature, "SNS member %s is not a string", truncate(k, 32))
		}
		m[k] = s
	}
	return m, nil
}

// snsCanonical is the string SNS signs for the message's type.
func snsCanonical(m snsMessage) ([]byte, error) {
	var names []string
	switch m["Type"] {
	case SNSNotification:
		names = []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	case SNSSubscriptionConfirmation, SNSUnsubscribeConfirmation:
		names = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	default:
		return nil, fail(ReasonMalformedSignature, "SNS Type %q is not known", truncate(m["Type"], 32))
	}
	var b bytes.Buffer
	for _, n := range names {
		v, ok := m[n]
		if !ok {
			if n == "Subject" {
				continue
			}
			return nil, fail(ReasonMissingSignature, "SNS member %s is absent", n)
		}
		b.WriteString(n + "\n" + v + "\n")
	}
	return b.Bytes(), nil
}

// checkSNSURL requires https on an SNS host, nothing else.
func checkSNSURL(raw, what string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" || !snsHost.MatchString(u.Hostname()) || u.Opaque != "" {
		return nil, fail(ReasonMalformedSignature, "%s is not an https URL on sns.<region>.amazonaws.com", what)
	}
	return u, nil
}

// Verify implements Verifier. keys are not used: the keys are AWS's.
func (v *snsVerifier) Verify(req *Request, _ [][]byte, now time.Time) (Result, error) {
	if req == nil {
		return Result{}, errNoRequest()
	}
	m, err := parseSNSMessage(req.Body)
	if err != nil {
		return Result{}, err
	}
	if m["Signature"] == "" {
		return Result{}, fail(ReasonMissingSignature, "the SNS message has no Signature")
	}
	if h := firstHeader(req.Header, SNSMessageTypeHeader); h != "" && h != m["Type"] {
		return Result{}, fail(ReasonMalformedSignature, "%s says %q, the message %q", SNSMessageTypeHeader, truncate(h, 32), truncate(m["Type"], 32))
	}
	canonical, err := snsCanonical(m)
	if err != nil {
		return Result{}, err
	}
	if !contains(v.o.TopicARNs, m["TopicArn"]) {
		return Result{}, fail(ReasonSignatureMismatch, "TopicArn %q is not one of the endpoint's", truncate(m["TopicArn"], 256))
	}
	var hash crypto.Hash
	var digest []byte
	switch m["SignatureVersion"] {
	case "1":
		sum := sha1.Sum(canonical) //nolint:gosec // what SNS signs
		hash, digest = crypto.SHA1, sum[:]
	case "2":
		sum := sha256.Sum256(canonical)
		hash, digest = crypto.SHA256, sum[:]
	default:
		return Result{}, fail(ReasonMalformedSignature, "SignatureVersion %q is not 1 or 2", truncate(m["SignatureVersion"], 8))
	}
	sig, err := base64.StdEncoding.DecodeString(m["Signature"])
	if err != nil {
		return Result{}, fail(ReasonMalformedSignature, "Signature is not base64")
	}
	if _, err := checkSNSURL(m["SigningCertURL"], "SigningCertURL"); err != nil {
		return Result{}, err
	}
	certs, err := v.certificates(m["SigningCertURL"], now)
	if err != nil {
		return Result{}, err
	}
	ok := false
	for _, c := range certs {
		if pub, isRSA := c.PublicKey.(*rsa.PublicKey); isRSA && rsa.VerifyPKCS1v15(pub, hash, digest, sig) == nil {
			ok = true
			break
		}
	}
	if !ok {
		return Result{}, fail(ReasonSignatureMismatch, "the SNS signature does not verify")
	}
	res := Result{DeliveryID: m["MessageId"]}
	if ts, err := time.Parse(time.RFC3339Nano, m["Timestamp"]); err == nil {
		res.Timestamp = ts
	}
	if m["Type"] == SNSSubscriptionConfirmation {
		res.Handshake = v.confirm(m)
	}
	return res, nil
}

func (v *snsVerifier) certificates(certURL string, now time.Time) ([]*x509.Certificate, error) {
	if len(v.pinned) > 0 {
		return v.pinned, nil
	}
	got, err := v.o.Fetcher.orDefault().get(certURL, now, false, func(b []byte) (any, error) {
		c, err := parseSNSCertificate(b)
		if err != nil {
			return nil, err
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: v.o.Roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, fmt.Errorf("the signing certificate does not chain to a trusted root: %w", err)
		}
		return c, nil
	})
	if err != nil {
		return nil, fail(ReasonNoUsableKey, "SNS signing certificate: %v", err)
	}
	c := got.(*x509.Certificate)
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return nil, fail(ReasonNoUsableKey, "the SNS signing certificate is not valid now")
	}
	return []*x509.Certificate{c}, nil
}

func parseSNSCertificate(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(bytes.TrimSpace(b))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	if _, ok := c.PublicKey.(*rsa.PublicKey); !ok {
		return nil, errors.New("the SNS signing certificate's key is not RSA")
	}
	return c, nil
}

// confirmed remembers recently confirmed SubscribeURLs, so that replays of
// one confirmation (or SNS's own retries) cost one GET.
var confirmed = struct {
	sync.Mutex
	at map[string]time.Time
}{at: map[string]time.Time{}}

const confirmMemory = 10 * time.Minute

// confirm GETs the SubscribeURL of a verified SubscriptionConfirmation.
func (v *snsVerifier) confirm(m snsMessage) *Handshake {
	u, err := checkSNSURL(m["SubscribeURL"], "SubscribeURL")
	if err != nil {
		return outcomeAnswer(http.StatusBadRequest, "SubscribeURLRefused")
	}
	q := u.Query()
	if q.Get("Action") != "ConfirmSubscription" || q.Get("TopicArn") != m["TopicArn"] || q.Get("Token") != m["Token"] {
		return outcomeAnswer(http.StatusBadRequest, "SubscribeURLRefused")
	}
	key := u.String()
	now := time.Now()
	confirmed.Lock()
	if t, ok := confirmed.at[key]; ok && now.Sub(t) < confirmMemory {
		confirmed.Unlock()
		return outcomeAnswer(http.StatusOK, "confirmed")
	}
	if len(confirmed.at) > 1024 {
		confirmed.at = map[string]time.Time{}
	}
	confirmed.Unlock()
	do := v.o.Confirm
	if do == nil {
		do = confirmGET
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := do(ctx, key); err != nil {
		return outcomeAnswer(http.StatusBadGateway, "ConfirmationFailed")
	}
	confirmed.Lock()
	confirmed.at[key] = now
	confirmed.Unlock()
	return outcomeAnswer(http.StatusOK, "confirmed")
}

// outcomeAnswer is the JSON answer {"status": outcome} of a subscription
// handshake the receiver completes itself (SNS's SubscribeURL, Event
// Grid's validationUrl).
func outcomeAnswer(status int, outcome string) *Handshake {
	body, _ := json.Marshal(map[string]string{"status": outcome})
	return &Handshake{Status: status, ContentType: "application/json", Body: body}
}

// confirmGET is the GET that confirms a subscription: SNS's SubscribeURL,
// Event Grid's validationUrl, each checked by its caller. It uses
// DefaultFetchClient (no redirect followed, public addresses only), reads
// at most 64 KiB of the answer and wants 200.
func confirmGET(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "hookgate")
	resp, err := DefaultFetchClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("confirmation GET: HTTP %d (redirects are not followed)", resp.StatusCode)
	}
	return nil
}

// SNSSigningCertURL is the certificate URL `hookgate send` and tests put in
// the messages they sign.
const SNSSigningCertURL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-hookgate-test.pem"

// SNSTestTopicARN is the topic signed for when the options name none.
const SNSTestTopicARN = "arn:aws:sns:us-east-1:123456789012:hookgate-test"

// SignSNS returns the body of an SNS message of m's Type, with
// SignatureVersion version ("1" or "2"), signed by key; m must hold the
// members the type signs, SigningCertURL is set when absent.
func SignSNS(m map[string]string, version string, key *rsa.PrivateKey) ([]byte, error) {
	out := snsMessage{}
	for k, v := range m {
		out[k] = v
	}
	if out["SigningCertURL"] == "" {
		out["SigningCertURL"] = SNSSigningCertURL
	}
	out["SignatureVersion"] = version
	canonical, err := snsCanonical(out)
	if err != nil {
		return nil, err
	}
	var sig []byte
	switch version {
	case "1":
		sum := sha1.Sum(canonical) //nolint:gosec // what SNS signs
		sig, err = rsa.SignPKCS1v15(randReader, key, crypto.SHA1, sum[:])
	case "2":
		sum := sha256.Sum256(canonical)
		sig, err = rsa.SignPKCS1v15(randReader, key, crypto.SHA256, sum[:])
	default:
		return nil, fmt.Errorf("SignatureVersion %q", version)
	}
	if err != nil {
		return nil, err
	}
	out["Signature"] = base64.StdEncoding.EncodeToString(sig)
	return json.Marshal(map[string]string(out))
}
