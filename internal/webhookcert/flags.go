package webhookcert

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// DefaultPort is the webhook server's port.
const DefaultPort = 9443

// Flags configure the manager's admission webhook server and its
// certificate.
type Flags struct {
	Port          int
	Service       string
	Configuration string
	Secret        string
	Hosts         string
}

// BindFlags registers the --webhook-* flags.
func (f *Flags) BindFlags(fs *flag.FlagSet) {
	fs.IntVar(&f.Port, "webhook-port", DefaultPort, "port of the validating admission webhook (HTTPS); 0 disables it")
	fs.StringVar(&f.Service, "webhook-service", "", "Service in the manager's namespace through which the API server calls the webhook; the certificate is made for <service>.<namespace>.svc and <service>.<namespace>.svc.cluster.local")
	fs.StringVar(&f.Configuration, "webhook-configuration", "", "ValidatingWebhookConfiguration whose caBundle the manager keeps set to its CA; empty leaves every caBundle alone")
	fs.StringVar(&f.Secret, "webhook-cert-secret", "hookgate-webhook-cert", "Secret in the manager's namespace that holds the webhook's CA and serving certificate, shared by all replicas; created, and renewed at 2/3 of its one-year validity, by the manager")
	fs.StringVar(&f.Hosts, "webhook-host", "", "extra DNS names or IP addresses of the certificate, comma-separated, e.g. 127.0.0.1 when the API server calls a manager on its own machine; without it and --webhook-service the certificate is for localhost and 127.0.0.1")
}

// Enabled reports whether the webhook is served.
func (f *Flags) Enabled() bool { return f.Port != 0 }

// Names are the names the certificate is made for.
func (f *Flags) Names(namespace string) []string {
	var names []string
	if f.Service != "" {
		names = ServiceNames(f.Service, namespace)
	}
	for _, h := range strings.Split(f.Hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			names = append(names, h)
		}
	}
	if len(names) == 0 {
		names = []string{"localhost", "127.0.0.1"}
	}
	return names
}

// New returns the Rotator and the webhook server that serves its
// certificate, for a manager in namespace. Hand the server to
// ctrl.Options.WebhookServer and the manager to Rotator.SetupWithManager.
func (f *Flags) New(namespace string) (*Rotator, webhook.Server, error) {
	if f.Port < 0 || f.Port > 65535 {
		return nil, nil, fmt.Errorf("--webhook-port %d is not a port", f.Port)
	}
	if f.Secret == "" {
		return nil, nil, errors.New("--webhook-cert-secret is required with the webhook (--webhook-port=0 disables it)")
	}
	if namespace == "" {
		return nil, nil, errors.New("the webhook needs the manager's namespace (POD_NAMESPACE) for its certificate Secret")
	}
	r := &Rotator{
		Secret:               types.NamespacedName{Namespace: namespace, Name: f.Secret},
		Names:                f.Names(namespace),
		WebhookConfiguration: f.Configuration,
	}
	srv := webhook.NewServer(webhook.Options{Port: f.Port, TLSOpts: []func(*tls.Config){r.ConfigureTLS}})
	return r, srv, nil
}

// SetupWithManager runs the Rotator in mgr on every replica and adds the
// readiness checks: the webhook server answers TLS, a certificate is
// loaded and the caBundle is published. A replica that is not ready gets
// no admission requests through the Service.
func (r *Rotator) SetupWithManager(mgr ctrl.Manager) error {
	r.Client, r.Reader = mgr.GetClient(), mgr.GetAPIReader()
	if err := mgr.Add(r); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook-cert", r.Ready); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker())
}
