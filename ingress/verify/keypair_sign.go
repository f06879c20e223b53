package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Signers and test key pairs of the providers in
// api/v1alpha1/providers_keypair.go, for `hookgate send` and
// TestEveryProviderRoundTrips.

func init() {
	signers[hookv1.SchemeJWT] = signJWTRequest
	signers[hookv1.SchemeSNS] = signSNSRequest
	signers[hookv1.SchemeMicrosoftGraph] = func(_ hookv1.ProviderInfo, _ Options, _ Delivery, req *Request, key []byte) error {
		body, err := GraphNotificationBody(json.RawMessage(req.Body), string(trimmedKeys([][]byte{key})[0]))
		if err != nil {
			return err
		}
		req.Body = body
		return nil
	}
}

// JWTOptionsFromSpec are the verifier's (and signer's) options of spec.jwt.
func JWTOptionsFromSpec(s *hookv1.JWTSpec) *JWTOptions {
	if s == nil {
		return nil
	}
	o := &JWTOptions{Issuer: s.Issuer, Audiences: s.Audiences, JWKSURL: s.JWKSURL, Claims: s.Claims, Header: s.Header}
	for _, k := range s.Keys {
		o.Keys = append(o.Keys, []byte(k))
	}
	for _, a := range s.Algorithms {
		o.Algorithms = append(o.Algorithms, string(a))
	}
	return o
}

// SNSOptionsFromSpec are the verifier's options of spec.sns.
func SNSOptionsFromSpec(s *hookv1.SNSSpec) *SNSOptions {
	if s == nil {
		return nil
	}
	return &SNSOptions{TopicARNs: s.TopicARNs}
}

// signJWTRequest sends the delivery with a token signed by key (PEM), as
// the provider's issuer would: for google-pubsub in a push envelope, for
// azure-eventgrid as one Event Grid event.
func signJWTRequest(info hookv1.ProviderInfo, o Options, d Delivery, req *Request, key []byte) error {
	priv, err := parsePrivateKey(key)
	if err != nil {
		return fmt.Errorf("%s signs with a private key (PEM, see --generate-key-pair): %w", info.Name, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return errors.New("not a signing key")
	}
	jo := o.JWT
	if jo == nil {
		jo = &JWTOptions{}
	}
	if info.JWT != nil {
		jo = withJWTRecipe(info.JWT, jo)
	}
	iss := jo.Issuer
	if info.JWT != nil && len(info.JWT.Issuers) > 0 {
		iss = info.JWT.Issuers[0]
	}
	aud := d.URL.String()
	if len(jo.Audiences) > 0 {
		aud = jo.Audiences[0]
	}
	claims := map[string]any{
		"iss": iss, "aud": aud, "sub": "hookgate-send",
		"iat": d.Time.Unix(), "nbf": d.Time.Unix(), "exp": d.Time.Add(5 * time.Minute).Unix(),
	}
	for k, v := range jo.Claims {
		claims[k] = v
	}
	m, err := jwkMembers(signer.Public())
	if err != nil {
		return err
	}
	token, err := signJWS(signer, jwkThumbprint(m), claims)
	if err != nil {
		return err
	}
	switch info.Name {
	case "google-pubsub":
		env := map[string]any{
			"message": map[string]any{
				"data": base64.StdEncoding.EncodeToString(req.Body), "messageId": d.ID, "message_id": d.ID,
				"publishTime": d.Time.UTC().Format(time.RFC3339Nano),
			},
			"subscription": "projects/hookgate/subscriptions/hookgate-send",
		}
		if req.Body, err = json.Marshal(env); err != nil {
			return err
		}
	case "azure-eventgrid":
		ev := []map[string]any{{
			"id": d.ID, "eventType": d.Event, "subject": "hookgate/send", "eventTime": d.Time.UTC().Format(time.RFC3339Nano),
			"data": json.RawMessage(req.Body), "dataVersion": "1", "metadataVersion": "1",
		}}
		if req.Body, err = json.Marshal(ev); err != nil {
			return err
		}
	}
	header := orDefault(jo.Header, hookv1.DefaultJWTHeader)
	if header == hookv1.DefaultJWTHeader {
		token = "Bearer " + token
	}
	req.Header.Set(header, token)
	return nil
}

// signSNSRequest sends the delivery as an SNS Notification of the
// endpoint's first topic, SignatureVersion 2.
func signSNSRequest(_ hookv1.ProviderInfo, o Options, d Delivery, req *Request, key []byte) error {
	priv, err := parsePrivateKey(key)
	rk, ok := priv.(*rsa.PrivateKey)
	if err != nil || !ok {
		return errors.New("aws-sns signs with an RSA private key (PEM, see --generate-key-pair)")
	}
	topic := SNSTestTopicARN
	if o.SNS != nil && len(o.SNS.TopicARNs) > 0 {
		topic = o.SNS.TopicARNs[0]
	}
	body, err := SignSNS(map[string]string{
		"Type": SNSNotification, "MessageId": d.ID, "TopicArn": topic, "Message": string(req.Body),
		"Timestamp":      d.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
		"UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + topic + ":hookgate-send",
	}, "2", rk)
	if err != nil {
		return err
	}
	req.Body = body
	req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
	req.Header.Set(SNSMessageTypeHeader, SNSNotification)
	req.Header.Set("x-amz-sns-message-id", d.ID)
	req.Header.Set("x-amz-sns-topic-arn", topic)
	return nil
}

// issuerKeyPair makes a test key pair for a KeyIssuerKeys provider: for a
// JWT provider a JWK (for spec.jwt.keys) and its key, RSA where the
// provider signs RS256 only; for aws-sns a self-signed certificate (PEM,
// SNSOptions.Certificates) and its RSA key.
func issuerKeyPair(info hookv1.ProviderInfo) (crypto.Signer, []byte, error) {
	switch info.Scheme {
	case hookv1.SchemeJWT:
		var k crypto.Signer
		var err error
		if info.JWT != nil && len(info.JWT.Algorithms) == 1 && info.JWT.Algorithms[0] == "RS256" {
			k, err = rsa.GenerateKey(rand.Reader, 2048)
		} else {
			k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		if err != nil {
			return nil, nil, err
		}
		pub, _, err := PublicJWK(k.Public())
		return k, pub, err
	case hookv1.SchemeSNS:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, err
		}
		cert, err := selfSignedCert(k, "sns.amazonaws.com")
		return k, cert, err
	}
	return nil, nil, fmt.Errorf("provider %q does not sign with a private key", info.Name)
}

// selfSignedCert is a one-year CA certificate for key, in PEM.
func selfSignedCert(key crypto.Signer, cn string) ([]byte, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
