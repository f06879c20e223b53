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
	"github.com/hookgate/hookgate/internal/filter"
	"github.com/hookgate/hookgate/internal/history"
	"github.com/hookgate/hookgate/internal/keyring"
	"github.com/hookgate/hookgate/internal/queue"
)

// uidIndex indexes WebhookEndpoints by UID, to find a key mirror's endpoint.
const uidIndex = ".metadata.uid"

// providerRefIndex indexes WebhookEndpoints by spec.providerRef.name, to
// find the endpoints of a WebhookProvider.
const providerRefIndex = ".spec.providerRef.name"

// The receiver only reads: endpoints and target Services cluster-wide, and
// Secrets only in its own namespace, where the key mirrors are. That Role is
// hand-written (config/rbac/receiver/keys_role.yaml, the chart's
// keys-rbac.yaml): a marker cannot name the namespace the receiver runs in.
// +kubebuilder:rbac:groups=hookgate.io,resources=webhookendpoints,verbs=get;list;watch
// +kubebuilder:rbac:groups=hookgate.io,resources=webhookproviders,verbs=get;list;watch
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
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &hookv1.WebhookEndpoint{}, providerRefIndex, ProviderRefIndexer); err != nil {
		return fmt.Errorf("indexing WebhookEndpoints by spec.providerRef: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("receiver-endpoints").
		For(&hookv1.WebhookEndpoint{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(l.endpointForMirror),
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		// A WebhookProvider's recipe is part of each endpoint that uses it.
		Watches(&hookv1.WebhookProvider{}, handler.EnqueueRequestsFromMapFunc(l.endpointsOfProvider),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
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

// ProviderRefIndexer indexes a WebhookEndpoint by the name of its
// WebhookProvider.
func ProviderRefIndexer(o client.Object) []string {
	if ref := o.(*hookv1.WebhookEndpoint).Spec.ProviderRef; ref != nil {
		return []string{ref.Name}
	}
	return nil
}

// endpointsOfProvider maps a WebhookProvider to the endpoints that use it.
func (l *Loader) endpointsOfProvider(ctx context.Context, o client.Object) []reconcile.Request {
	var list hookv1.WebhookEndpointList
	if err := l.Client.List(ctx, &list, client.MatchingFields{providerRefIndex: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing the endpoints of a WebhookProvider failed", "provider", o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// readProvider reads a WebhookProvider from the cache.
func (l *Loader) readProvider(ctx context.Context, name string) (*hookv1.WebhookProviderSpec, error) {
	var p hookv1.WebhookProvider
	if err := l.Client.Get(ctx, types.NamespacedName{Name: name}, &p); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("WebhookProvider %s not found", name)
		}
		return nil, fmt.Errorf("reading WebhookProvider %s: %w", name, err)
	}
	return &p.Spec, nil
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
	return Builder{Registry: l.Registry, MaxBodyBytes: l.MaxBodyBytes, BodyCap: l.BodyCap, Now: l.Now, Provider: l.readProvider}
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
	return CompileWith(ep, nil)
}

// CompileWith is Compile with the provider table entry that the endpoint's
// spec.providerRef resolved to (a WebhookProvider's,
// WebhookProviderSpec.ProviderInfo); nil for an endpoint with
// spec.provider, whose entry is the built-in table's.
func CompileWith(ep *hookv1.WebhookEndpoint, ref *hookv1.ProviderInfo) (*registry.Endpoint, error) {
	s := &ep.Spec
	info, infoErr := endpointProvider(s, ref)
	e := &registry.Endpoint{
		UID:             string(ep.UID),
		Key:             client.ObjectKeyFromObject(ep),
		Generation:      ep.Generation,
		Path:            ep.Status.WebhookPath,
		Provider:        string(info.Name),
		DedupeWindow:    s.Dedupe.GetWindow(),
		MaxBodyBytes:    s.Limits.GetMaxBodyBytes(),
		MaxQueuedEvents: s.Limits.GetMaxQueuedEvents(),
		HandshakeMethod: handshakeMethod(info),
		MaxQueuedBytes:  s.Limits.GetMaxQueuedBytes(),
		Suspended:       s.Suspend,
	}
	if s.Provider.CapturesHandshakeSecret() {
		// The receiver checks the arm's window on each handshake, against
		// its own clock; an unparsable arm arms nothing.
		e.CapturesSecret = true
		if v, ok := ep.Annotations[hookv1.AnnotationArmHandshake]; ok {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				e.ArmedUntil, e.Arm = t, v
			}
		}
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
	e.EventType = info.EventType
	e.History = history.PolicyFor(s.History)
	targets, err := compileTargets(string(ep.UID), s)
	if err != nil {
		return e, err
	}
	e.Targets = targets
	if infoErr != nil {
		return e, infoErr
	}
	v, err := newVerifier(s, info, ep.Status.URL)
	if err != nil {
		return e, err
	}
	e.Verifier = v
	return e, nil
}

// compileTargets is the endpoint's targets with their policies: its only
// target delivers from the endpoint's own queue key (its UID), each of
// several from its own.
func compileTargets(uid string, s *hookv1.WebhookEndpointSpec) ([]*registry.Target, error) {
	specs := s.DeliveryTargets()
	out := make([]*registry.Target, 0, len(specs))
	for _, t := range specs {
		d := s.TargetDelivery(t)
		key := uid
		if len(specs) > 1 || t.Ordering.GetPartitions() > 0 {
			key = queue.TargetKey(uid, t.Name)
		}
		rt := &registry.Target{
			Name:              t.Name,
			Key:               key,
			Service:           t.Service.Name,
			Port:              t.Service.Port,
			Path:              t.Service.GetPath(),
			MaxAttempts:       d.GetMaxAttempts(),
			RetryFor:          d.GetRetryFor(),
			BackoffInitial:    d.Backoff.GetInitial(),
			BackoffMax:        d.Backoff.GetMax(),
			Timeout:           d.GetTimeout(),
			RequestsPerSecond: t.Limits.GetRequestsPerSecond(),
			MaxConcurrency:    t.Limits.GetMaxConcurrency(),
			CloudEvents:       t.Format == hookv1.FormatCloudEvents,
			HighPriority:      t.Priority == hookv1.PriorityHigh || (t.Priority == "" && s.Priority == hookv1.PriorityHigh),
		}
		if t.Filter != "" {
			// The API refuses a filter that does not compile (admission);
			// one that got past it leaves the endpoint unusable, with the
			// reason, rather than delivering what it should not.
			f, err := filter.CompileFilter(t.Filter)
			if err != nil {
				return nil, fmt.Errorf("target %q: filter: %w", t.Name, err)
			}
			rt.Filter = f
		}
		if o := t.Ordering; o != nil {
			rt.Ordered = true
			if o.Key != "" {
				k, err := filter.CompileKey(o.Key)
				if err != nil {
					return nil, fmt.Errorf("target %q: ordering.key: %w", t.Name, err)
				}
				rt.OrderKey, rt.Partitions = k, o.GetPartitions()
			}
		}
		if cb := t.CircuitBreaker; cb.Enabled() {
			ratio, window := cb.GetFailureRatio()
			rt.Breaker = registry.Breaker{Enabled: true, ConsecutiveFailures: cb.GetConsecutiveFailures(),
				FailureRatio: ratio, Window: window, OpenFor: cb.GetOpenFor()}
		}
		out = append(out, rt)
	}
	return out, nil
}

// newVerifier builds the endpoint's verifier; publicURL is status.url,
// which URL-signing providers try before the request's URL.
func newVerifier(s *hookv1.WebhookEndpointSpec, info hookv1.ProviderInfo, publicURL string) (verify.Verifier, error) {
	o := verify.Options{}
	if s.SignedURL != "" {
		u, err := verify.ParseSignedURL(s.SignedURL)
		if err != nil {
			return nil, fmt.Errorf("spec.signedURL: %w", err)
		}
		o.SignedURL = u
	}
	// status.url is the controller's; a bad one is only not tried.
	if u, err := verify.ParseSignedURL(publicURL); publicURL != "" && err == nil {
		o.PublicURL = u
	}
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
	o.EventGrid = verify.EventGridOptionsFromSpec(s.EventGrid)
	// The provider table decides which verifier (scheme) and defaults apply.
	v, err := verify.NewFromInfo(info, o)
	if err != nil {
		if s.ProviderRef != nil {
			return nil, fmt.Errorf("spec.providerRef: WebhookProvider %s: %w", s.ProviderRef.Name, err)
		}
		if s.Provider == hookv1.ProviderGenericHMAC {
			return nil, fmt.Errorf("spec.genericHMAC: %w", err)
		}
		return nil, fmt.Errorf("spec.provider: %w", err)
	}
	return v, nil
}

// handshakeMethod is the provider's non-POST handshake method, from the
// provider table.
func handshakeMethod(info hookv1.ProviderInfo) string {
	if info.Handshake.Method != http.MethodPost {
		return info.Handshake.Method
	}
	return ""
}

// endpointProvider is the table entry an endpoint verifies with: ref, what
// its spec.providerRef resolved to, or the built-in entry of spec.provider.
func endpointProvider(s *hookv1.WebhookEndpointSpec, ref *hookv1.ProviderInfo) (hookv1.ProviderInfo, error) {
	if s.ProviderRef != nil {
		if ref == nil {
			return hookv1.ProviderInfo{Name: hookv1.Provider(s.ProviderRef.Name)}, fmt.Errorf("spec.providerRef: WebhookProvider %s is not resolved", s.ProviderRef.Name)
		}
		return *ref, nil
	}
	info, ok := hookv1.LookupProvider(s.Provider)
	if !ok {
		return hookv1.ProviderInfo{Name: s.Provider}, fmt.Errorf("spec.provider: unknown provider %q", s.Provider)
	}
	return info, nil
}
