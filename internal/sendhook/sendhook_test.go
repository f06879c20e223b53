package sendhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

type received struct {
	path   string
	header http.Header
	body   []byte
}

// receiver records what it gets and answers code.
func receiver(t *testing.T, code int) (*httptest.Server, func() []received) {
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.URL.Path, r.Header.Clone(), b})
		mu.Unlock()
		w.WriteHeader(code)
		_, _ = w.Write([]byte("answer\n"))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received { mu.Lock(); defer mu.Unlock(); return append([]received(nil), got...) }
}

func githubEndpoint(statusURL string) *hookv1.WebhookEndpoint {
	return &hookv1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "gh"},
		Spec:       hookv1.WebhookEndpointSpec{Provider: hookv1.ProviderGitHub, SecretRef: &hookv1.SecretKeyRef{Name: "gh-secret"}},
		Status:     hookv1.WebhookEndpointStatus{WebhookPath: "/hooks/abc123", URL: statusURL},
	}
}

func githubSig(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestRunSignsAndPosts(t *testing.T) {
	srv, got := receiver(t, http.StatusAccepted)
	key := []byte("0123456789abcdef")
	c := fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(
		githubEndpoint(srv.URL+"/hooks/abc123"),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "gh-secret"}, Data: map[string][]byte{"secret": key}},
	).Build()

	var o Options
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse([]string{"-event", "push", "-id", "d-1"}); err != nil {
		t.Fatal(err)
	}
	o.Namespace, o.Name = "ci", "gh"
	var out bytes.Buffer
	// status.url by default.
	r, err := Run(context.Background(), c, o, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.StatusCode != http.StatusAccepted || r.ID != "d-1" || r.Provider != "github" {
		t.Fatalf("result %+v", r)
	}
	want := "POST " + srv.URL + "/hooks/abc123 provider=github delivery=d-1 -> 202 Accepted answer\n"
	if out.String() != want {
		t.Fatalf("output\n%q\nwant\n%q", out.String(), want)
	}
	g := got()
	if len(g) != 1 || g[0].path != "/hooks/abc123" || string(g[0].body) != DefaultBody {
		t.Fatalf("received %+v", g)
	}
	if g[0].header.Get("X-GitHub-Event") != "push" || g[0].header.Get("X-Hub-Signature-256") != githubSig(key, g[0].body) {
		t.Fatalf("headers %v", g[0].header)
	}

	// --receiver: its base URL and status.webhookPath; --tamper breaks the signature.
	srv2, got2 := receiver(t, http.StatusUnauthorized)
	o.Receiver, o.Tamper, o.ID = srv2.URL+"/", true, ""
	out.Reset()
	r, err = Run(context.Background(), c, o, &out)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || r.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(r.ID, "test-") {
		t.Fatalf("result %+v", r)
	}
	g = got2()
	if len(g) != 1 || g[0].path != "/hooks/abc123" || g[0].header.Get("X-Hub-Signature-256") == githubSig(key, g[0].body) {
		t.Fatalf("tampered request %+v", g)
	}
	if len(got()) != 1 {
		t.Fatal("--receiver was not used")
	}
}

func TestRunErrors(t *testing.T) {
	noURL := githubEndpoint("")
	noPath := githubEndpoint("")
	noPath.Name, noPath.Status.WebhookPath = "new", ""
	keys := githubEndpoint("https://x.example/hooks/abc123")
	keys.Name, keys.Spec.SecretRef, keys.Spec.Provider = "keys", nil, hookv1.ProviderDiscord
	c := fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(noURL, noPath, keys).Build()
	for _, tc := range []struct {
		name, receiver, want string
	}{
		{"missing", "", "reading WebhookEndpoint"},
		{"gh", "", "has no status.url"},
		{"new", "", "has no status.webhookPath yet"},
		{"new", "http://127.0.0.1:1", "has no status.webhookPath yet"},
		{"keys", "", "pass --private-key (create a pair with --generate-key-pair discord)"},
	} {
		_, err := Run(context.Background(), c, Options{Namespace: "ci", Name: tc.name, Receiver: tc.receiver}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestPrintKeyPair(t *testing.T) {
	var out bytes.Buffer
	if err := PrintKeyPair(&out, "discord"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "# spec.publicKeys entry:\n") || !strings.Contains(out.String(), "PRIVATE KEY") {
		t.Fatalf("output %q", out.String())
	}
	if err := PrintKeyPair(io.Discard, "no-such-provider"); err == nil {
		t.Fatal("unknown provider accepted")
	}
}
