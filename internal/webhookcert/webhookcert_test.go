package webhookcert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

var (
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	names = append(ServiceNames("hookgate-webhook", "hookgate-system"), "127.0.0.1")
	key   = types.NamespacedName{Namespace: "hookgate-system", Name: "hookgate-webhook-cert"}
)

func TestGenerateMakesAP256CertificateForEveryNameThatItsBundleVerifies(t *testing.T) {
	b, err := Generate(t0, DefaultValidity, names, nil)
	if err != nil {
		t.Fatal(err)
	}
	if why := b.Check(t0, names); why != "" {
		t.Fatalf("a fresh certificate needs replacing: %s", why)
	}
	c, err := b.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := c.Leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", c.Leaf.PublicKey)
	}
	if got := strings.Join(c.Leaf.DNSNames, ","); got != "hookgate-webhook.hookgate-system.svc,hookgate-webhook.hookgate-system.svc.cluster.local" {
		t.Errorf("DNS names %s", got)
	}
	if len(c.Leaf.IPAddresses) != 1 || !c.Leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("IP addresses %v, want 127.0.0.1", c.Leaf.IPAddresses)
	}
	if c.Leaf.NotAfter != t0.Add(DefaultValidity) {
		t.Errorf("NotAfter %s, want a year on", c.Leaf.NotAfter)
	}
	if len(parseCerts(b.CA)) != 1 {
		t.Errorf("a first bundle holds %d CAs, want 1", len(parseCerts(b.CA)))
	}
	if why := b.Check(t0, []string{"other.hookgate-system.svc"}); !strings.Contains(why, "does not verify for other.hookgate-system.svc") {
		t.Errorf("Check for a name the certificate lacks: %q", why)
	}
}

func TestGenerateRefusesACertificateWithoutNames(t *testing.T) {
	if _, err := Generate(t0, DefaultValidity, nil, nil); err == nil {
		t.Fatal("Generate with no names succeeded")
	}
}

func TestACertificateIsDueAtTwoThirdsOfItsValidity(t *testing.T) {
	b, err := Generate(t0, DefaultValidity, names, nil)
	if err != nil {
		t.Fatal(err)
	}
	at, err := b.RenewAt()
	if err != nil {
		t.Fatal(err)
	}
	life := DefaultValidity + backdate
	if want := t0.Add(-backdate).Add(life * 2 / 3); !at.Equal(want) {
		t.Fatalf("RenewAt %s, want %s", at, want)
	}
	if why := b.Check(at.Add(-time.Second), names); why != "" {
		t.Errorf("a second before renewal: %s", why)
	}
	if why := b.Check(at, names); !strings.Contains(why, "due for renewal") {
		t.Errorf("at renewal: %q", why)
	}
}

func TestCheckRefusesBrokenSecrets(t *testing.T) {
	b, _ := Generate(t0, DefaultValidity, names, nil)
	other, _ := Generate(t0, DefaultValidity, names, nil)
	for name, c := range map[string]*Bundle{
		"an empty Secret":                  {},
		"a key of another certificate":     {Cert: b.Cert, Key: other.Key, CA: b.CA},
		"a CA that did not sign it":        {Cert: b.Cert, Key: b.Key, CA: other.CA},
		"garbage where the CA bundle is":   {Cert: b.Cert, Key: b.Key, CA: []byte("not PEM")},
		"garbage where the certificate is": {Cert: []byte("x"), Key: b.Key, CA: b.CA},
	} {
		if why := c.Check(t0, names); why == "" {
			t.Errorf("%s passes Check", name)
		}
	}
}

func TestARenewedBundleKeepsTheOldCAUntilItExpires(t *testing.T) {
	first, _ := Generate(t0, DefaultValidity, names, nil)
	at, _ := first.RenewAt()
	second, err := Generate(at, DefaultValidity, names, first.CA)
	if err != nil {
		t.Fatal(err)
	}
	cas := parseCerts(second.CA)
	if len(cas) != 2 || !cas[1].Equal(parseCerts(first.CA)[0]) {
		t.Fatalf("renewed bundle holds %d CAs, want the new one then the old one", len(cas))
	}
	// The API server, given the new bundle, still trusts a replica that
	// serves the old certificate.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(second.CA)
	oldLeaf, _ := first.TLSCertificate()
	if _, err := oldLeaf.Leaf.Verify(x509.VerifyOptions{DNSName: names[0], Roots: roots, CurrentTime: at}); err != nil {
		t.Errorf("old certificate against the new bundle: %v", err)
	}
	third, _ := Generate(t0.Add(DefaultValidity+time.Hour), DefaultValidity, names, second.CA)
	if n := len(parseCerts(third.CA)); n != 2 {
		t.Errorf("after the first CA expired the bundle holds %d CAs, want 2", n)
	}
}

func newScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func vwc(name string, webhooks ...string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, w := range webhooks {
		v.Webhooks = append(v.Webhooks, admissionregistrationv1.ValidatingWebhook{Name: w})
	}
	return v
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func rotator(c client.Client, clk *clock) *Rotator {
	return &Rotator{Client: c, Secret: key, Names: names, WebhookConfiguration: "hookgate-webhook", Now: clk.now}
}

func secretOf(t *testing.T, c client.Client) *Bundle {
	t.Helper()
	var s corev1.Secret
	if err := c.Get(context.Background(), key, &s); err != nil {
		t.Fatal(err)
	}
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %s, want %s", s.Type, corev1.SecretTypeTLS)
	}
	return &Bundle{Cert: s.Data[CertKey], Key: s.Data[KeyKey], CA: s.Data[CAKey]}
}

