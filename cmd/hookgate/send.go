package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookgate/hookgate/internal/sendhook"
)

// sendFlags are runSend's flags, parsed.
type sendFlags struct {
	opts       sendhook.Options
	endpoint   string
	kubeconfig string
	genPair    string
}

func parseSendFlags(args []string) (*sendFlags, error) {
	f := &sendFlags{}
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.StringVar(&f.endpoint, "endpoint", "", "namespace/name of the WebhookEndpoint to send to (required)")
	fs.StringVar(&f.opts.Receiver, "receiver", "http://127.0.0.1:8080", "base URL of the receiver")
	f.opts.BindFlags(fs)
	fs.StringVar(&f.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig used to read the endpoint and its Secret")
	fs.StringVar(&f.genPair, "generate-key-pair", "", sendhook.GenerateKeyPairUsage)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.genPair == "" {
		ns, name, ok := strings.Cut(f.endpoint, "/")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("--endpoint must be namespace/name")
		}
		f.opts.Namespace, f.opts.Name = ns, name
	}
	return f, nil
}

// runSend signs a test webhook the way the endpoint's provider would and
// posts it to the receiver (internal/sendhook, shared with kubectl hookgate
// send).
func runSend(args []string) error {
	f, err := parseSendFlags(args)
	if err != nil {
		return err
	}
	if f.genPair != "" {
		return sendhook.PrintKeyPair(os.Stdout, f.genPair)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := sendhook.Run(ctx, c, f.opts, os.Stdout)
	if err != nil {
		return err
	}
	if !r.OK() {
		os.Exit(1)
	}
	return nil
}
