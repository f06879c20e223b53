// Package endpoints keeps the receiver's registry in step with the
// WebhookEndpoints and Secrets in the cluster. Every receiver replica runs it
// (no leader election): each needs its own registry.
package endpoints

import (
	"context"
	"fmt"
	"net/netip"

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
	// MaxBodyBytes is the receiver-wide body limit.
	MaxBodyBytes int64
}

// SetupWithManager registers the loader.
func (l *Loader) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &hookv1.WebhookEndpoint{}, secretRefIndex,
		func(o client.Object) []string {
			return []string{o.(*hookv1.WebhookEndpoint).Spec.SecretRef.Name}
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
	e.MaxBodyBytes = l.MaxBodyBytes
	e.Keys, e.KeysError = l.loadKeys(ctx, &ep)
	l.Registry.Upsert(e)
	return ctrl.Result{}, nil
}

func (l *Loader) loadKeys(ctx context.Context, ep *hookv1.WebhookEndpoint) ([][]byte, string) {
	var s corev1.Secret
	key := types.NamespacedName{Namespace: ep.Namespace, Name: ep.Spec.SecretRef.Name}
	if err := l.Client.Get(ctx, key, &s); err != nil {
		return nil, fmt.Sprintf("reading Secret %s: %v", key, err)
	}
	v := s.Data[ep.Spec.SecretRef.GetKey()]
	if len(v) == 0 {
		return nil, fmt.Sprintf("Secret %s has no key %q", key, ep.Spec.SecretRef.GetKey())
	}
	return [][]byte{v}, ""
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
		MaxAttempts:    s.Delivery.GetMaxAttempts(),
		BackoffInitial: s.Delivery.Backoff.GetInitial(),
		BackoffMax:     s.Delivery.Backoff.GetMax(),
		Timeout:        s.Delivery.GetTimeout(),
		Suspended:      s.Suspend,
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
	switch s.Provider {
	case hookv1.ProviderGitHub:
		return verify.NewGitHub(verify.GitHubOptions{}), nil
	case hookv1.ProviderStandardWebhooks:
		return verify.NewStandardWebhooks(s.GetReplayTolerance()), nil
	case hookv1.ProviderGenericHMAC:
		g := s.GenericHMAC
		if g == nil {
			g = &hookv1.GenericHMACSpec{}
		}
		o := verify.GenericHMACOptions{
			Header:          g.Header,
			Algorithm:       g.Algorithm,
			Encoding:        g.Encoding,
			Prefix:          g.Prefix,
			IDHeader:        g.IDHeader,
			TimestampHeader: g.TimestampHeader,
			SignedContent:   g.SignedContent,
		}
		if g.TimestampHeader != "" {
			o.Tolerance = s.GetReplayTolerance()
		}
		v, err := verify.NewGenericHMAC(o)
		if err != nil {
			return nil, fmt.Errorf("spec.genericHMAC: %w", err)
		}
		return v, nil
	default:
		return nil, fmt.Errorf("spec.provider %q is not supported by this receiver", s.Provider)
	}
}
