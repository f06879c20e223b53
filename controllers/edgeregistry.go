package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/keyring"
	"github.com/hookgate/hookgate/internal/queue"
)

// EdgeRegistryWriter is the edge registry bucket as the publisher uses it.
type EdgeRegistryWriter interface {
	Put(ctx context.Context, e queue.RegistryEntry) (bool, error)
	Delete(ctx context.Context, uid string) error
	UIDs(ctx context.Context) ([]string, error)
}

// EdgeRegistryPublisher copies, for edge receivers (which cannot reach
// this cluster's API), what a receiver reads from the API into the edge
// registry bucket: every routable WebhookEndpoint (its spec, name, UID,
// generation and status.webhookPath) with the keys of its key mirror. It
// reads the mirror, not the team's Secret: the edge receives exactly what
// an in-cluster receiver would. An endpoint that is deleted, or has no
// path yet, has no entry; a sweep removes entries whose endpoint went
// while the manager was down.
type EdgeRegistryPublisher struct {
	Client client.Client
	// ReceiverNamespace is where the key mirrors are.
	ReceiverNamespace string
	// Open opens the bucket; called again after a failure.
	Open func(ctx context.Context) (EdgeRegistryWriter, error)
	// SweepInterval is how often entries without an endpoint are removed.
	// Defaults to 1m.
	SweepInterval time.Duration

	mu   sync.Mutex
	reg  EdgeRegistryWriter
	uids map[types.NamespacedName]string
}

// SetupWithManager registers the publisher and its sweep; both run on the
// elected leader only.
func (p *EdgeRegistryPublisher) SetupWithManager(mgr ctrl.Manager) error {
	if p.ReceiverNamespace == "" {
		return fmt.Errorf("the edge registry needs the receiver namespace, where the key mirrors are")
	}
	if err := ctrl.NewControllerManagedBy(mgr).
		Named("edge-registry").
		For(&hookv1.WebhookEndpoint{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
			if o.GetNamespace() != p.ReceiverNamespace {
				return nil
			}
			return endpointFromLabels(ctx, o)
		}), builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		// The entry carries the WebhookProvider of spec.providerRef.
		Watches(&hookv1.WebhookProvider{}, handler.EnqueueRequestsFromMapFunc(p.endpointsOfProvider),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(p); err != nil {
		return err
	}
	return mgr.Add(&edgeRegistrySweep{p: p})
}

func (p *EdgeRegistryPublisher) registry(ctx context.Context) (EdgeRegistryWriter, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reg != nil {
		return p.reg, nil
	}
	r, err := p.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening the edge registry: %w", err)
	}
	p.reg = r
	return r, nil
}

func (p *EdgeRegistryPublisher) remember(key types.NamespacedName, uid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.uids == nil {
		p.uids = map[types.NamespacedName]string{}
	}
	if uid == "" {
		delete(p.uids, key)
	} else {
		p.uids[key] = uid
	}
}

func (p *EdgeRegistryPublisher) remembered(key types.NamespacedName) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.uids[key]
}

// Reconcile writes or removes one endpoint's entry.
func (p *EdgeRegistryPublisher) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	reg, err := p.registry(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	var ep hookv1.WebhookEndpoint
	if err := p.Client.Get(ctx, req.NamespacedName, &ep); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		// Gone: its UID is known if it was seen; otherwise the sweep
		// removes its entry.
		if uid := p.remembered(req.NamespacedName); uid != "" {
			if err := reg.Delete(ctx, uid); err != nil {
				return ctrl.Result{}, err
			}
			p.remember(req.NamespacedName, "")
		}
		return ctrl.Result{}, nil
	}
	if !routable(&ep) {
		if err := reg.Delete(ctx, string(ep.UID)); err != nil {
			return ctrl.Result{}, err
		}
		p.remember(req.NamespacedName, "")
		return ctrl.Result{}, nil
	}
	// A re-created endpoint of the same name has a new UID: the old
	// entry goes.
	if old := p.remembered(req.NamespacedName); old != "" && old != string(ep.UID) {
		if err := reg.Delete(ctx, old); err != nil {
			return ctrl.Result{}, err
		}
	}
	keys, err := p.mirrorKeys(ctx, &ep)
	if err != nil {
		return ctrl.Result{}, err
	}
	entry := queue.NewRegistryEntry(&ep, keys)
	if entry.Provider, err = p.providerSpec(ctx, &ep); err != nil {
		return ctrl.Result{}, err
	}
	wrote, err := reg.Put(ctx, entry)
	if err != nil {
		return ctrl.Result{}, err
	}
	p.remember(req.NamespacedName, string(ep.UID))
	if wrote {
		ctrl.LoggerFrom(ctx).V(1).Info("Published endpoint to the edge registry", "uid", ep.UID, "hasKeys", keys != nil)
	}
	return ctrl.Result{}, nil
}

