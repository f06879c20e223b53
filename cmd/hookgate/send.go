package main

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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/verify"
)

// runSend signs a test webhook the way the endpoint's provider would and
// posts it to the receiver: the quickest way to see the whole path work.
// It signs for every provider in the provider table (verify.SignRequest).
func runSend(args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "namespace/name of the WebhookEndpoint to send to (required)")
	receiver := fs.String("receiver", "http://127.0.0.1:8080", "base URL of the receiver")
	body := fs.String("body", `{"id":"evt_hookgate_test","type":"test","hello":"hookgate"}`, "payload to send (JSON; form-posting providers get it in their form field)")
	id := fs.String("id", "", "delivery id (default: random); reuse one to see dedupe")
	event := fs.String("event", "ping", "event name, for providers that send one in a header (GitHub's X-GitHub-Event)")
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig used to read the endpoint and its Secret")
	tamper := fs.Bool("tamper", false, "change the body after signing, to see a 401")
	privateKey := fs.String("private-key", "", "PEM private key file, for providers that sign with a key pair (discord, sendgrid, travis, jwt, aws-sns, ...; standardwebhooks/svix v1a)")
	genPair := fs.String("generate-key-pair", "", "print a test key pair for this provider (public key for spec.publicKeys, private key for --private-key) and exit")
	providerFile := fs.String("provider-file", "", "WebhookProvider manifest (YAML) to sign with, instead of the one the endpoint's spec.providerRef names in the cluster: to try a recipe before applying it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *genPair != "" {
		pub, priv, err := verify.GenerateKeyPair(*genPair)
		if err != nil {
			return err
		}
		fmt.Printf("# spec.publicKeys entry:\n%s\n# private key (save to a file for --private-key):\n%s", strings.TrimSpace(string(pub)), priv)
		return nil
	}
	ns, name, ok := strings.Cut(*endpoint, "/")
	if !ok || ns == "" || name == "" {
		return fmt.Errorf("--endpoint must be namespace/name")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ep hookv1.WebhookEndpoint
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &ep); err != nil {
		return fmt.Errorf("reading WebhookEndpoint: %w", err)
	}
	if ep.Status.WebhookPath == "" {
		return fmt.Errorf("WebhookEndpoint %s has no status.webhookPath yet: is the manager running?", *endpoint)
	}
	var key []byte
	switch {
	case *privateKey != "":
		if key, err = os.ReadFile(*privateKey); err != nil {
			return fmt.Errorf("reading --private-key: %w", err)
		}
	case ep.Spec.SecretRef != nil:
		var s corev1.Secret
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: ep.Spec.SecretRef.Name}, &s); err != nil {
			return fmt.Errorf("reading Secret: %w", err)
		}
		key = s.Data[ep.Spec.SecretRef.GetKey()]
	default:
		return fmt.Errorf("WebhookEndpoint %s verifies with public keys: pass --private-key (create a pair with --generate-key-pair %s)", *endpoint, ep.Spec.Provider)
	}
	if *id == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		*id = "test-" + hex.EncodeToString(b)
	}
	target, err := url.Parse(strings.TrimRight(*receiver, "/") + ep.Status.WebhookPath)
	if err != nil {
		return err
	}
	d := verify.Delivery{ID: *id, Event: *event, Time: time.Now(), Body: []byte(*body), URL: target}
	if ep.Spec.SignedURL != "" {
		// Sign for the URL the provider was given, as it would, and post
		// to the receiver directly.
		if d.URL, err = url.Parse(ep.Spec.SignedURL); err != nil {
			return fmt.Errorf("spec.signedURL: %w", err)
		}
	}
	info, err := sendProvider(ctx, c, &ep.Spec, *providerFile)
	if err != nil {
		return err
	}
	signed, err := verify.SignRequestFromInfo(info, sendOptions(&ep.Spec), d, key)
	if err != nil {
		return err
	}
	post := *target
	post.RawQuery = signed.URL.RawQuery
	payload := signed.Body
	if *tamper {
		payload = append(payload, ' ')
	}
	req, err := http.NewRequestWithContext(ctx, signed.Method, post.String(), bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header = signed.Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("posting to %s: %w", post.String(), err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Printf("POST %s provider=%s delivery=%s -> %s %s\n", target, info.Name, *id, resp.Status, strings.TrimSpace(string(rb)))
	if resp.StatusCode >= 300 {
		os.Exit(1)
	}
	return nil
}

// sendProvider is the provider table entry to sign as: the WebhookProvider
// of --provider-file or of spec.providerRef, converted as the receiver
// converts it, or the built-in entry of spec.provider.
func sendProvider(ctx context.Context, c client.Client, s *hookv1.WebhookEndpointSpec, file string) (hookv1.ProviderInfo, error) {
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

// sendOptions are the per-endpoint settings a signer needs: the same ones
// the receiver builds its verifier from.
func sendOptions(s *hookv1.WebhookEndpointSpec) verify.Options {
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
