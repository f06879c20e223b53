package plugin

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/sendhook"
)

const proxyPath = "/api/v1/namespaces/hookgate-system/services/https:hookgate-webhook:443/proxy"

// checkProxied fails unless r came through the service proxy as the
// kubeconfig's user: the token for the API server, and again for the
// events API.
func checkProxied(t *testing.T, r recorded, tok string) {
	t.Helper()
	if got := r.header.Get("Authorization"); got != "Bearer "+tok {
		t.Errorf("%s: Authorization %q", r.path, got)
	}
	if got := r.header.Get(eventsv1.AuthorizationHeader); got != "Bearer "+tok {
		t.Errorf("%s: %s %q", r.path, eventsv1.AuthorizationHeader, got)
	}
}

func TestServiceProxy(t *testing.T) {
	api := newFakeAPI(t) // the API server
	api.reply("GET", proxyPath+epPath+"/events", 200, eventsv1.EventList{Items: []eventsv1.Event{evA}})
	kc := kubeconfig(t, api.srv.URL, api.caPEM(), tokenUser(testToken))
	r := run(t, "events", "stripe", "--kubeconfig", kc)
	if r.code != 0 || !strings.Contains(r.stdout, "evt_a") {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	req := api.got()[0]
	if req.path != proxyPath+epPath+"/events" {
		t.Fatalf("path %s", req.path)
	}
	checkProxied(t, req, testToken)
	if ua := req.header.Get("User-Agent"); !strings.HasPrefix(ua, "kubectl-hookgate/") {
		t.Errorf("User-Agent %q", ua)
	}

	// Another install, and --token.
	custom := "/api/v1/namespaces/hg/services/https:events:8443/proxy"
	api.reply("POST", custom+"/apis/events.hookgate.io/v1alpha1/namespaces/ops/webhookendpoints/gh/retry", 200,
		eventsv1.ActionResult{Retried: 1, Items: []eventsv1.ActionItem{{ID: "e1", Result: eventsv1.ActionRetried}}})
	r = run(t, "retry", "gh", "e1", "--kubeconfig", kc, "-n", "ops", "--hookgate-namespace", "hg", "--hookgate-service", "events:8443", "--token", "flag-tok")
	if r.code != 0 || r.stdout != "event e1 retried\n" {
		t.Fatalf("custom: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	checkProxied(t, api.got()[1], "flag-tok")

	// The API server's own refusal of the proxy gets a hint.
	api.reply("GET", proxyPath+epPath+"/events/x", 403, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Code: 403, Reason: metav1.StatusReasonForbidden, Details: &metav1.StatusDetails{Name: "https:hookgate-webhook:443", Kind: "services"},
		Message: `services "https:hookgate-webhook:443" is forbidden: User "alice" cannot get resource "services/proxy" in API group "" in the namespace "hookgate-system"`})
	r = run(t, "show", "stripe", "x", "--kubeconfig", kc)
	if r.code != 1 || r.stderr != `Error from server (Forbidden): services "https:hookgate-webhook:443" is forbidden: User "alice" cannot get resource "services/proxy" in API group "" in the namespace "hookgate-system"`+
		" (the service proxy needs get and create on services/proxy for the manager's Service; or use --events-url)\n" {
		t.Fatalf("forbidden proxy: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestServiceProxyStreamsWatches(t *testing.T) {
	api := newFakeAPI(t)
	more := make(chan struct{})
	e1 := eventsv1.Event{ID: "s1", Time: testNow, Outcome: eventsv1.OutcomeAccepted, Code: 200, Type: "push"}
	e2 := eventsv1.Event{ID: "s2", Time: testNow, Outcome: eventsv1.OutcomeAccepted, Code: 200, Type: "push"}
	api.handle("GET", proxyPath+epPath+"/events", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		fmt.Fprintf(w, `{"type":"Event","event":{"id":"s1","time":%q,"outcome":"accepted","code":200,"type":"push","size":0}}`+"\n", e1.Time.Format(time.RFC3339))
		w.(http.Flusher).Flush()
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, `{"type":"Event","event":{"id":"s2","time":%q,"outcome":"accepted","code":200,"type":"push","size":0}}`+"\n", e2.Time.Format(time.RFC3339))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	kc := kubeconfig(t, api.srv.URL, api.caPEM(), tokenUser(testToken))
	// The answers' timeout is not the watch's.
	out, errb, stop := start(t, "tail", "stripe", "-f", "--limit", "0", "--kubeconfig", kc, "--request-timeout", "50ms")
	waitFor(t, "the first event", func() bool { return strings.Contains(out.String(), " s1 ") })
	time.Sleep(200 * time.Millisecond)
	close(more)
	waitFor(t, "the second event", func() bool { return strings.Contains(out.String(), " s2 ") })
	if code := stop(); code != 0 || errb.String() != "" {
		t.Fatalf("exit %d stderr %q", code, errb.String())
	}
	checkProxied(t, api.got()[0], testToken)
}

func TestKubeconfigTokens(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("GET", epPath+"/events", 200, eventsv1.EventList{})
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte("file-tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, user, want string }{
		{"token file", "    tokenFile: " + tokFile + "\n", "file-tok"},
		{"exec plugin", fmt.Sprintf(`    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: %s
      interactiveMode: Never
      env:
      - name: HOOKGATE_TEST_EXEC_TOKEN
        value: exec-tok
`, exe), "exec-tok"},
	} {
		kc := kubeconfig(t, "https://127.0.0.1:1", nil, tc.user)
		r := run(t, "events", "stripe", "--kubeconfig", kc, "--events-url", f.srv.URL, "--insecure-skip-tls-verify")
		if r.code != 0 {
			t.Fatalf("%s: exit %d stderr %q", tc.name, r.code, r.stderr)
		}
		reqs := f.got()
		if got := reqs[len(reqs)-1].header.Get("Authorization"); got != "Bearer "+tc.want {
			t.Fatalf("%s: Authorization %q", tc.name, got)
		}
	}
	// --events-url and --token need no kubeconfig (and the namespace is default)...
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	f.reply("GET", "/apis/events.hookgate.io/v1alpha1/namespaces/default/webhookendpoints/stripe/events", 200, eventsv1.EventList{})
	r := run(t, "events", "stripe", "--events-url", f.srv.URL, "--insecure-skip-tls-verify", "--token", "t1")
	if r.code != 0 || f.got()[len(f.got())-1].header.Get("Authorization") != "Bearer t1" {
		t.Fatalf("standalone: exit %d %q", r.code, r.stderr)
	}
	// ... but a --kubeconfig that is not there is an error, as in kubectl.
	r = run(t, "events", "stripe", "--kubeconfig", filepath.Join(t.TempDir(), "none"), "--events-url", f.srv.URL, "--insecure-skip-tls-verify", "--token", "t1")
	if r.code != 1 || !strings.Contains(r.stderr, "none: no such file or directory") {
		t.Fatalf("a missing --kubeconfig file: exit %d %q", r.code, r.stderr)
	}
}

func TestClientCertificateOnly(t *testing.T) {
	f := newFakeAPI(t)
	cert, key := clientCert(t)
	kc := kubeconfig(t, f.srv.URL, f.caPEM(), fmt.Sprintf("    client-certificate-data: %s\n    client-key-data: %s\n", b64(cert), b64(key)))
	for _, args := range [][]string{{"events", "stripe"}, {"events", "stripe", "--events-url", f.srv.URL}} {
		r := run(t, append(args, "--kubeconfig", kc)...)
		want := `error: the events API authenticates bearer tokens (with a TokenReview), and user "alice" of the kubeconfig has only a client certificate: ` +
			`use a token, e.g. --token "$(kubectl create token SERVICEACCOUNT -n NAMESPACE)", or a kubeconfig user with one` + "\n"
		if r.code != 1 || r.stderr != want {
			t.Fatalf("%q: exit %d stderr %q", args, r.code, r.stderr)
		}
	}
	if n := len(f.got()); n != 0 {
		t.Fatalf("%d requests sent without a token", n)
	}
	// With --token it goes.
	f.reply("GET", proxyPath+epPath+"/events", 200, eventsv1.EventList{})
	if r := run(t, "events", "stripe", "--kubeconfig", kc, "--token", "t2"); r.code != 0 {
		t.Fatalf("--token: exit %d %q", r.code, r.stderr)
	}
	if got := f.got()[0].header.Get(eventsv1.AuthorizationHeader); got != "Bearer t2" {
		t.Fatalf("%s %q", eventsv1.AuthorizationHeader, got)
	}
}

func TestEventsURLChecks(t *testing.T) {
	kc := kubeconfig(t, "https://127.0.0.1:1", nil, tokenUser(testToken))
	for _, tc := range []struct{ url, want string }{
		{"http://hookgate.example.com", "it carries your token, so it must be https (http only to localhost)"},
		{"hookgate.example.com:443", "want https://host[:port][/path]"},
		{"https://h.example/?x=1", "want https://host[:port][/path]"},
	} {
		r := run(t, "events", "stripe", "--kubeconfig", kc, "--events-url", tc.url)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d %q", tc.url, r.code, r.stderr)
		}
	}
	// The environment names it too; an untrusted certificate is refused.
	f := newFakeAPI(t)
	var out, errb bytes.Buffer
	rn := newRunner(&out, &errb)
	rn.getenv = func(k string) string {
		if k == EventsURLEnv {
			return f.srv.URL
		}
		return ""
	}
	if code := rn.run(context.Background(), []string{"events", "stripe", "--kubeconfig", kc}); code != 1 ||
		!strings.Contains(errb.String(), "Unable to connect to the server: ") || !strings.Contains(errb.String(), "certificate") {
		t.Fatalf("untrusted: exit %d %q", code, errb.String())
	}
	if n := len(f.got()); n != 0 {
		t.Fatalf("%d requests over an untrusted connection", n)
	}
	// HOOKGATE_EVENTS_CA names the CA of --events-url.
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	rn.getenv = func(k string) string {
		switch k {
		case EventsURLEnv:
			return f.srv.URL
		case EventsCAEnv:
			return caFile
		}
		return ""
	}
	// The fake knows no such endpoint: a 404 from it means the TLS
	// connection was trusted.
	rn.run(context.Background(), []string{"events", "stripe", "--kubeconfig", kc})
	if len(f.got()) != 1 || !strings.Contains(errb.String(), "Error from server (NotFound)") {
		t.Fatalf("with %s: %q, %d requests", EventsCAEnv, errb.String(), len(f.got()))
	}
}

func TestSend(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = append(got, r)
		n := len(got)
		mu.Unlock()
		if n > 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)
	ep := &hookv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "gh"},
		Spec:   hookv1.WebhookEndpointSpec{Provider: hookv1.ProviderGitHub, SecretRef: &hookv1.SecretKeyRef{Name: "s"}},
		Status: hookv1.WebhookEndpointStatus{WebhookPath: "/h/xyz", URL: recv.URL + "/public/h/xyz"}}
	c := fake.NewClientBuilder().WithScheme(sendhook.Scheme()).WithObjects(ep,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "s"}, Data: map[string][]byte{"secret": []byte("k")}}).Build()
	var host string
	kc := kubeconfig(t, "https://k8s.example:6443", nil, tokenUser(testToken))
	send := func(args ...string) result {
		var out, errb bytes.Buffer
		rn := newRunner(&out, &errb)
		rn.sendClient = func(cfg *rest.Config) (client.Reader, error) {
			host = cfg.Host
			return c, nil
		}
		code := rn.run(context.Background(), append([]string{"--kubeconfig", kc}, args...))
		return result{code, out.String(), errb.String()}
	}
	r := send("send", "gh", "-n", "ci", "--event", "push", "--id", "d-7")
	if r.code != 0 || r.stdout != "POST "+recv.URL+"/public/h/xyz provider=github delivery=d-7 -> 200 OK \n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if host != "https://k8s.example:6443" || got[0].URL.Path != "/public/h/xyz" || got[0].Header.Get("X-GitHub-Event") != "push" ||
		got[0].Header.Get("X-Hub-Signature-256") == "" {
		t.Fatalf("host %s, request %s %v", host, got[0].URL.Path, got[0].Header)
	}
	// --receiver, and a refusal is exit 1.
	r = send("send", "--receiver", recv.URL, "gh", "-n", "ci", "--tamper")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "POST "+recv.URL+"/h/xyz provider=github ") || !strings.Contains(r.stdout, "-> 401 Unauthorized") {
		t.Fatalf("--receiver: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := send("send", "nope", "-n", "ci"); r.code != 1 || r.stderr != "Error from server (NotFound): webhookendpoints.hookgate.io \"nope\" not found\n" {
		t.Fatalf("missing endpoint: exit %d %q", r.code, r.stderr)
	}
	if r := send("send", "--generate-key-pair", "discord"); r.code != 0 || !strings.Contains(r.stdout, "# spec.publicKeys entry:") {
		t.Fatalf("key pair: exit %d %q", r.code, r.stderr)
	}
	if r := send("send"); r.code != 1 || r.stderr != "error: ENDPOINT is required: the name of a WebhookEndpoint\nSee 'kubectl hookgate send -h' for help.\n" {
		t.Fatalf("no endpoint: exit %d %q", r.code, r.stderr)
	}
}
