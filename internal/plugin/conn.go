package plugin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

// Defaults of the connection flags: the chart's Service of the manager's
// webhook server, which also serves the events API.
const (
	DefaultHookgateNamespace = "hookgate-system"
	DefaultHookgateService   = "hookgate-webhook"
	DefaultHookgatePort      = "443"
	// EventsURLEnv names the environment variable --events-url defaults to.
	EventsURLEnv = "HOOKGATE_EVENTS_URL"
	// EventsCAEnv names the CA file of --events-url when
	// --certificate-authority is not given.
	EventsCAEnv = "HOOKGATE_EVENTS_CA"
)

// globalOpts are the connection flags every command takes.
type globalOpts struct {
	kubeconfig, context, namespace, token string
	hookgateNamespace, hookgateService    string
	eventsURL, caFile                     string
	// eventsCA is $HOOKGATE_EVENTS_CA: the CA of --events-url only.
	eventsCA       string
	insecure       bool
	requestTimeout time.Duration
}

func (g *globalOpts) bind(f *flags, getenv func(string) string) {
	f.stringVar(&g.kubeconfig, "kubeconfig", "", "", "path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	f.stringVar(&g.context, "context", "", "", "the name of the kubeconfig context to use")
	f.stringVar(&g.namespace, "namespace", "n", "", "the namespace of the WebhookEndpoint (default: the context's namespace, else default)")
	f.stringVar(&g.token, "token", "", "", "bearer token to authenticate with, instead of the kubeconfig user's (e.g. from 'kubectl create token')")
	f.stringVar(&g.hookgateNamespace, "hookgate-namespace", "", DefaultHookgateNamespace, "the namespace Hookgate's manager runs in")
	f.stringVar(&g.hookgateService, "hookgate-service", "", DefaultHookgateService, "the manager's webhook Service that serves the events API, as NAME or NAME:PORT (port "+DefaultHookgatePort+")")
	f.stringVar(&g.eventsURL, "events-url", "", getenv(EventsURLEnv), "talk to the events API directly at this https://host:port (a port-forward, an Ingress) instead of through the API server's service proxy (env "+EventsURLEnv+")")
	f.stringVar(&g.caFile, "certificate-authority", "", "", "CA certificate file that signs the server's certificate (of --events-url when set, else of the API server; for --events-url it defaults to $"+EventsCAEnv+")")
	g.eventsCA = getenv(EventsCAEnv)
	f.boolVar(&g.insecure, "insecure-skip-tls-verify", "", false, "do not check the server's certificate (of --events-url when set, else of the API server); insecure")
	f.durationVar(&g.requestTimeout, "request-timeout", "", 30*time.Second, "how long to wait for one answer (0: no limit); watches have none")
	for _, n := range []string{"kubeconfig", "context", "namespace", "token", "hookgate-namespace", "hookgate-service", "events-url",
		"certificate-authority", "insecure-skip-tls-verify", "request-timeout"} {
		f.global[n] = true
	}
}

// env is what a command runs with: the runner, the connection flags and,
// once made, the kubeconfig.
type env struct {
	*runner
	g   *globalOpts
	cmd *command

	cc clientcmd.ClientConfig
}

func (e *env) clientConfig() clientcmd.ClientConfig {
	if e.cc == nil {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = e.g.kubeconfig
		ov := &clientcmd.ConfigOverrides{CurrentContext: e.g.context}
		if e.g.token != "" {
			ov.AuthInfo.Token = e.g.token
		}
		if e.g.eventsURL == "" {
			// As kubectl's flags, for the API server.
			ov.ClusterInfo.CertificateAuthority = e.g.caFile
			ov.ClusterInfo.InsecureSkipTLSVerify = e.g.insecure
		}
		e.cc = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, ov)
	}
	return e.cc
}

// standalone says whether the events API can be reached without a
// kubeconfig: --events-url and --token.
func (e *env) standalone() bool { return e.g.eventsURL != "" && e.g.token != "" }

// namespace is -n, else the context's namespace, else "default".
func (e *env) namespace() (string, error) {
	if e.g.namespace != "" {
		return e.g.namespace, nil
	}
	ns, _, err := e.clientConfig().Namespace()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) && e.standalone() {
			return metav1.NamespaceDefault, nil
		}
		return "", err
	}
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	return ns, nil
}

