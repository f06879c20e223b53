package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// SignRequest and its signers produce, for every provider in the table,
// the request that provider would send: `hookgate send` posts it, and
// TestEveryProviderRoundTrips verifies each with the registry's verifier.

// Delivery is one event to sign as a provider would send it.
type Delivery struct {
	// ID is the provider's delivery id, where it sends one.
	ID string
	// Event is the event name, where the provider sends one in a header.
	Event string
	// Time is the send time the provider would sign.
	Time time.Time
	// Body is the event payload (JSON). Providers that post a form wrap it
	// in their form field; Linear gets webhookTimestamp added; Mailgun gets
	// it as event-data.
	Body []byte
	// URL is where the request goes, which some providers sign.
	URL *url.URL
}

// signer builds a provider's signed request. key is the Secret's value, or
// for key-pair providers the PEM private key from GenerateKeyPair.
type signer func(info hookv1.ProviderInfo, o Options, d Delivery, req *Request, key []byte) error

var signers = map[hookv1.Scheme]signer{
	"github": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		req.Header.Set("X-GitHub-Event", d.Event)
		req.Header.Set(GitHubDeliveryHeader, d.ID)
		req.Header.Set(GitHubSignature256Header, SignGitHub(req.Body, key))
		return nil
	},
	"gitlab": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		req.Header.Set("X-Gitlab-Event", "System Hook")
		req.Header.Set(GitLabIdempotencyKeyHeader, d.ID)
		if k := bytes.TrimSpace(key); bytes.HasPrefix(k, []byte(StandardWebhooksSecretPrefix)) {
			for h, v := range StandardWebhooksHeaders(d.ID, d.Time, req.Body, k) {
				req.Header[h] = v
			}
			return nil
		}
		req.Header.Set(GitLabTokenHeader, string(bytes.TrimSpace(key)))
		return nil
	},
	"bitbucket": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		req.Header.Set("X-Event-Key", d.Event)
		req.Header.Set(BitbucketRequestUUIDHeader, d.ID)
		req.Header.Set(BitbucketSignatureHeader, SignBitbucket(req.Body, key))
		return nil
	},
	"stripe": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		req.Header.Set(StripeSignatureHeader, SignStripe(d.Time, req.Body, key))
		return nil
	},
	"shopify": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		req.Header.Set(ShopifyTopicHeader, d.Event)
		req.Header.Set(ShopifyEventIDHeader, d.ID)
		req.Header.Set(ShopifyWebhookIDHeader, d.ID)
		req.Header.Set(ShopifyHMACHeader, SignShopify(req.Body, key))
		return nil
	},
	"slack": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		ts, sig := SignSlack(d.Time, req.Body, key)
		req.Header.Set(SlackTimestampHeader, ts)
		req.Header.Set(SlackSignatureHeader, sig)
		return nil
	},
	"twilio": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		// A JSON body is signed through the bodySHA256 query parameter.
		sum := sha256.Sum256(req.Body)
		q := req.URL.Query()
		q.Set(twilioBodyHashParam, hex.EncodeToString(sum[:]))
		req.URL.RawQuery = q.Encode()
		sig, err := SignTwilio(req.URL, req.Body, key)
		if err != nil {
			return err
		}
		req.Header.Set(TwilioIdempotencyHeader, d.ID)
		req.Header.Set(TwilioSignatureHeader, sig)
		return nil
	},
	hookv1.SchemeStandardWebhooks: func(info hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		idH, tsH, sigH := StandardWebhooksIDHeader, StandardWebhooksTimestampHeader, StandardWebhooksSignatureHeader
		if len(info.Signature.Headers) > 0 && info.Signature.Headers[0] == SvixSignatureHeader {
			idH, tsH, sigH = SvixIDHeader, SvixTimestampHeader, SvixSignatureHeader
		}
		req.Header.Set(idH, d.ID)
		req.Header.Set(tsH, strconv.FormatInt(d.Time.Unix(), 10))
		if priv, err := parsePrivateKey(key); err == nil {
			ed, ok := priv.(ed25519.PrivateKey)
			if !ok {
				return errors.New("a v1a signature needs an Ed25519 private key")
			}
			req.Header.Set(sigH, SignStandardWebhooksAsymmetric(d.ID, d.Time, req.Body, ed))
			return nil
		}
		req.Header.Set(sigH, SignStandardWebhooks(d.ID, d.Time, req.Body, bytes.TrimSpace(key)))
		return nil
	},
	"linear": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		body, err := withJSONField(req.Body, linearTimestampField, d.Time.UnixMilli())
		if err != nil {
			return err
		}
		req.Body = body
		req.Header.Set(LinearDeliveryHeader, d.ID)
		req.Header.Set("Linear-Event", d.Event)
		req.Header.Set(LinearSignatureHeader, SignLinear(req.Body, key))
		return nil
	},
	"square": func(_ hookv1.ProviderInfo, _ Options, _ Delivery, req *Request, key []byte) error {
		req.Header.Set(SquareSignatureHeader, SignSquare(req.URL.String(), req.Body, key))
		return nil
	},
	"paddle": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		req.Header.Set(PaddleSignatureHeader, SignPaddle(d.Time, req.Body, key))
		return nil
	},
	"discord": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		priv, err := parsePrivateKey(key)
		ed, ok := priv.(ed25519.PrivateKey)
		if err != nil || !ok {
			return errors.New("discord signs with an Ed25519 private key (PEM, see --generate-key-pair)")
		}
		req.Header.Set(DiscordTimestampHeader, strconv.FormatInt(d.Time.Unix(), 10))
		req.Header.Set(DiscordSignatureHeader, SignDiscord(ed, d.Time, req.Body))
		return nil
	},
	"sendgrid": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		priv, err := parsePrivateKey(key)
		ec, ok := priv.(*ecdsa.PrivateKey)
		if err != nil || !ok {
			return errors.New("sendgrid signs with an ECDSA P-256 private key (PEM, see --generate-key-pair)")
		}
		sig, err := SignSendGrid(ec, d.Time, req.Body)
		if err != nil {
			return err
		}
		req.Header.Set(SendGridTimestampHeader, strconv.FormatInt(d.Time.Unix(), 10))
		req.Header.Set(SendGridSignatureHeader, sig)
		return nil
	},
	"mailgun": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		token := sha256.Sum256([]byte(d.ID))
		body, err := MailgunJSONBody(d.Time, hex.EncodeToString(token[:25]), json.RawMessage(req.Body), key)
		if err != nil {
			return err
		}
		req.Body = body
		return nil
	},
	"zoom": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		for h, v := range ZoomHeaders(d.Time, req.Body, key) {
			req.Header[h] = v
		}
		return nil
	},
	"intercom": func(_ hookv1.ProviderInfo, _ Options, _ Delivery, req *Request, key []byte) error {
		req.Header.Set(IntercomSignatureHeader, SignIntercom(req.Body, key))
		return nil
	},
	"twitch": func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, key []byte) error {
		for h, v := range TwitchHeaders(d.ID, "notification", d.Time, req.Body, key) {
			req.Header[h] = v
		}
		return nil
	},
	hookv1.SchemeGenericHMAC: func(_ hookv1.ProviderInfo, o Options, d Delivery, req *Request, key []byte) error {
		g := GenericHMACOptions{}
		if o.Generic != nil {
			g = *o.Generic
		}
		if g.IDHeader != "" {
			req.Header.Set(g.IDHeader, d.ID)
		}
		if g.TimestampHeader != "" {
			req.Header.Set(g.TimestampHeader, strconv.FormatInt(d.Time.Unix(), 10))
		}
		sig, err := SignGenericHMAC(g, req, key)
		if err != nil {
			return err
		}
		req.Header.Set(orDefault(g.Header, DefaultGenericHeader), sig)
		return nil
	},
	"bearer": func(_ hookv1.ProviderInfo, _ Options, _ Delivery, req *Request, key []byte) error {
		req.Header.Set(AuthorizationHeader, "Bearer "+string(bytes.TrimSpace(key)))
		return nil
	},
	"basic": func(_ hookv1.ProviderInfo, _ Options, _ Delivery, req *Request, key []byte) error {
		req.Header.Set(AuthorizationHeader, "Basic "+base64.StdEncoding.EncodeToString(bytes.TrimSpace(key)))
		return nil
	},
	hookv1.SchemeHMAC: func(info hookv1.ProviderInfo, o Options, d Delivery, req *Request, key []byte) error {
		t, err := newTableHMAC(info, o.Tolerance)
		if err != nil {
			return err
		}
		if r := info.HMAC; r.IDHeader != "" {
			req.Header.Set(r.IDHeader, d.ID)
		}
		if r := info.HMAC; r.TimestampHeader != "" {
			req.Header.Set(r.TimestampHeader, formatTimestamp(orDefault(r.TimestampFormat, TimestampUnix), d.Time))
		}
		var tsElement string
		if r := info.HMAC; r.TimestampParam != "" {
			// The timestamp travels in the signature header itself.
			tsElement = r.TimestampParam + "=" + formatTimestamp(orDefault(r.TimestampFormat, TimestampUnix), d.Time)
			req.Header.Set(r.Header, tsElement)
		}
		sig, err := t.sign(req, key)
		if err != nil {
			return err
		}
		if tsElement != "" {
			sig = tsElement + info.HMAC.ListSeparator + sig
		}
		req.Header.Set(info.HMAC.Header, sig)
		return nil
	},
	hookv1.SchemeToken: func(info hookv1.ProviderInfo, _ Options, _ Delivery, req *Request, key []byte) error {
		signToken(*info.Token, req, key)
		return nil
	},
	hookv1.SchemeStrava: func(_ hookv1.ProviderInfo, _ Options, d Delivery, req *Request, _ []byte) error {
		// Strava signs nothing: the body is all there is.
		body, err := StravaEvent(req.Body, d.Time)
		if err != nil {
			return err
		}
		req.Body = body
		return nil
	},
	hookv1.SchemeMandrill: func(_ hookv1.ProviderInfo, _ Options, _ Delivery, req *Request, key []byte) error {
		body, sig, err := SignMandrill(req.URL, req.Body, key)
		if err != nil {
			return err
		}
		req.Body = body
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(MandrillSignatureHeader, sig)
		return nil
	},
	hookv1.SchemeBraintree: func(_ hookv1.ProviderInfo, _ Options, _ Delivery, req *Request, key []byte) error {
		body, err := SignBraintree(req.Body, key)
		if err != nil {
			return err
		}
		req.Body = body
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return nil
	},
	hookv1.SchemeTravis: func(_ hookv1.ProviderInfo, _ Options, _ Delivery, req *Request, key []byte) error {
		priv, err := parsePrivateKey(key)
		rk, ok := priv.(*rsa.PrivateKey)
		if err != nil || !ok {
			return errors.New("travis signs with an RSA private key (PEM, see --generate-key-pair)")
		}
		body, sig, err := SignTravis(req.Body, rk)
		if err != nil {
			return err
		}
		req.Body = body
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Travis-Repo-Slug", "hookgate/test")
		req.Header.Set(TravisSignatureHeader, sig)
		return nil
	},
}

