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

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/verify"
)

// runSend signs a test webhook the way the endpoint's provider would and
// posts it to the receiver: the quickest way to see the whole path work.
func runSend(args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "namespace/name of the WebhookEndpoint to send to (required)")
	receiver := fs.String("receiver", "http://127.0.0.1:8080", "base URL of the receiver")
	body := fs.String("body", `{"hello":"hookgate"}`, "payload to send")
	id := fs.String("id", "", "delivery id (default: random); reuse one to see dedupe")
	event := fs.String("event", "ping", "event name (GitHub's X-GitHub-Event)")
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig used to read the endpoint and its Secret")
	tamper := fs.Bool("tamper", false, "change the body after signing, to see a 401")
	if err := fs.Parse(args); err != nil {
		return err
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
	if ep.Spec.SecretRef == nil {
		return fmt.Errorf("WebhookEndpoint %s has no secretRef: send signs only with shared secrets", *endpoint)
	}
	var s corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: ep.Spec.SecretRef.Name}, &s); err != nil {
		return fmt.Errorf("reading Secret: %w", err)
	}
	key := s.Data[ep.Spec.SecretRef.GetKey()]
	if *id == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		*id = "test-" + hex.EncodeToString(b)
	}
	payload := []byte(*body)
	target := strings.TrimRight(*receiver, "/") + ep.Status.WebhookPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hookgate-send")
	switch ep.Spec.Provider {
	case hookv1.ProviderGitHub:
		req.Header.Set("X-GitHub-Event", *event)
		req.Header.Set("X-GitHub-Delivery", *id)
		req.Header.Set("X-Hub-Signature-256", verify.SignGitHub(payload, key))
	case hookv1.ProviderStandardWebhooks:
		for k, v := range verify.StandardWebhooksHeaders(*id, time.Now(), payload, key) {
			req.Header[k] = v
		}
	case hookv1.ProviderGenericHMAC:
		g := ep.Spec.GenericHMAC
		o := verify.GenericHMACOptions{Header: g.Header, Algorithm: g.Algorithm, Encoding: g.Encoding, Prefix: g.Prefix,
			IDHeader: g.IDHeader, TimestampHeader: g.TimestampHeader, SignedContent: g.SignedContent}
		if g.IDHeader != "" {
			req.Header.Set(g.IDHeader, *id)
		}
		if g.TimestampHeader != "" {
			req.Header.Set(g.TimestampHeader, fmt.Sprint(time.Now().Unix()))
		}
		u, _ := url.Parse(target)
		sig, err := verify.SignGenericHMAC(o, &verify.Request{Method: http.MethodPost, URL: u, Header: req.Header, Body: payload}, key)
		if err != nil {
			return err
		}
		hdr := g.Header
		if hdr == "" {
			hdr = hookv1.DefaultGenericHeader
		}
		req.Header.Set(hdr, sig)
	default:
		return fmt.Errorf("send does not know provider %q", ep.Spec.Provider)
	}
	if *tamper {
		payload = append(payload, ' ')
	}
	req.Body = io.NopCloser(bytes.NewReader(payload))
	req.ContentLength = int64(len(payload))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("posting to %s: %w", target, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Printf("POST %s delivery=%s -> %s %s\n", target, *id, resp.Status, strings.TrimSpace(string(rb)))
	if resp.StatusCode >= 300 {
		os.Exit(1)
	}
	return nil
}
