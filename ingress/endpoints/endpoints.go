// Package endpoints keeps the receiver's registry in step with the
// WebhookEndpoints in the cluster and their key mirrors. Every receiver
// replica runs it (no leader election): each needs its own registry.
//
// The receiver never reads a team's signing Secret. The manager copies each
// endpoint's accepted keys into a key mirror, Secret hookgate-keys-<uid> in
// the receiver's own namespace (internal/keyring), and the receiver may read
// Secrets only there: its cache (CacheByObject) and its RBAC (a Role in that
// namespace, no Secrets in its ClusterRole) both say so.
package endpoints

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/keyring"
)

// uidIndex indexes WebhookEndpoints by UID, to find a key mirror's endpoint.
const uidIndex = ".metadata.uid"

// The receiver only reads: endpoints and target Services cluster-wide, and
// Secrets only in its own namespace, where the key mirrors are. That Role is
// hand-written (config/rbac/receiver/keys_role.yaml, the chart's
// keys-rbac.yaml): a marker cannot name the namespace the receiver runs in.
// +kubebuilder:rbac:groups=hookgate.io,resources=webhookendpoints,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch

// Loader reconciles WebhookEndpoints into a registry.
type Loader struct {
	Client   client.Reader
	Registry *registry.Registry
	// KeysNamespace is the receiver's namespace, where the manager writes
	// the key mirrors. Required.
	KeysNamespace string
	// MaxBodyBytes is the body limit of endpoints that set none.
	MaxBodyBytes int64
	// BodyCap, when set, bounds every endpoint's body limit: what the NATS
	// server accepts in one message, less room for headers. An external
	// server's max_payload is often 1 MB, smaller than a spec may ask.
	BodyCap int64
	// Now is the clock; tests inject one.
	Now func() time.Time
}

// CacheByObject restricts the receiver's cache of Secrets to the key
// mirrors in keysNamespace: nothing else is ever read, so nothing else is
// listed, watched or held in memory. Use it as cache.Options.ByObject.
func CacheByObject(keysNamespace string) map[client.Object]cache.ByObject {
	mirrors, _ := labels.NewRequirement(hookv1.LabelEndpointUID, selection.Exists, nil)
	return map[client.Object]cache.ByObject{
		&corev1.Secret{}: {
			Namespaces: map[string]cache.Config{keysNamespace: {}},
			Label:      labels.NewSelector().Add(*mirrors),
		},
	}
}

// SetupWithManager registers the loader.
func (l *Loader) SetupWithManager(mgr ctrl.Manager) error {
	if l.KeysNamespace == "" {
		return errors.New("the receiver needs the namespace of its key mirrors (--keys-namespace or POD_NAMESPACE)")
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &hookv1.WebhookEndpoint{}, uidIndex,
		func(o client.Object) []string { return []string{string(o.GetUID())} }); err != nil {
		return fmt.Errorf("indexing WebhookEndpoints by UID: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("receiver-endpoints").
		For(&hookv1.WebhookEndpoint{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(l.endpointForMirror),
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false), MaxConcurrentReconciles: 2}).
		Complete(l)
}

// endpointForMirror maps a key mirror to its endpoint through the UID label.
func (l *Loader) endpointForMirror(ctx context.Context, o client.Object) []reconcile.Request {
	uid := o.GetLabels()[hookv1.LabelEndpointUID]
	if o.GetNamespace() != l.KeysNamespace || uid == "" {
		return nil
	}
	var list hookv1.WebhookEndpointList
	if err := l.Client.List(ctx, &list, client.MatchingFields{uidIndex: uid}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing the endpoint of a key mirror failed", "secret", client.ObjectKeyFromObject(o))
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
	l.builder().Apply(ctx, &ep, func(ctx context.Context) (map[string][]byte, bool, error) {
		return l.readMirror(ctx, &ep)
	})
	return ctrl.Result{}, nil
}

func (l *Loader) builder() Builder {
	return Builder{Registry: l.Registry, MaxBodyBytes: l.MaxBodyBytes, BodyCap: l.BodyCap, Now: l.Now}
}

// readMirror reads the endpoint's key mirror from the receiver's
// namespace: only the mirror, since the manager has checked the Secret and
// copied the keys that are accepted.
func (l *Loader) readMirror(ctx context.Context, ep *hookv1.WebhookEndpoint) (map[string][]byte, bool, error) {
	var s corev1.Secret
	key := types.NamespacedName{Namespace: l.KeysNamespace, Name: keyring.MirrorName(string(ep.UID))}
	if err := l.Client.Get(ctx, key, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading key mirror %s: %w", key, err)
	}
	if s.Labels[hookv1.LabelEndpointUID] != string(ep.UID) {
		return nil, false, fmt.Errorf("key mirror %s is not labelled %s=%s", key, hookv1.LabelEndpointUID, ep.UID)
	}
	return s.Data, true, nil
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
		DedupeWindow:    s.Dedupe.GetWindow(),
		MaxBodyBytes:    s.Limits.GetMaxBodyBytes(),
		MaxQueuedEvents: s.Limits.GetMaxQueuedEvents(),
		HandshakeMethod: handshakeMethod(s.Provider),
		MaxQueuedBytes:  s.Limits.GetMaxQueuedBytes(),
		MaxAttempts:     s.Delivery.GetMaxAttempts(),
		BackoffInitial:  s.Delivery.Backoff.GetInitial(),
		BackoffMax:      s.Delivery.Backoff.GetMax(),
		Timeout:         s.Delivery.GetTimeout(),
		Suspended:       s.Suspend,
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
	if g := s.GenericHMAC; g != nil {
		o.Generic = &verify.GenericHMACOptions{
			Header:          g.Header,
			Algorithm:       g.Algorithm,
			Encoding:        g.Encoding,
			Prefix:          g.Prefix,
			IDHeader:        g.IDHeader,
			TimestampHeader: g.TimestampHeader,
			SignedContent:   g.SignedContent,
		}
		if g.TimestampHeader != "" {
			o.Generic.Tolerance = s.GetReplayTolerance()
		}
	}
	o.JWT = verify.JWTOptionsFromSpec(s.JWT)
	o.SNS = verify.SNSOptionsFromSpec(s.SNS)
	// The provider table decides which verifier (scheme) and defaults apply.
	v, err := verify.New(string(s.Provider), o)
	if err != nil {
		if s.Provider == hookv1.ProviderGenericHMAC {
			return nil, fmt.Errorf("spec.genericHMAC: %w", err)
		}
		return nil, fmt.Errorf("spec.provider: %w", err)
	}
	return v, nil
}

// handshakeMethod is the provider's non-POST handshake method, from the
// provider table.
func handshakeMethod(p hookv1.Provider) string {
	if info, ok := hookv1.LookupProvider(p); ok && info.Handshake.Method != http.MethodPost {
		return info.Handshake.Method
	}
	return ""
}