// SignRequest returns the POST that provider would send for d, signed with
// key: the Secret's value for a shared secret or credential, or for a
// key-pair provider (and Standard Webhooks v1a) a PEM private key.
func SignRequest(provider string, o Options, d Delivery, key []byte) (*Request, error) {
	info, ok := hookv1.LookupProvider(hookv1.Provider(provider))
	if !ok {
		return nil, fmt.Errorf("unknown provider %q", provider)
	}
	return SignRequestFromInfo(info, o, d, key)
}

// SignRequestFromInfo is SignRequest for a provider table entry, e.g. a
// WebhookProvider's (WebhookProviderSpec.ProviderInfo).
func SignRequestFromInfo(info hookv1.ProviderInfo, o Options, d Delivery, key []byte) (*Request, error) {
	provider := string(info.Name)
	sign, ok := signers[info.Scheme]
	if !ok {
		return nil, fmt.Errorf("provider %q: no signer for scheme %q", provider, info.Scheme)
	}
	if d.URL == nil {
		return nil, errors.New("no URL to send to")
	}
	u := *d.URL
	req := &Request{Method: http.MethodPost, URL: &u, Header: http.Header{}, Body: append([]byte(nil), d.Body...)}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hookgate-send")
	if err := sign(info, o, d, req, key); err != nil {
		return nil, fmt.Errorf("signing as %s: %w", provider, err)
	}
	return req, nil
}