func caBundles(t *testing.T, c client.Client) [][]byte {
	t.Helper()
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(context.Background(), client.ObjectKey{Name: "hookgate-webhook"}, &v); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, w := range v.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	return out
}

func servedBy(r *Rotator) []byte {
	c, err := r.GetCertificate(nil)
	if err != nil {
		return nil
	}
	return c.Certificate[0]
}

func TestReplicasShareOneSecretAndPublishItsCA(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(vwc("hookgate-webhook", "a.hookgate.io", "b.hookgate.io")).Build()
	clk := &clock{t0}
	a, b := rotator(c, clk), rotator(c, clk)
	if a.Ready(nil) == nil {
		t.Fatal("ready before the first sync")
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Ready(nil) != nil || b.Ready(nil) != nil {
		t.Fatalf("not ready after a sync: %v, %v", a.Ready(nil), b.Ready(nil))
	}
	s := secretOf(t, c)
	if string(servedBy(a)) != string(servedBy(b)) || servedBy(a) == nil {
		t.Fatal("the replicas serve different certificates")
	}
	for i, ca := range caBundles(t, c) {
		if string(ca) != string(s.CA) {
			t.Errorf("webhook %d caBundle is not the Secret's ca.crt", i)
		}
	}

	// Before two thirds of the year nothing changes; then the next replica
	// to look renews, and the other picks the new certificate up.
	clk.t = t0.Add(200 * 24 * time.Hour)
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !secretOf(t, c).Equal(s) {
		t.Fatal("the Secret changed before renewal was due")
	}
	clk.t = t0.Add(250 * 24 * time.Hour)
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	renewed := secretOf(t, c)
	if renewed.Equal(s) {
		t.Fatal("the Secret was not renewed at two thirds of its validity")
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if string(servedBy(a)) != string(servedBy(b)) {
		t.Fatal("replica a still serves the old certificate after a sync")
	}
	if n := len(parseCerts(caBundles(t, c)[0])); n != 2 {
		t.Errorf("caBundle after renewal holds %d CAs, want 2 (new and old)", n)
	}
}

func TestConcurrentCreatesAndRenewalsEndOnOneCertificate(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t0}
	var other *Rotator
	raced := map[string]bool{}
	// Just before this replica writes, the other one writes first: the
	// API server answers AlreadyExists, then Conflict.
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(vwc("hookgate-webhook", "a.hookgate.io")).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				if _, ok := obj.(*corev1.Secret); ok && !raced["create"] {
					raced["create"] = true
					if err := other.Sync(ctx); err != nil {
						t.Fatal(err)
					}
				}
				return c.Create(ctx, obj, opts...)
			},
			Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
				if _, ok := obj.(*corev1.Secret); ok && !raced["update"] {
					raced["update"] = true
					if err := other.Sync(ctx); err != nil {
						t.Fatal(err)
					}
				}
				return c.Update(ctx, obj, opts...)
			},
		}).Build()
	r := rotator(c, clk)
	other = rotator(c, clk)
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !raced["create"] || string(servedBy(r)) != string(servedBy(other)) {
		t.Fatal("after losing the create the replicas serve different certificates")
	}
	clk.t = t0.Add(300 * 24 * time.Hour)
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !raced["update"] || string(servedBy(r)) != string(servedBy(other)) {
		t.Fatal("after losing the renewal the replicas serve different certificates")
	}
	if string(servedBy(r)) != string(mustCert(t, secretOf(t, c))) {
		t.Fatal("the replicas do not serve the Secret's certificate")
	}
}

func mustCert(t *testing.T, b *Bundle) []byte {
	c, err := b.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return c.Certificate[0]
}

func TestAStaleReplicaDoesNotTakeANewerCAOutOfTheCABundle(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(vwc("hookgate-webhook", "a.hookgate.io")).Build()
	clk := &clock{t0}
	r := rotator(c, clk)
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	old := secretOf(t, c)
	// Another replica renewed and published a newer bundle, which this
	// replica has not read: it must not put its older one back.
	newer, _ := Generate(t0.Add(time.Hour), DefaultValidity, names, old.CA)
	if err := r.publishCABundle(ctx, newer.CA); err != nil {
		t.Fatal(err)
	}
	if err := r.publishCABundle(ctx, old.CA); err != nil {
		t.Fatal(err)
	}
	if string(caBundles(t, c)[0]) != string(newer.CA) {
		t.Fatal("an older bundle replaced a newer one")
	}
}

func TestAMissingConfigurationIsNotAnError(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).Build()
	r := rotator(c, &clock{t0})
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Ready(nil); err != nil {
		t.Fatalf("not ready without a configuration to patch: %v", err)
	}
}

func TestACertificateMissingANameIsReplacedWithOneForAllNames(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).Build()
	clk := &clock{t0}
	old := rotator(c, clk)
	old.Names = []string{"old.hookgate-system.svc"}
	if err := old.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rotator(c, clk).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got := secretOf(t, c)
	if why := got.Check(t0, append([]string{"old.hookgate-system.svc"}, names...)); why != "" {
		t.Fatalf("the new certificate does not cover the old and the new names: %s", why)
	}
	before := secretOf(t, c)
	if err := old.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !secretOf(t, c).Equal(before) {
		t.Fatal("a replica with the old names replaced the certificate again")
	}
}

func TestTheServerPresentsTheRotatorsCertificate(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).Build()
	r := &Rotator{Client: c, Secret: key, Names: []string{"127.0.0.1"}}
	cfg := &tls.Config{}
	r.ConfigureTLS(cfg)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(secretOf(t, c).CA)
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := cl.Get("https://" + ln.Addr().String())
	if err != nil {
		t.Fatalf("a client trusting ca.crt: %v", err)
	}
	resp.Body.Close()
}
