package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/queue"
)

// UsageSource is where the quota reads what endpoints have stored.
type UsageSource interface {
	QueuedEvents(ctx context.Context) (map[string]uint64, error)
	Counter(ctx context.Context, uid, name string) (int64, error)
}

// Quota keeps one endpoint from filling the store for all. It refuses an
// endpoint's new events (503 with Retry-After, so the provider retries once
// the target has drained some) while its waiting events or bytes are at its
// quota; other endpoints are unaffected.
//
// What is stored is read from JetStream every Interval, shared by all
// replicas: the exact count of each endpoint's stored events, and the
// queuedBytes counter. Between reads each replica adds what it stored
// itself, so several replicas may overshoot by what the others stored in
// one interval. The byte figure is the counter capped at events × the
// endpoint's body limit, so a lost decrement cannot hold an endpoint over
// its quota once its queue drains. The server's per-endpoint ceiling
// (queue.Options.MaxEventsPerEndpoint) is exact.
type Quota struct {
	Source UsageSource
	// Interval between reads. Defaults to 1s.
	Interval time.Duration
	// MaxEventsCeiling and MaxBytesCeiling cap what an endpoint's spec may
	// ask for: the platform's limit (0: none).
	MaxEventsCeiling, MaxBytesCeiling int64
	Log                               logr.Logger

	mu     sync.Mutex
	events map[string]uint64
	bytes  map[string]int64
	local  map[string]usage
}

type usage struct {
	events uint64
	bytes  int64
}

// NeedLeaderElection is false: every replica checks its own requests.
func (q *Quota) NeedLeaderElection() bool { return false }

// Start refreshes the usage until ctx ends.
func (q *Quota) Start(ctx context.Context) error {
	iv := q.Interval
	if iv <= 0 {
		iv = time.Second
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		if err := q.Refresh(ctx); err != nil && ctx.Err() == nil {
			// Keep the last known usage: an outage of the queue shows
			// as 503 QueueUnavailable on the store itself.
			q.Log.V(1).Info("Reading storage usage failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Refresh reads the stored usage of every endpoint.
func (q *Quota) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	events, err := q.Source.QueuedEvents(ctx)
	if err != nil {
		return err
	}
	bytes := make(map[string]int64, len(events))
	for uid, n := range events {
		if n == 0 {
			continue
		}
		b, err := q.Source.Counter(ctx, uid, queue.CounterQueuedBytes)
		if err != nil {
			return err
		}
		bytes[uid] = b
	}
	q.mu.Lock()
	q.events, q.bytes, q.local = events, bytes, map[string]usage{}
	q.mu.Unlock()
	return nil
}

func (q *Quota) limits(ep *registry.Endpoint) (events, bytes int64) {
	events, bytes = ep.MaxQueuedEvents, ep.MaxQueuedBytes
	if q.MaxEventsCeiling > 0 && (events <= 0 || events > q.MaxEventsCeiling) {
		events = q.MaxEventsCeiling
	}
	if q.MaxBytesCeiling > 0 && (bytes <= 0 || bytes > q.MaxBytesCeiling) {
		bytes = q.MaxBytesCeiling
	}
	return events, bytes
}

// Check returns why an event of n bytes must be refused, or "".
func (q *Quota) Check(ep *registry.Endpoint, n int) string {
	if q == nil {
		return ""
	}
	maxEvents, maxBytes := q.limits(ep)
	q.mu.Lock()
	ev := q.events[ep.UID] + q.local[ep.UID].events
	b := q.bytes[ep.UID]
	if limit := int64(q.events[ep.UID]) * ep.MaxBodyBytes; ep.MaxBodyBytes > 0 && b > limit {
		b = limit
	}
	b = max(b, 0) + q.local[ep.UID].bytes
	q.mu.Unlock()
	switch {
	case maxEvents > 0 && int64(ev) >= maxEvents:
		return fmt.Sprintf("%d events waiting for delivery, quota %d", ev, maxEvents)
	case maxBytes > 0 && b+int64(n) > maxBytes:
		return fmt.Sprintf("%d bytes waiting for delivery, quota %d", b, maxBytes)
	}
	return ""
}

// Stored counts an event this replica stored since the last refresh.
func (q *Quota) Stored(uid string, n int) {
	if q == nil {
		return
	}
	q.mu.Lock()
	if q.local == nil {
		q.local = map[string]usage{}
	}
	u := q.local[uid]
	u.events++
	u.bytes += int64(n)
	q.local[uid] = u
	q.mu.Unlock()
}
