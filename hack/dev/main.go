// Command dev runs the whole of Hookgate on this machine, without a
// cluster: the real etcd and kube-apiserver built by hack/control-plane.sh,
// the CRDs, the receiver (with embedded JetStream), the manager, a sample
// target, and the sample WebhookEndpoint applied with kubectl. It prints how
// to send a signed webhook and see the result, and stops everything on
// Ctrl-C. `make dev` runs it.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hookgate/hookgate/controllers"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/testenv"
)

const (
	receiverAddr = "127.0.0.1:8080"
	probeAddr    = "127.0.0.1:8082"
	natsAddr     = "127.0.0.1:4222"
	targetAddr   = "127.0.0.1:9090"
	// The manager's admission webhook. The API server runs on this host
	// too, so the webhook is registered by URL, not through a Service.
	webhookPort = "9443"
	webhookName = "hookgate-webhook"
	// systemNS stands for the release namespace: routes and the receiver's
	// key mirrors live there.
	systemNS = "hookgate-system"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "dev: %v\n", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func run() error {
	root := testenv.RepoRoot()
	state := filepath.Join(root, ".dev")
	_ = os.RemoveAll(state)
	if err := os.MkdirAll(state, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(root, "bin", "hookgate")
	kubectl := filepath.Join(root, "bin", "k8s", "kubectl")
	for _, b := range []string{bin, kubectl} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s missing: run `make dev`, which builds it", b)
		}
	}

	step("Starting etcd and kube-apiserver (bin/k8s)")
	env, err := testenv.New()
	if err != nil {
		return err
	}
	if _, err := env.Start(); err != nil {
		return fmt.Errorf("starting control plane: %w", err)
	}
	defer func() { _ = env.Stop() }()
	user, err := env.AddUser(envtest.User{Name: "dev-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(state, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return err
	}
	step("CRDs installed; kubeconfig at %s", rel(root, kubeconfig))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	procs := []*exec.Cmd{}
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			_ = procs[i].Process.Signal(syscall.SIGTERM)
			_, _ = procs[i].Process.Wait()
		}
	}()
	// NATS is authenticated locally too: one token for the embedded
	// JetStream and the manager, kept beside the store it protects.
	token, err := devToken(filepath.Join(state, "nats-token"))
	if err != nil {
		return err
	}
	start := func(name string, args ...string) error {
		logPath := filepath.Join(state, name+".log")
		f, err := os.Create(logPath)
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, queue.TokenEnv+"="+token)
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", name, err)
		}
		procs = append(procs, cmd)
		step("Started %s (pid %d), log: %s", name, cmd.Process.Pid, rel(root, logPath))
		return nil
	}
	if out, err := kubectlRun(kubectl, kubeconfig, "create", "namespace", systemNS); err != nil {
		return fmt.Errorf("creating namespace %s: %w: %s", systemNS, err, out)
	}
	if err := start("target", "target", "--listen", targetAddr); err != nil {
		return err
	}
	if err := start("receiver", "receiver", "--listen", receiverAddr, "--health-probe-bind-address", probeAddr,
		"--metrics-bind-address", "127.0.0.1:8081", "--nats-listen", natsAddr, "--data-dir", filepath.Join(state, "jetstream"),
		"--keys-namespace", systemNS,
		// The sample target is on the host, reached through an ExternalName
		// Service: the API server refuses loopback addresses in Endpoints.
		"--allow-external-name-targets=true"); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+probeAddr+"/readyz", time.Minute); err != nil {
		return fmt.Errorf("receiver did not become ready (see .dev/receiver.log): %w", err)
	}
	// The admission webhook, as the chart installs it but by URL; the
	// manager makes its certificate (for 127.0.0.1) and sets the caBundle.
	webhookPath := filepath.Join(state, "webhook.yaml")
	if err := os.WriteFile(webhookPath, []byte(webhookConfiguration()), 0o644); err != nil {
		return err
	}
	if out, err := kubectlRun(kubectl, kubeconfig, "apply", "-f", webhookPath); err != nil {
		return fmt.Errorf("registering the admission webhook: %w: %s", err, out)
	}
	if err := start("manager", "manager", "--nats-url", "nats://"+natsAddr, "--public-base-url", "http://"+receiverAddr,
		"--metrics-bind-address", "127.0.0.1:8083", "--health-probe-bind-address", "127.0.0.1:8084",
		"--receiver-namespace", systemNS,
		"--webhook-port", webhookPort, "--webhook-host", "127.0.0.1", "--webhook-configuration", webhookName); err != nil {
		return err
	}
	// Ready once the webhook serves and its caBundle is set: with
	// failurePolicy Fail nothing can be applied before.
	if err := waitHTTP(ctx, "http://127.0.0.1:8084/readyz", time.Minute); err != nil {
		return fmt.Errorf("manager did not become ready (see .dev/manager.log): %w", err)
	}

	step("Applying the sample endpoint and a local target Service with kubectl")
	for _, dir := range []string{"config/samples/local/webhook-target.yaml", "config/samples/hookgate_v1alpha1_webhookendpoint.yaml"} {
		out, err := kubectlRun(kubectl, kubeconfig, "apply", "-f", filepath.Join(root, dir))
		fmt.Print(indent(out))
		if err != nil {
			return fmt.Errorf("kubectl apply -f %s: %w", dir, err)
		}
	}
	out, err := kubectlRun(kubectl, kubeconfig, "wait", "--for=condition=Ready", "webhookendpoint/github", "--timeout=60s")
	fmt.Print(indent(out))
	if err != nil {
		return fmt.Errorf("sample endpoint not Ready: %w", err)
	}
	step("Checking that the API server refuses a filter that does not compile (a server-side dry run)")
	badPath := filepath.Join(state, "bad-filter.yaml")
	if err := os.WriteFile(badPath, []byte(badFilterEndpoint), 0o644); err != nil {
		return err
	}
	out, err = kubectlRun(kubectl, kubeconfig, "apply", "--dry-run=server", "-f", badPath)
	fmt.Print(indent(out))
	if err == nil || !strings.Contains(out, "spec.target.filter") {
		return fmt.Errorf("the API server accepted a filter that does not compile: the admission webhook is not working (see .dev/manager.log)")
	}
	step("Making a token kubeconfig for kubectl hookgate (the events API authenticates bearer tokens)")
	pluginKubeconfig, eventsCA, err := pluginAccess(kubectl, kubeconfig, state, user.Config())
	if err != nil {
		return err
	}
	out, _ = kubectlRun(kubectl, kubeconfig, "get", "webhookendpoints")
	fmt.Print(indent(out))

	fmt.Printf(`
Hookgate is running locally. In another terminal:

  export KUBECONFIG=%[1]s
  # send a signed GitHub webhook to the sample endpoint
  bin/hookgate send --endpoint default/github --event push --body '{"ref":"refs/heads/main"}'
  # send it again with the same delivery id: acknowledged, not forwarded twice
  bin/hookgate send --endpoint default/github --id demo-1 && bin/hookgate send --endpoint default/github --id demo-1
  # a forged signature is refused with 401
  bin/hookgate send --endpoint default/github --tamper
  # a filter that does not compile is refused by the admission webhook
  bin/k8s/kubectl apply --dry-run=server -f .dev/bad-filter.yaml
  # what the target received, and what the endpoint says
  cat .dev/target.log
  bin/k8s/kubectl get webhookendpoints
  bin/k8s/kubectl describe webhookendpoint github
  # the event history, with the kubectl plugin (bin/kubectl-hookgate)
  export PATH=$PWD/bin:$PWD/bin/k8s:$PATH HOOKGATE_EVENTS_URL=https://127.0.0.1:%[3]s HOOKGATE_EVENTS_CA=%[5]s
  KUBECONFIG=%[4]s kubectl hookgate events github
  KUBECONFIG=%[4]s kubectl hookgate show github <ID from the list>
  KUBECONFIG=%[4]s kubectl hookgate tail -f github

Or with curl and openssl (the sample secret is in config/samples):
  path=$(bin/k8s/kubectl get webhookendpoint github -o jsonpath='{.status.webhookPath}')
  body='{"zen":"hello"}'
  sig=$(printf '%%s' "$body" | openssl dgst -sha256 -hmac change-me-to-the-github-webhook-secret | sed 's/^.* //')
  curl -i -X POST "http://%[2]s$path" -H "X-GitHub-Delivery: $(date +%%s%%N)" -H "X-GitHub-Event: ping" \
       -H "X-Hub-Signature-256: sha256=$sig" -H 'Content-Type: application/json' -d "$body"

Logs are in .dev/. Press Ctrl-C to stop everything.
`, rel(root, kubeconfig), receiverAddr, webhookPort, rel(root, pluginKubeconfig), rel(root, eventsCA))

	<-ctx.Done()
	step("Stopping")
	return nil
}

