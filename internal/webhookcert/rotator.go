// Package webhookcert keeps the serving certificate of the manager's
// admission webhook without cert-manager: a self-signed CA and a serving
// certificate (ECDSA P-256) in a Secret of the manager's namespace, shared
// by every replica, renewed at two thirds of their validity, served from
// memory (tls.Config.GetCertificate, so the root filesystem stays
// read-only), and the CA published as the caBundle of the
// ValidatingWebhookConfiguration that calls the webhook.
//
// Replicas need no leader: each reads the Secret, and the one that finds it
// missing or due creates or updates it with the resourceVersion it read
// (compare-and-swap); the others lose with AlreadyExists or Conflict, read
// the winner's certificate and serve that one.
package webhookcert

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// DefaultInterval is how often a replica re-reads the Secret and the
// webhook configuration: the longest a replica serves a certificate another
// one replaced, and the longest a caBundle someone reset stays wrong.
const DefaultInterval = time.Minute

// ServiceNames are the names the API server uses for a webhook Service.
func ServiceNames(service, namespace string) []string {
	return []string{service + "." + namespace + ".svc", service + "." + namespace + ".svc.cluster.local"}
}

// Rotator keeps the certificate and the caBundle; add it to the manager
// (it runs on every replica, leader or not) and set ConfigureTLS in the
// webhook server's TLSOpts.
type Rotator struct {
	// Client creates and updates the Secret and patches the webhook
	// configuration.
	Client client.Client
	// Reader reads them past any cache (the manager's GetAPIReader). Nil:
	// Client.
	Reader client.Reader
	// Secret holds the certificate: tls.crt, tls.key, ca.crt.
	Secret types.NamespacedName
	// Names are the DNS names and IP addresses the certificate must be
	// valid for (ServiceNames, plus any for local runs).
	Names []string
	// WebhookConfiguration is the ValidatingWebhookConfiguration whose
	// webhooks get ca.crt as their caBundle. Empty: none is patched.
	WebhookConfiguration string
	// Validity of a new certificate. Defaults to DefaultValidity.
	Validity time.Duration
	// Interval between two checks. Defaults to DefaultInterval.
	Interval time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time

	cert     atomic.Pointer[tls.Certificate]
	synced   atomic.Bool
	noConfig atomic.Bool // the configuration was missing at the last check
}

// NeedLeaderElection is false: every replica serves the webhook.
func (r *Rotator) NeedLeaderElection() bool { return false }

// ConfigureTLS serves the certificate the Rotator holds. It also turns
// HTTP/2 off, as kubebuilder's scaffold does (HTTP/2 rapid reset).
func (r *Rotator) ConfigureTLS(c *tls.Config) {
	c.GetCertificate = r.GetCertificate
	c.NextProtos = []string{"http/1.1"}
	c.MinVersion = tls.VersionTLS12
}

// GetCertificate returns the current serving certificate.
func (r *Rotator) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := r.cert.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("the webhook serving certificate is not loaded yet")
}

// Ready is a healthz.Checker: ready once a certificate is loaded and the
// caBundle was published (or there is no configuration to publish it in).
func (r *Rotator) Ready(*http.Request) error {
	if r.cert.Load() == nil {
		return errors.New("the webhook serving certificate is not loaded yet")
	}
	if !r.synced.Load() {
		return fmt.Errorf("the caBundle of ValidatingWebhookConfiguration %s is not published yet", r.WebhookConfiguration)
	}
	return nil
}

