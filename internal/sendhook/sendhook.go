// Package sendhook signs a test webhook the way an endpoint's provider
// would and posts it to the receiver: the quickest way to see the whole path
// work. `hookgate send` and `kubectl hookgate send` are both thin users of
// it. It signs for every provider in the provider table
// (verify.SignRequest).
package sendhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/verify"
)

// DefaultBody is the payload sent without --body.
const DefaultBody = `{"id":"evt_hookgate_test","type":"test","hello":"hookgate"}`

// Options say what to send where.
type Options struct {
	// Namespace and Name of the WebhookEndpoint.
	Namespace, Name string
	// Receiver is the receiver's base URL; the endpoint's
	// status.webhookPath is appended. Empty: the endpoint's status.url (the
	// public URL providers call).
	Receiver string
	// Body is the payload (JSON; form-posting providers get it in their
	// form field).
	Body string
	// ID is the delivery id; empty: a random one.
	ID string
	// Event is the event name, for providers that send one in a header.
	Event string
	// Tamper changes the body after signing, to see a 401.
	Tamper bool
	// PrivateKeyFile is a PEM private key, for providers that sign with a
	// key pair; without it the endpoint's Secret is the key.
	PrivateKeyFile string
	// ProviderFile is a WebhookProvider manifest to sign with instead of
	// the one spec.providerRef names.
	ProviderFile string
	// HTTPClient posts the webhook; nil: http.DefaultClient.
	HTTPClient *http.Client
}

// BindFlags binds the flags both commands share (--body, --id, --event,
// --tamper, --private-key, --provider-file) to o, with their defaults.
// --receiver, --endpoint and --kubeconfig differ between the two and are
// the caller's.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Body, "body", DefaultBody, "payload to send (JSON; form-posting providers get it in their form field)")
	fs.StringVar(&o.ID, "id", "", "delivery id (default: random); reuse one to see dedupe")
	fs.StringVar(&o.Event, "event", "ping", "event name, for providers that send one in a header (GitHub's X-GitHub-Event)")
	fs.BoolVar(&o.Tamper, "tamper", false, "change the body after signing, to see a 401")
	fs.StringVar(&o.PrivateKeyFile, "private-key", "", "PEM private key file, for providers that sign with a key pair (discord, sendgrid, travis, jwt, aws-sns, ...; standardwebhooks/svix v1a)")
	fs.StringVar(&o.ProviderFile, "provider-file", "", "WebhookProvider manifest (YAML) to sign with, instead of the one the endpoint's spec.providerRef names in the cluster: to try a recipe before applying it")
}

// GenerateKeyPairUsage is the help of --generate-key-pair.
const GenerateKeyPairUsage = "print a test key pair for this provider (public key for spec.publicKeys, private key for --private-key) and exit"

// PrintKeyPair writes a test key pair for provider to out: the public key
// for spec.publicKeys and the private key for --private-key.
func PrintKeyPair(out io.Writer, provider string) error {
	pub, priv, err := verify.GenerateKeyPair(provider)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "# spec.publicKeys entry:\n%s\n# private key (save to a file for --private-key):\n%s", strings.TrimSpace(string(pub)), priv)
	return err
}

// Scheme holds the types Run reads: WebhookEndpoint, WebhookProvider and
// Secret.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	_ = hookv1.AddToScheme(s)
	return s
}

// Result is what the receiver answered.
type Result struct {
	// URL the webhook was posted to (without the signed query).
	URL      string
	Provider string
	ID       string
	// StatusCode and Status of the receiver's answer, and the start of its body.
	StatusCode int
	Status     string
	Body       string
}