func (e *env) restConfig() (*rest.Config, error) {
	cfg, err := e.clientConfig().ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "kubectl-hookgate/" + version()
	return cfg, nil
}

// tokenSource returns the bearer token to send, each time it is asked (an
// exec credential plugin's token expires and is renewed).
type tokenSource func(ctx context.Context) (string, error)

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// capturedHeader carries, in the capturing round tripper's answer, the
// Authorization header client-go's wrappers set.
const capturedHeader = "X-Captured-Authorization"

// kubeconfigToken is the bearer token of the kubeconfig's user, however it
// is given: a token, a token file, an exec credential plugin or an auth
// provider. client-go's own authentication wrappers set it on a request
// that never leaves the process.
func (e *env) kubeconfigToken(cfg *rest.Config) (tokenSource, error) {
	capture := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{capturedHeader: {r.Header.Get("Authorization")}},
			Body: http.NoBody, Request: r}, nil
	})
	rt, err := rest.HTTPWrappersForConfig(cfg, capture)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://kubectl-hookgate.invalid/", nil)
		if err != nil {
			return "", err
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return "", fmt.Errorf("getting the kubeconfig user's credentials: %w", err)
		}
		_ = resp.Body.Close()
		scheme, tok, _ := strings.Cut(resp.Header.Get(capturedHeader), " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", e.noTokenError(cfg, scheme)
		}
		return strings.TrimSpace(tok), nil
	}, nil
}

func (e *env) noTokenError(cfg *rest.Config, scheme string) error {
	user := "the kubeconfig's user"
	if raw, err := e.clientConfig().RawConfig(); err == nil {
		name := e.g.context
		if name == "" {
			name = raw.CurrentContext
		}
		if c := raw.Contexts[name]; c != nil && c.AuthInfo != "" {
			user = fmt.Sprintf("user %q of the kubeconfig", c.AuthInfo)
		}
	}
	has := "no credentials"
	switch {
	case cfg.CertFile != "" || len(cfg.CertData) > 0:
		has = "only a client certificate"
	case strings.EqualFold(scheme, "Basic"):
		has = "only a username and password"
	case cfg.ExecProvider != nil:
		has = "an exec credential plugin that gave no token (a client certificate?)"
	}
	return fmt.Errorf("the events API authenticates bearer tokens (with a TokenReview), and %s has %s: "+
		"use a token, e.g. --token \"$(kubectl create token SERVICEACCOUNT -n NAMESPACE)\", or a kubeconfig user with one", user, has)
}

// eventsClient calls the events API.
type eventsClient struct {
	// base is the URL the API's paths are appended to.
	base  string
	hc    *http.Client
	token tokenSource
	// proxied: through the API server's service proxy, which drops
	// Authorization (the kubeconfig's transport sets it for the API server
	// itself), so the token goes in eventsv1.AuthorizationHeader.
	proxied   bool
	userAgent string
	timeout   time.Duration
}

func noRedirect(*http.Request, []*http.Request) error {
	// A redirect would carry the token elsewhere.
	return http.ErrUseLastResponse
}

// eventsClient connects to the events API, through the service proxy or
// --events-url.
func (e *env) eventsClient() (*eventsClient, error) {
	c := &eventsClient{userAgent: "kubectl-hookgate/" + version(), timeout: e.g.requestTimeout}
	var cfg *rest.Config
	if !e.standalone() {
		var err error
		if cfg, err = e.restConfig(); err != nil {
			return nil, err
		}
	}
	if e.g.token != "" {
		tok := e.g.token
		c.token = func(context.Context) (string, error) { return tok, nil }
	} else {
		ts, err := e.kubeconfigToken(cfg)
		if err != nil {
			return nil, err
		}
		// Fail now, before anything is sent, when there is no token.
		if _, err := ts(context.Background()); err != nil {
			return nil, err
		}
		c.token = ts
	}
	if e.g.eventsURL != "" {
		return c, e.direct(c)
	}
	return c, e.serviceProxy(c, cfg)
}