// Start checks at once and then every Interval, until ctx is done; a failed
// check is retried sooner, with backoff.
func (r *Rotator) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("webhook-cert").WithValues("secret", r.Secret)
	ctx = logf.IntoContext(ctx, log)
	backoff := time.Second
	for {
		wait := r.interval()
		if err := r.Sync(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Error(err, "Keeping the webhook certificate failed; will retry", "in", min(backoff, wait))
			wait, backoff = min(backoff, wait), min(2*backoff, wait)
		} else {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Sync makes the Secret hold a certificate valid for Names, serves it and
// publishes its CAs.
func (r *Rotator) Sync(ctx context.Context) error {
	b, err := r.ensureSecret(ctx)
	if err != nil {
		return err
	}
	c, err := b.TLSCertificate()
	if err != nil {
		return fmt.Errorf("loading the certificate of Secret %s: %w", r.Secret, err)
	}
	if old := r.cert.Load(); old == nil || !bytes.Equal(old.Certificate[0], c.Certificate[0]) {
		logf.FromContext(ctx).Info("Serving webhook certificate", "notAfter", c.Leaf.NotAfter.UTC(), "names", b.Names())
		r.cert.Store(c)
	}
	if err := r.publishCABundle(ctx, b.CA); err != nil {
		return err
	}
	r.synced.Store(true)
	return nil
}

// ensureSecret returns the Secret's certificate, first replacing it when it
// is missing, unusable or due. Writes are compare-and-swap: on
// AlreadyExists or Conflict another replica wrote first, and its
// certificate is read and used.
func (r *Rotator) ensureSecret(ctx context.Context) (*Bundle, error) {
	log := logf.FromContext(ctx)
	for attempt := 0; ; attempt++ {
		now := r.now()
		var s corev1.Secret
		err := r.reader().Get(ctx, r.Secret, &s)
		if apierrors.IsNotFound(err) {
			b, err := Generate(now, r.validity(), r.Names, nil)
			if err != nil {
				return nil, err
			}
			s = corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: r.Secret.Namespace, Name: r.Secret.Name, Labels: map[string]string{
					"app.kubernetes.io/part-of":   "hookgate",
					"app.kubernetes.io/component": "webhook-cert",
				}},
				Type: corev1.SecretTypeTLS,
				Data: secretData(b),
			}
			err = r.Client.Create(ctx, &s)
			if err == nil {
				log.Info("Created the webhook certificate", "notAfter", now.Add(r.validity()).UTC())
				return b, nil
			}
			if apierrors.IsAlreadyExists(err) && attempt < 3 {
				continue
			}
			return nil, fmt.Errorf("creating Secret %s: %w", r.Secret, err)
		}
		if err != nil {
			return nil, fmt.Errorf("reading Secret %s: %w", r.Secret, err)
		}
		cur := &Bundle{Cert: s.Data[CertKey], Key: s.Data[KeyKey], CA: s.Data[CAKey]}
		why := cur.Check(now, r.Names)
		if why == "" {
			return cur, nil
		}
		// A certificate that is only missing names keeps the ones it has:
		// replicas of an older release, with other names, still find theirs.
		names := r.Names
		if at, err := cur.RenewAt(); err == nil && now.Before(at) {
			names = union(cur.Names(), r.Names)
		}
		b, err := Generate(now, r.validity(), names, cur.CA)
		if err != nil {
			return nil, err
		}
		s.Data = secretData(b) // s.ResourceVersion makes the update a compare-and-swap
		err = r.Client.Update(ctx, &s)
		if err == nil {
			log.Info("Renewed the webhook certificate", "reason", why, "notAfter", now.Add(r.validity()).UTC())
			return b, nil
		}
		if apierrors.IsConflict(err) && attempt < 3 {
			continue
		}
		return nil, fmt.Errorf("updating Secret %s: %w", r.Secret, err)
	}
}

// publishCABundle sets ca as the caBundle of every webhook of the
// configuration that has another one. A bundle whose newest Hookgate CA is
// newer than ca's is left alone: this replica read the Secret before another one
// renewed it, and would take the new CA away from the replicas serving it.
func (r *Rotator) publishCABundle(ctx context.Context, ca []byte) error {
	if r.WebhookConfiguration == "" {
		return nil
	}
	log := logf.FromContext(ctx).WithValues("validatingWebhookConfiguration", r.WebhookConfiguration)
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	err := r.reader().Get(ctx, client.ObjectKey{Name: r.WebhookConfiguration}, &vwc)
	if apierrors.IsNotFound(err) {
		// Not installed (yet, or on purpose): nothing calls the webhook.
		if !r.noConfig.Swap(true) {
			log.Info("ValidatingWebhookConfiguration not found; its caBundle is set once it exists")
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", r.WebhookConfiguration, err)
	}
	r.noConfig.Store(false)
	orig := vwc.DeepCopy()
	changed := false
	ours := newestCA(ca)
	for i := range vwc.Webhooks {
		cc := &vwc.Webhooks[i].ClientConfig
		if bytes.Equal(cc.CABundle, ca) || newestCA(cc.CABundle).After(ours) {
			continue
		}
		cc.CABundle = ca
		changed = true
	}
	if !changed {
		return nil
	}
	if err := r.Client.Patch(ctx, &vwc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("setting the caBundle of ValidatingWebhookConfiguration %s: %w", r.WebhookConfiguration, err)
	}
	log.Info("Published the webhook CA as caBundle")
	return nil
}

func secretData(b *Bundle) map[string][]byte {
	return map[string][]byte{CertKey: b.Cert, KeyKey: b.Key, CAKey: b.CA}
}

// newestCA is the latest NotBefore of the CAs that Generate made in a PEM
// bundle; zero when there is none.
func newestCA(bundle []byte) time.Time {
	var t time.Time
	for _, c := range parseCerts(bundle) {
		if c.IsCA && c.Subject.CommonName == caCommonName && c.NotBefore.After(t) {
			t = c.NotBefore
		}
	}
	return t
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func (r *Rotator) reader() client.Reader {
	if r.Reader != nil {
		return r.Reader
	}
	return r.Client
}

func (r *Rotator) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Rotator) validity() time.Duration {
	if r.Validity > 0 {
		return r.Validity
	}
	return DefaultValidity
}

func (r *Rotator) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return DefaultInterval
}