// OK says whether the receiver accepted the webhook (2xx).
func (r *Result) OK() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// Run reads the endpoint (and its Secret or WebhookProvider) with c, signs
// a webhook as its provider would, posts it, and writes one line about the
// answer to out. A non-2xx answer is no error: see Result.OK.
func Run(ctx context.Context, c client.Reader, o Options, out io.Writer) (*Result, error) {
	endpoint := o.Namespace + "/" + o.Name
	if o.Namespace == "" || o.Name == "" {
		return nil, fmt.Errorf("the endpoint must be namespace/name")
	}
	var ep hookv1.WebhookEndpoint
	if err := c.Get(ctx, types.NamespacedName{Namespace: o.Namespace, Name: o.Name}, &ep); err != nil {
		return nil, fmt.Errorf("reading WebhookEndpoint: %w", err)
	}
	var target *url.URL
	var err error
	switch {
	case o.Receiver != "":
		if ep.Status.WebhookPath == "" {
			return nil, fmt.Errorf("WebhookEndpoint %s has no status.webhookPath yet: is the manager running?", endpoint)
		}
		target, err = url.Parse(strings.TrimRight(o.Receiver, "/") + ep.Status.WebhookPath)
	case ep.Status.URL != "":
		target, err = url.Parse(ep.Status.URL)
	case ep.Status.WebhookPath == "":
		return nil, fmt.Errorf("WebhookEndpoint %s has no status.webhookPath yet: is the manager running?", endpoint)
	default:
		return nil, fmt.Errorf("WebhookEndpoint %s has no status.url (the receiver's public base URL is not configured): pass --receiver with the receiver's base URL", endpoint)
	}
	if err != nil {
		return nil, err
	}
	var key []byte
	switch {
	case o.PrivateKeyFile != "":
		if key, err = os.ReadFile(o.PrivateKeyFile); err != nil {
			return nil, fmt.Errorf("reading --private-key: %w", err)
		}
	case ep.Spec.SecretRef != nil:
		var s corev1.Secret
		if err := c.Get(ctx, types.NamespacedName{Namespace: o.Namespace, Name: ep.Spec.SecretRef.Name}, &s); err != nil {
			return nil, fmt.Errorf("reading Secret: %w", err)
		}
		key = s.Data[ep.Spec.SecretRef.GetKey()]
	default:
		return nil, fmt.Errorf("WebhookEndpoint %s verifies with public keys: pass --private-key (create a pair with --generate-key-pair %s)", endpoint, ep.Spec.Provider)
	}
	id := o.ID
	if id == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = "test-" + hex.EncodeToString(b)
	}
	d := verify.Delivery{ID: id, Event: o.Event, Time: time.Now(), Body: []byte(o.Body), URL: target}
	if ep.Spec.SignedURL != "" {
		// Sign for the URL the provider was given, as it would, and post
		// to the receiver directly.
		if d.URL, err = url.Parse(ep.Spec.SignedURL); err != nil {
			return nil, fmt.Errorf("spec.signedURL: %w", err)
		}
	}
	info, err := Provider(ctx, c, &ep.Spec, o.ProviderFile)
	if err != nil {
		return nil, err
	}
	signed, err := verify.SignRequestFromInfo(info, SignOptions(&ep.Spec), d, key)
	if err != nil {
		return nil, err
	}
	post := *target
	post.RawQuery = signed.URL.RawQuery
	payload := signed.Body
	if o.Tamper {
		payload = append(payload, ' ')
	}
	req, err := http.NewRequestWithContext(ctx, signed.Method, post.String(), bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header = signed.Header
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("posting to %s: %w", post.String(), err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	r := &Result{URL: target.String(), Provider: string(info.Name), ID: id, StatusCode: resp.StatusCode, Status: resp.Status, Body: strings.TrimSpace(string(rb))}
	fmt.Fprintf(out, "POST %s provider=%s delivery=%s -> %s %s\n", r.URL, r.Provider, r.ID, r.Status, r.Body)
	return r, nil
}

// Provider is the provider table entry to sign as: the WebhookProvider of
// file or of spec.providerRef, converted as the receiver converts it, or the
// built-in entry of spec.provider. c may be nil when neither is read from
// the cluster.
func Provider(ctx context.Context, c client.Reader, s *hookv1.WebhookEndpointSpec, file string) (hookv1.ProviderInfo, error) {
	var p hookv1.WebhookProvider
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return hookv1.ProviderInfo{}, fmt.Errorf("reading --provider-file: %w", err)
		}
		if err := yaml.UnmarshalStrict(b, &p); err != nil {
			return hookv1.ProviderInfo{}, fmt.Errorf("--provider-file %s is no WebhookProvider: %w", file, err)
		}
	case s.ProviderRef != nil:
		if c == nil {
			return hookv1.ProviderInfo{}, fmt.Errorf("reading WebhookProvider %s: no client", s.ProviderRef.Name)
		}
		if err := c.Get(ctx, types.NamespacedName{Name: s.ProviderRef.Name}, &p); err != nil {
			return hookv1.ProviderInfo{}, fmt.Errorf("reading WebhookProvider %s: %w", s.ProviderRef.Name, err)
		}
	default:
		info, ok := hookv1.LookupProvider(s.Provider)
		if !ok {
			return hookv1.ProviderInfo{}, fmt.Errorf("unknown provider %q", s.Provider)
		}
		return info, nil
	}
	if err := p.Spec.Validate(); err != nil {
		return hookv1.ProviderInfo{}, fmt.Errorf("WebhookProvider %s: %w", p.Name, err)
	}
	return p.Spec.ProviderInfo(p.Name), nil
}

// SignOptions are the per-endpoint settings a signer needs: the same ones
// the receiver builds its verifier from.
func SignOptions(s *hookv1.WebhookEndpointSpec) verify.Options {
	o := verify.Options{}
	for _, k := range s.PublicKeys {
		o.PublicKeys = append(o.PublicKeys, []byte(k))
	}
	o.JWT = verify.JWTOptionsFromSpec(s.JWT)
	o.SNS = verify.SNSOptionsFromSpec(s.SNS)
	if g := s.GenericHMAC; g != nil {
		o.Generic = &verify.GenericHMACOptions{Header: g.Header, Algorithm: g.Algorithm, Encoding: g.Encoding, Prefix: g.Prefix,
			IDHeader: g.IDHeader, TimestampHeader: g.TimestampHeader, SignedContent: g.SignedContent}
	}
	return o
}