// providerSpec is the spec of the endpoint's WebhookProvider, nil for a
// built-in provider or while it does not exist (the edge then answers 503,
// as an in-cluster receiver would).
func (p *EdgeRegistryPublisher) providerSpec(ctx context.Context, ep *hookv1.WebhookEndpoint) (*hookv1.WebhookProviderSpec, error) {
	ref := ep.Spec.ProviderRef
	if ref == nil {
		return nil, nil
	}
	var wp hookv1.WebhookProvider
	if err := p.Client.Get(ctx, types.NamespacedName{Name: ref.Name}, &wp); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading WebhookProvider %s: %w", ref.Name, err)
	}
	return &wp.Spec, nil
}

// endpointsOfProvider maps a WebhookProvider to the endpoints that use it.
func (p *EdgeRegistryPublisher) endpointsOfProvider(ctx context.Context, o client.Object) []ctrl.Request {
	var list hookv1.WebhookEndpointList
	if err := p.Client.List(ctx, &list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing endpoints failed", "provider", o.GetName())
		return nil
	}
	var reqs []ctrl.Request
	for i := range list.Items {
		if ref := list.Items[i].Spec.ProviderRef; ref != nil && ref.Name == o.GetName() {
			reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// routable: the endpoint has a path and is not being deleted; only those
// are in a receiver's registry.
func routable(ep *hookv1.WebhookEndpoint) bool {
	return ep.DeletionTimestamp.IsZero() && ep.Status.WebhookPath != ""
}

// mirrorKeys is the data of the endpoint's key mirror, nil when it has
// none (yet) or verifies with spec.publicKeys.
func (p *EdgeRegistryPublisher) mirrorKeys(ctx context.Context, ep *hookv1.WebhookEndpoint) (map[string][]byte, error) {
	if ep.Spec.VerifiesWithPublicKeysOnly() || ep.Spec.SecretRef == nil {
		return nil, nil
	}
	var s corev1.Secret
	key := types.NamespacedName{Namespace: p.ReceiverNamespace, Name: keyring.MirrorName(string(ep.UID))}
	if err := p.Client.Get(ctx, key, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading key mirror %s: %w", key, err)
	}
	// The receiver ignores a mirror that is not the endpoint's; so does
	// the edge.
	if s.Labels[hookv1.LabelEndpointUID] != string(ep.UID) {
		return nil, nil
	}
	return s.Data, nil
}

// Sweep removes the entries of endpoints that no longer exist or route.
func (p *EdgeRegistryPublisher) Sweep(ctx context.Context) error {
	reg, err := p.registry(ctx)
	if err != nil {
		return err
	}
	// Entries first: each was written from an endpoint already in the
	// cache, so the list that follows holds it unless it is gone.
	uids, err := reg.UIDs(ctx)
	if err != nil {
		return err
	}
	var list hookv1.WebhookEndpointList
	if err := p.Client.List(ctx, &list); err != nil {
		return fmt.Errorf("listing WebhookEndpoints: %w", err)
	}
	keep := map[string]bool{}
	for i := range list.Items {
		if routable(&list.Items[i]) {
			keep[string(list.Items[i].UID)] = true
		}
	}
	for _, uid := range uids {
		if !keep[uid] {
			if err := reg.Delete(ctx, uid); err != nil {
				return err
			}
		}
	}
	return nil
}

// edgeRegistrySweep runs Sweep at start and every SweepInterval.
type edgeRegistrySweep struct{ p *EdgeRegistryPublisher }

func (s *edgeRegistrySweep) Start(ctx context.Context) error {
	every := s.p.SweepInterval
	if every <= 0 {
		every = time.Minute
	}
	log := ctrl.LoggerFrom(ctx).WithName("edge-registry")
	for {
		if err := s.p.Sweep(ctx); err != nil && ctx.Err() == nil {
			log.Info("Sweeping the edge registry failed; will retry", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}
