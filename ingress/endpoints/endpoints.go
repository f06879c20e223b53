// Package endpoints keeps the receiver's registry in step with the
// WebhookEndpoints and Secrets in the cluster. Every receiver replica runs it
// (no leader election): each needs its own registry.
package endpoints

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/ingress/verify"
)

// secretRefIndex indexes WebhookEndpoints by the Secret they reference.
const secretRefIndex = ".spec.secretRef.name"

// The receiver only reads: endpoints, their Secrets, and target Services.
// +kubebuilder:rbac:groups=hookgate.io,resources=webhookendpoints,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets;services,verbs=get;list;watch

// Loader reconciles WebhookEndpoints into a registry.
type Loader struct {
	Client   client.Reader
	Registry *registry.Registry
	// MaxBodyBytes is the body limit of endpoints that set none.
	MaxBodyBytes int64
	// BodyCap, when set, bounds every endpoint's body limit: what the NATS
	// server accepts in one message, less room for headers. An external
	// server's max_payload is often 1 MB, smaller than a spec may ask.
	BodyCap int64
}

// SetupWithManager registers the loader.
func (l *Loader) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &hookv1.WebhookEndpoint{}, secretRefIndex,
		func(o client.Object) []string {
			if ref := o.(*hookv1.WebhookEndpoint).Spec.SecretRef; ref != nil {
				return []string{ref.Name}
			}
			return nil
		}); err != nil {
		return fmt.Errorf("indexing WebhookEndpoints by Secret: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("receiver-endpoints").
		For(&hookv1.WebhookEndpoint{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(l.endpointsForSecret),
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false), MaxConcurrentReconciles: 2}).
		Complete(l)
}

func (l *Loader) endpointsForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list hookv1.WebhookEndpointList
	if err := l.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretRefIndex: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing endpoints for Secret failed", "secret", client.ObjectKeyFromObject(o))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// Reconcile publishes one endpoint's current configuration and keys.