// GenerateKeyPair creates a test key pair for a provider that signs with a
// private key: public in the encoding spec.publicKeys takes for it, private
// as PKCS#8 PEM for SignRequest (`hookgate send --private-key`).
func GenerateKeyPair(provider string) (public, private []byte, err error) {
	info, ok := hookv1.LookupProvider(hookv1.Provider(provider))
	if !ok {
		return nil, nil, fmt.Errorf("unknown provider %q", provider)
	}
	var priv any
	switch info.Scheme {
	case "discord", hookv1.SchemeStandardWebhooks:
		pub, p, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		priv = p
		if info.Scheme == "discord" {
			public = []byte(hex.EncodeToString(pub))
		} else {
			public = StandardWebhooksPublicKey(pub)
		}
	case "sendgrid":
		p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		der, err := x509.MarshalPKIXPublicKey(&p.PublicKey)
		if err != nil {
			return nil, nil, err
		}
		priv, public = p, []byte(base64.StdEncoding.EncodeToString(der))
	case hookv1.SchemeTravis:
		p, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, err
		}
		der, err := x509.MarshalPKIXPublicKey(&p.PublicKey)
		if err != nil {
			return nil, nil, err
		}
		priv, public = p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	default:
		p, pub, err := issuerKeyPair(info)
		if err != nil {
			return nil, nil, err
		}
		priv, public = p, pub
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return public, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parsePrivateKey(key []byte) (any, error) {
	block, _ := pem.Decode(bytes.TrimSpace(key))
	if block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
		return nil, errors.New("not a PEM private key")
	}
	return x509.ParsePKCS8PrivateKey(block.Bytes)
}

// withJSONField adds a top-level field to a JSON object body.
func withJSONField(body []byte, name string, value any) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf("the body must be a JSON object: %w", err)
	}
	v, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	obj[name] = v
	return json.Marshal(obj)
}