// pluginAccess makes what kubectl hookgate needs locally: a kubeconfig
// whose user is a ServiceAccount with a token (the admin's kubeconfig has
// a client certificate, which the events API cannot check), and the CA of
// the manager's serving certificate, which the plugin reaches directly (no
// pod network here for the API server's service proxy).
func pluginAccess(kubectl, kubeconfig, state string, cfg *rest.Config) (string, string, error) {
	for _, args := range [][]string{
		{"-n", "default", "create", "serviceaccount", "dev"},
		{"create", "clusterrolebinding", "dev-hookgate", "--clusterrole=cluster-admin", "--serviceaccount=default:dev"},
	} {
		if out, err := kubectlRun(kubectl, kubeconfig, args...); err != nil && !strings.Contains(out, "AlreadyExists") {
			return "", "", fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	token, err := kubectlRun(kubectl, kubeconfig, "-n", "default", "create", "token", "dev", "--duration=24h")
	if err != nil {
		return "", "", fmt.Errorf("kubectl create token: %w: %s", err, token)
	}
	kc, err := testenv.TokenKubeconfig(cfg, "dev", strings.TrimSpace(token), "default")
	if err != nil {
		return "", "", err
	}
	kcPath := filepath.Join(state, "plugin.kubeconfig")
	if err := os.WriteFile(kcPath, kc, 0o600); err != nil {
		return "", "", err
	}
	ca, err := kubectlRun(kubectl, kubeconfig, "-n", systemNS, "get", "secret", "hookgate-webhook-cert", "-o", "jsonpath={.data.ca\\.crt}")
	if err != nil {
		return "", "", fmt.Errorf("reading the manager's CA: %w: %s", err, ca)
	}
	pem, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ca))
	if err != nil {
		return "", "", fmt.Errorf("decoding the manager's CA: %w", err)
	}
	caPath := filepath.Join(state, "events-ca.crt")
	if err := os.WriteFile(caPath, pem, 0o644); err != nil {
		return "", "", err
	}
	return kcPath, caPath, nil
}