func (l *Loader) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ep hookv1.WebhookEndpoint
	if err := l.Client.Get(ctx, req.NamespacedName, &ep); err != nil {
		if apierrors.IsNotFound(err) {
			l.Registry.Delete(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	// Until the controller has assigned a path there is nothing to route.
	if !ep.DeletionTimestamp.IsZero() || ep.Status.WebhookPath == "" {
		l.Registry.Delete(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	e, err := Compile(&ep)
	if err != nil {
		// The API's validation should make this unreachable; keep the
		// endpoint routable so requests get a clear 503 rather than 404.
		ctrl.LoggerFrom(ctx).Error(err, "Endpoint configuration is invalid")
		e.KeysError = err.Error()
		l.Registry.Upsert(e)
		return ctrl.Result{}, nil
	}
	if ep.Spec.Limits.MaxBodyBytes == nil && l.MaxBodyBytes > 0 {
		e.MaxBodyBytes = l.MaxBodyBytes
	}
	if l.BodyCap > 0 && e.MaxBodyBytes > l.BodyCap {
		e.MaxBodyBytes = l.BodyCap
	}
	l.loadKeys(ctx, &ep, e)
	// Status updates (counters, every few seconds) recompile the endpoint:
	// keep the token bucket, or every update would refill it.
	if old, ok := l.Registry.ByUID(e.UID); ok && old.Limiter != nil && e.Limiter != nil &&
		old.Limiter.Limit() == e.Limiter.Limit() && old.Limiter.Burst() == e.Limiter.Burst() {
		e.Limiter = old.Limiter
	}
	l.Registry.Upsert(e)
	return ctrl.Result{}, nil
}

func (l *Loader) loadKeys(ctx context.Context, ep *hookv1.WebhookEndpoint, e *registry.Endpoint) {
	if ep.Spec.VerifiesWithPublicKeysOnly() {
		for _, k := range ep.Spec.PublicKeys {
			e.Keys = append(e.Keys, []byte(k))
		}
		return
	}
	if ep.Spec.SecretRef == nil {
		e.KeysError = "spec.secretRef is not set"
		return
	}
	var s corev1.Secret
	key := types.NamespacedName{Namespace: ep.Namespace, Name: ep.Spec.SecretRef.Name}
	if err := l.Client.Get(ctx, key, &s); err != nil {
		e.KeysError = fmt.Sprintf("reading Secret %s: %v", key, err)
		return
	}
	name := ep.Spec.SecretRef.GetKey()
	v := s.Data[name]
	if len(v) == 0 {
		e.KeysError = fmt.Sprintf("Secret %s has no key %q", key, name)
		return
	}
	e.Keys = [][]byte{v}
	if prev := s.Data[name+hookv1.PreviousKeySuffix]; len(prev) > 0 {
		e.PreviousKey = prev
		if at := s.Annotations[hookv1.AnnotationPreviousKeyExpiresAt]; at != "" {
			t, err := time.Parse(time.RFC3339, at)
			if err != nil {
				// An unreadable expiry must not keep an old key alive forever.
				e.PreviousKey = nil
				ctrl.LoggerFrom(ctx).Info("Ignoring previous key: unparsable expiry", "secret", key.String(), "value", at)
			} else {
				e.PreviousExpires = t
			}
		}
	}
}

// Compile turns an endpoint's spec into the data plane's form. On error
// the returned endpoint still names the endpoint, without a verifier.
func Compile(ep *hookv1.WebhookEndpoint) (*registry.Endpoint, error) {
	s := &ep.Spec
	e := &registry.Endpoint{
		UID:        string(ep.UID),
		Key:        client.ObjectKeyFromObject(ep),
		Generation: ep.Generation,
		Path:       ep.Status.WebhookPath,
		Provider:   string(s.Provider),
		Target: registry.Target{
			Service: s.Target.Service.Name,
			Port:    s.Target.Service.Port,
			Path:    s.Target.Service.GetPath(),
		},
		DedupeWindow:   s.Dedupe.GetWindow(),
		MaxBodyBytes:   s.Limits.GetMaxBodyBytes(),
		MaxAttempts:    s.Delivery.GetMaxAttempts(),
		BackoffInitial: s.Delivery.Backoff.GetInitial(),
		BackoffMax:     s.Delivery.Backoff.GetMax(),
		Timeout:        s.Delivery.GetTimeout(),
		Suspended:      s.Suspend,
	}
	if burst := s.Limits.GetBurst(); burst > 0 {
		e.Limiter = rate.NewLimiter(rate.Limit(*s.Limits.RequestsPerSecond), burst)
	}
	for _, c := range s.SourceRanges {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return e, fmt.Errorf("spec.sourceRanges: %q is not a CIDR: %w", c, err)
		}
		e.SourceRanges = append(e.SourceRanges, p.Masked())
	}
	v, err := newVerifier(s)
	if err != nil {
		return e, err
	}
	e.Verifier = v
	return e, nil
}

func newVerifier(s *hookv1.WebhookEndpointSpec) (verify.Verifier, error) {
	o := verify.Options{}
	if s.ReplayTolerance != nil {
		o.Tolerance = s.ReplayTolerance.Duration
	}
	if s.GitHub != nil {
		o.AllowSHA1 = s.GitHub.AllowSHA1
	}
	for _, k := range s.PublicKeys {
		o.PublicKeys = append(o.PublicKeys, []byte(k))
	}
	if s.Provider != hookv1.ProviderGenericHMAC {
		v, err := verify.New(string(s.Provider), o)
		if err != nil {
			return nil, fmt.Errorf("spec.provider: %w", err)
		}
		return v, nil
	}
	g := s.GenericHMAC
	if g == nil {
		g = &hookv1.GenericHMACSpec{}
	}
	gopts := verify.GenericHMACOptions{
		Header:          g.Header,
		Algorithm:       g.Algorithm,
		Encoding:        g.Encoding,
		Prefix:          g.Prefix,
		IDHeader:        g.IDHeader,
		TimestampHeader: g.TimestampHeader,
		SignedContent:   g.SignedContent,
	}
	if g.TimestampHeader != "" {
		gopts.Tolerance = s.GetReplayTolerance()
	}
	v, err := verify.NewGenericHMAC(gopts)
	if err != nil {
		return nil, fmt.Errorf("spec.genericHMAC: %w", err)
	}
	return v, nil
}