// direct: HTTPS to --events-url, the token in Authorization.
func (e *env) direct(c *eventsClient) error {
	u, err := url.Parse(e.g.eventsURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--events-url %q: want https://host[:port][/path]", e.g.eventsURL)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("--events-url %q: it carries your token, so it must be https (http only to localhost)", e.g.eventsURL)
	}
	if e.g.caFile != "" && e.g.insecure {
		return errors.New("specifying a root certificates file with the insecure flag is not allowed")
	}
	caFile := e.g.caFile
	if caFile == "" && !e.g.insecure {
		caFile = e.g.eventsCA
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: e.g.insecure} //nolint:gosec // --insecure-skip-tls-verify
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("reading --certificate-authority: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--certificate-authority %s holds no PEM certificate", caFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	c.hc = &http.Client{Transport: tr, CheckRedirect: noRedirect}
	c.base = strings.TrimRight(u.String(), "/")
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serviceProxy: the API server's proxy to the manager's Service, with the
// kubeconfig's own transport.
func (e *env) serviceProxy(c *eventsClient, cfg *rest.Config) error {
	svc, port, ok := strings.Cut(e.g.hookgateService, ":")
	if !ok {
		port = DefaultHookgatePort
	}
	if errs := validation.IsDNS1035Label(svc); len(errs) > 0 {
		return fmt.Errorf("--hookgate-service %q: %s", e.g.hookgateService, strings.Join(errs, "; "))
	}
	if port == "" || strings.ContainsAny(port, "/:?#% ") {
		return fmt.Errorf("--hookgate-service %q: bad port", e.g.hookgateService)
	}
	if errs := validation.IsDNS1123Label(e.g.hookgateNamespace); len(errs) > 0 {
		return fmt.Errorf("--hookgate-namespace %q: %s", e.g.hookgateNamespace, strings.Join(errs, "; "))
	}
	server, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return err
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return err
	}
	c.hc = &http.Client{Transport: rt, CheckRedirect: noRedirect}
	c.base = strings.TrimRight(server.String(), "/") + ServiceProxyPath(e.g.hookgateNamespace, svc, port)
	c.proxied = true
	return nil
}

// ServiceProxyPath is the API server's path of the proxy to port of the
// Service namespace/name over HTTPS; the events API's paths follow it.
func ServiceProxyPath(namespace, name, port string) string {
	return "/api/v1/namespaces/" + namespace + "/services/https:" + name + ":" + port + "/proxy"
}

func (c *eventsClient) request(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Request, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	tok, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	if c.proxied {
		req.Header.Set(eventsv1.AuthorizationHeader, "Bearer "+tok)
	} else {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// do sends a request (in as JSON when not nil) and decodes the answer into
// out; an error answer is an apierrors.APIStatus.
func (c *eventsClient) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	req, err := c.request(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.responseError(resp, method)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the events API's answer: %w", err)
	}
	return nil
}

// open starts a streaming GET (a watch) and returns its body; no timeout.
func (c *eventsClient) open(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	req, err := c.request(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, c.responseError(resp, http.MethodGet)
	}
	return resp.Body, nil
}

// responseError is the error of a non-2xx answer: the Status it carries,
// or one made up from the code as client-go does.
func (c *eventsClient) responseError(resp *http.Response, method string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var st metav1.Status
	if json.Unmarshal(b, &st) == nil && st.Kind == "Status" && (st.Message != "" || st.Reason != "") {
		if st.Code == 0 {
			st.Code = int32(resp.StatusCode)
		}
		if c.proxied && st.Details != nil && st.Details.Kind == "services" {
			// The API server's own answer about the proxy, not the
			// manager's.
			switch st.Reason {
			case metav1.StatusReasonNotFound:
				st.Message += " (is Hookgate installed there? see --hookgate-namespace and --hookgate-service, or use --events-url)"
			case metav1.StatusReasonForbidden:
				st.Message += " (the service proxy needs get and create on services/proxy for the manager's Service; or use --events-url)"
			}
		}
		return &apierrors.StatusError{ErrStatus: st}
	}
	return apierrors.NewGenericServerResponse(resp.StatusCode, method, schema.GroupResource{}, "", strings.TrimSpace(string(b)), 0, true)
}
