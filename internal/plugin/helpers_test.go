package plugin

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

const testToken = "tok-3f9a"

// testNow is the runner's clock in tests.
var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// TestMain doubles as an exec credential plugin for the kubeconfig tests.
func TestMain(m *testing.M) {
	if tok := os.Getenv("HOOKGATE_TEST_EXEC_TOKEN"); tok != "" {
		fmt.Printf(`{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":%q}}`, tok)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is one run of the plugin.
type result struct {
	code           int
	stdout, stderr string
}

func newRunner(stdout, stderr io.Writer) *runner {
	return &runner{stdout: stdout, stderr: stderr, getenv: func(string) string { return "" },
		now: func() time.Time { return testNow }, retryDelay: 10 * time.Millisecond}
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := newRunner(&out, &errb).run(context.Background(), args)
	return result{code, out.String(), errb.String()}
}

// recorded is a request the fake events API got.
type recorded struct {
	method, path string
	query        map[string][]string
	header       http.Header
	body         []byte
}

// fakeAPI is the events API: handlers by "METHOD path", recording every request.
type fakeAPI struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	requests []recorded
	routes   map[string]http.HandlerFunc
	// prefix is stripped from paths before routing (the service proxy's).
	prefix string
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t, routes: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes of the TLS tests
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, recorded{r.Method, r.URL.Path, r.URL.Query(), r.Header.Clone(), b})
	h := f.routes[r.Method+" "+strings.TrimPrefix(r.URL.Path, f.prefix)]
	f.mu.Unlock()
	if h == nil {
		writeJSON(w, http.StatusNotFound, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
			Code: 404, Reason: metav1.StatusReasonNotFound, Message: "the server could not find the requested resource"})
		return
	}
	h(w, r)
}

func (f *fakeAPI) handle(method, path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[method+" "+path] = h
}

func (f *fakeAPI) reply(method, path string, code int, v any) {
	f.handle(method, path, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, code, v) })
}

func (f *fakeAPI) got() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// caFile writes the server's certificate as a PEM file.
func (f *fakeAPI) caFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(p, f.caPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fakeAPI) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// kubeconfig writes a kubeconfig for server whose user is given by user
// (YAML lines under "user:").
func kubeconfig(t *testing.T, server string, caPEM []byte, user string) string {
	t.Helper()
	cluster := "    insecure-skip-tls-verify: true\n"
	if caPEM != nil {
		cluster = fmt.Sprintf("    certificate-authority-data: %s\n", b64(caPEM))
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: %s
%scontexts:
- name: ctx
  context: {cluster: c, user: alice, namespace: shop}
current-context: ctx
users:
- name: alice
  user:
%s`, server, cluster, user)
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func tokenUser(tok string) string { return "    token: " + tok + "\n" }

// direct are the flags of a run against fake over --events-url, with a
// kubeconfig whose user has testToken.
func (f *fakeAPI) direct(t *testing.T) []string {
	kc := kubeconfig(t, "https://127.0.0.1:1", nil, tokenUser(testToken))
	return []string{"--kubeconfig", kc, "--events-url", f.srv.URL, "--certificate-authority", f.caFile(t)}
}

// clientCert makes a self-signed client certificate and key as PEM.
func clientCert(t *testing.T) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alice"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

const epPath = "/apis/events.hookgate.io/v1alpha1/namespaces/shop/webhookendpoints/stripe"

// checkAuth fails unless r carries testToken in Authorization (direct).
func checkAuth(t *testing.T, r recorded) {
	t.Helper()
	if got := r.header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("%s %s: Authorization %q", r.method, r.path, got)
	}
	if got := r.header.Get(eventsv1.AuthorizationHeader); got != "" {
		t.Errorf("%s %s: %s %q on a direct request", r.method, r.path, eventsv1.AuthorizationHeader, got)
	}
}

// waitFor polls cond until it holds or 5s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