func kubectlRun(kubectl, kubeconfig string, args ...string) (string, error) {
	cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func waitHTTP(ctx context.Context, url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s", url, d)
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// webhookConfiguration is the chart's ValidatingWebhookConfiguration
// (charts/hookgate/templates/webhook.yaml) with a URL on this host.
func webhookConfiguration() string {
	return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: ` + webhookName + `
webhooks:
  - name: webhookendpoints.hookgate.io
    admissionReviewVersions: [v1]
    clientConfig:
      url: https://127.0.0.1:` + webhookPort + controllers.ValidatingWebhookPath + `
    failurePolicy: Fail
    matchPolicy: Equivalent
    sideEffects: None
    timeoutSeconds: 5
    namespaceSelector: {}
    rules:
      - apiGroups: [hookgate.io]
        apiVersions: [v1alpha1]
        operations: [CREATE, UPDATE]
        resources: [webhookendpoints]
        scope: Namespaced
`
}

// badFilterEndpoint misspells event.type: the webhook refuses it.
const badFilterEndpoint = `apiVersion: hookgate.io/v1alpha1
kind: WebhookEndpoint
metadata:
  name: bad-filter
  namespace: default
spec:
  provider: github
  secretRef: {name: github-webhook, key: secret}
  target:
    service: {name: webhook-target, port: 9090}
    filter: event.tpye == 'push'
`

// devToken returns the local NATS token, creating it on the first run.
func devToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return tok, nil
}
