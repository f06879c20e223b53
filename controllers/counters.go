package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

// CounterWatcher turns counter increments in JetStream into reconciles, at
// most one per endpoint per Interval: a busy endpoint gets its status
// refreshed every Interval, not once per webhook. Storing an event counts
// its bytes (queuedBytes) and finishing one writes its tally, so every
// change of status.deliveries is signalled. Signals published while the
// watcher's connection was away are lost: after it reconnects, every
// endpoint is marked once, which is what makes the controller's periodic
// resync a rare safety net rather than the way status catches up.
type CounterWatcher struct {
	Conn     func(ctx context.Context) (*nats.Conn, error)
	Client   client.Reader
	Interval time.Duration
	Out      chan event.GenericEvent

	mu    sync.Mutex
	dirty map[string]struct{}
}

// Start subscribes and flushes until ctx ends. It needs leader election:
// only the leader reconciles.
func (w *CounterWatcher) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("counter-watcher")
	if w.Interval <= 0 {
		w.Interval = 2 * time.Second
	}
	w.dirty = map[string]struct{}{}
	var subs []*nats.Subscription
	mark := func(m *nats.Msg) {
		if uid, ok := queue.UIDFromCounterSubject(m.Subject); ok {
			w.mu.Lock()
			w.dirty[uid] = struct{}{}
			w.mu.Unlock()
		}
	}
	tick := time.NewTicker(w.Interval)
	defer tick.Stop()
	var nc *nats.Conn
	var reconnects uint64
	for {
		if subs == nil {
			var err error
			nc, err = w.Conn(ctx)
			if err == nil {
				reconnects = nc.Stats().Reconnects
			}
			for _, subject := range queue.StatusSubjects {
				if err != nil {
					break
				}
				var sub *nats.Subscription
				if sub, err = nc.Subscribe(subject, mark); err == nil {
					subs = append(subs, sub)
				}
			}
			if err != nil {
				for _, sub := range subs {
					_ = sub.Unsubscribe()
				}
				subs = nil
				log.V(1).Info("Subscribing to counters failed; retrying", "error", err.Error())
			}
		}
		select {
		case <-ctx.Done():
			for _, sub := range subs {
				_ = sub.Unsubscribe()
			}
			return nil
		case <-tick.C:
			if subs != nil {
				if n := nc.Stats().Reconnects; n != reconnects {
					reconnects = n
					log.V(1).Info("Reconnected to NATS; refreshing every endpoint's counters")
					w.markAll(ctx)
				}
			}
			w.flush(ctx)
		}
	}
}

// markAll marks every endpoint, for a flush to refresh.
func (w *CounterWatcher) markAll(ctx context.Context) {
	var list hookv1.WebhookEndpointList
	if err := w.Client.List(ctx, &list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing endpoints to refresh their counters failed")
		return
	}
	w.mu.Lock()
	for i := range list.Items {
		w.dirty[string(list.Items[i].UID)] = struct{}{}
	}
	w.mu.Unlock()
}

func (w *CounterWatcher) flush(ctx context.Context) {
	w.mu.Lock()
	uids := w.dirty
	w.dirty = map[string]struct{}{}
	w.mu.Unlock()
	for uid := range uids {
		var list hookv1.WebhookEndpointList
		if err := w.Client.List(ctx, &list, client.MatchingFields{uidIndex: uid}); err != nil || len(list.Items) == 0 {
			continue
		}
		select {
		case w.Out <- event.GenericEvent{Object: &list.Items[0]}:
		case <-ctx.Done():
			return
		}
	}
}
