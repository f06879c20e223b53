package endpoints

import (
	"context"
	"fmt"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Warmup fills the registry with every endpoint once, before the receiver
// serves: a cache that has synced is not yet a registry that is loaded (the
// loader's workers fill it afterwards, one reconcile at a time), and a
// request in between would be answered 404, which GitHub and others do not
// retry. It is a controller-runtime Runnable; WaitLoaded is what the HTTP
// server waits for.
type Warmup struct {
	Loader *Loader
	// WaitForCacheSync is the manager cache's.
	WaitForCacheSync func(context.Context) bool

	once   sync.Once
	loaded chan struct{}
}

func (w *Warmup) ch() chan struct{} {
	w.once.Do(func() { w.loaded = make(chan struct{}) })
	return w.loaded
}

// NeedLeaderElection is false: every replica has its own registry.
func (w *Warmup) NeedLeaderElection() bool { return false }

// Start loads every endpoint and Secret from the synced cache, then
// reports loaded. It returns an error (stopping the manager, so the pod
// restarts) only if the cache cannot be listed.
func (w *Warmup) Start(ctx context.Context) error {
	if !w.WaitForCacheSync(ctx) {
		return nil
	}
	if err := w.Loader.LoadAll(ctx); err != nil {
		return err
	}
	close(w.ch())
	<-ctx.Done()
	return nil
}

// WaitLoaded blocks until every endpoint is in the registry, or ctx ends.
func (w *Warmup) WaitLoaded(ctx context.Context) bool {
	select {
	case <-w.ch():
		return true
	case <-ctx.Done():
		return false
	}
}

// LoadAll reconciles every WebhookEndpoint into the registry, now.
func (l *Loader) LoadAll(ctx context.Context) error {
	var list hookv1.WebhookEndpointList
	if err := l.Client.List(ctx, &list); err != nil {
		return fmt.Errorf("listing WebhookEndpoints: %w", err)
	}
	for i := range list.Items {
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}
		if _, err := l.Reconcile(ctx, req); err != nil {
			return fmt.Errorf("loading %s: %w", req.NamespacedName, err)
		}
	}
	return nil
}
