package endpoints

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/nats-io/nats.go/jetstream"
	ctrl "sigs.k8s.io/controller-runtime"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

// NATSLoader keeps an edge receiver's registry in step with the edge
// registry bucket (queue.EdgeRegistryBucket) that the manager of the
// private cluster writes, for a receiver that cannot reach that cluster's
// Kubernetes API. Each entry is an endpoint and its key mirror's keys; the
// registry entry is built from them by the same Builder the Kubernetes
// loader uses.
//
// While the bucket cannot be reached (the leaf link is down) the registry
// keeps what it last read: requests are still routed and verified, and
// answered 503 by the store, which cannot be reached either.
type NATSLoader struct {
	Builder
	// Open opens the bucket. It is retried until it succeeds: the leaf
	// link may be down, or the manager not yet have made the bucket.
	Open func(ctx context.Context) (*queue.EdgeRegistry, error)
	// CheckInterval is how often the watch is compared with the bucket's
	// last revision; a watch behind on two checks in a row is restarted
	// from where it was. Defaults to 5s.
	CheckInterval time.Duration
	Log           logr.Logger

	once   sync.Once
	loaded chan struct{}
}

func (l *NATSLoader) ch() chan struct{} {
	l.once.Do(func() { l.loaded = make(chan struct{}) })
	return l.loaded
}

// NeedLeaderElection is false: every replica has its own registry.
func (l *NATSLoader) NeedLeaderElection() bool { return false }

// WaitLoaded blocks until the registry holds every endpoint the bucket
// held when the loader started, or ctx ends: the same contract as
// Warmup.WaitLoaded, for the HTTP server to wait on.
func (l *NATSLoader) WaitLoaded(ctx context.Context) bool {
	select {
	case <-l.ch():
		return true
	case <-ctx.Done():
		return false
	}
}

// Loaded reports whether the initial load is done (a readiness check).
func (l *NATSLoader) Loaded() bool {
	select {
	case <-l.ch():
		return true
	default:
		return false
	}
}

// Start watches the bucket until ctx ends.
func (l *NATSLoader) Start(ctx context.Context) error {
	ctx = ctrl.LoggerInto(ctx, l.Log)
	l.Log.Info("Waiting for the edge registry bucket (the manager makes it with --edge-registry)", "bucket", queue.EdgeRegistryBucket)
	reg, err := queue.WaitForLayout(ctx, l.Open)
	if err != nil {
		return nil // ctx ended
	}
	var last uint64
	for {
		err := l.watch(ctx, reg, &last)
		if ctx.Err() != nil {
			return nil
		}
		l.Log.Info("Watching the edge registry again", "reason", err.Error(), "revision", last)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

var errWatchBehind = errors.New("the watch fell behind the bucket")

// watch applies the bucket's entries from revision last+1 (all of them
// when last is 0) until the watch fails or falls behind.
func (l *NATSLoader) watch(ctx context.Context, reg *queue.EdgeRegistry, last *uint64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var opts []jetstream.WatchOpt
	if *last > 0 {
		opts = append(opts, jetstream.ResumeFromRevision(*last+1))
	}
	w, err := reg.KV.WatchAll(wctx, opts...)
	if err != nil {
		return fmt.Errorf("watching bucket %s: %w", queue.EdgeRegistryBucket, err)
	}
	defer func() { _ = w.Stop() }()
	every := l.CheckInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var behind bool
	// loadedAt is the bucket's last revision when the watch reported its
	// initial entries applied: the registry is loaded once it gets there.
	var loadedAt uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("the watch ended")
			}
			if e == nil {
				// The watch says every entry that existed when it began is
				// applied. Its count can come from a replica that has not
				// seen the newest writes, so the bucket's last revision,
				// read from its leader, must have been reached too.
				if !l.Loaded() {
					loadedAt = l.bucketRevision(ctx, reg)
					l.markLoadedAt(*last, loadedAt)
				}
				continue
			}
			l.apply(ctx, e)
			*last = e.Revision()
			if !l.Loaded() && loadedAt > 0 {
				l.markLoadedAt(*last, loadedAt)
			}
		case <-tick.C:
			// Ordered consumers recover from most losses on their own; one
			// that stays behind the bucket (e.g. its consumer vanished
			// while the link was down) is replaced.
			sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
			st, err := reg.KV.Status(sctx)
			scancel()
			if err != nil {
				behind = false // unreachable: nothing to compare with
				continue
			}
			bs, ok := st.(*jetstream.KeyValueBucketStatus)
			if !ok {
				continue
			}
			if bs.StreamInfo().State.LastSeq > *last {
				if behind {
					return errWatchBehind
				}
				behind = true
			} else {
				behind = false
			}
		}
	}
}

// bucketRevision is the bucket's last revision, read from its stream
// leader; 0 when it cannot be read (then the watch's own word is taken).
func (l *NATSLoader) bucketRevision(ctx context.Context, reg *queue.EdgeRegistry) uint64 {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st, err := reg.KV.Status(sctx)
	if err != nil {
		return 0
	}
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		return bs.StreamInfo().State.LastSeq
	}
	return 0
}

// markLoadedAt reports the registry loaded once the entries applied reach
// the bucket's revision at (0: unknown).
func (l *NATSLoader) markLoadedAt(applied, at uint64) {
	if applied < at {
		return
	}
	l.Log.Info("Edge registry loaded", "endpoints", len(l.Registry.List()))
	close(l.ch())
}

func (l *NATSLoader) apply(ctx context.Context, e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		if old, ok := l.Registry.ByUID(e.Key()); ok {
			l.Registry.Delete(old.Key)
		}
		return
	}
	entry, err := queue.DecodeRegistryEntry(e.Value())
	if err != nil {
		l.Log.Error(err, "Ignoring edge registry entry", "uid", e.Key(), "revision", e.Revision())
		return
	}
	// The manager resolved spec.providerRef into the entry.
	b := l.Builder
	b.Provider = func(_ context.Context, name string) (*hookv1.WebhookProviderSpec, error) {
		if entry.Provider == nil {
			return nil, fmt.Errorf("WebhookProvider %s not found (the edge registry entry carries none)", name)
		}
		return entry.Provider, nil
	}
	b.Apply(ctx, entry.Endpoint, func(context.Context) (map[string][]byte, bool, error) {
		return entry.Keys, entry.Keys != nil, nil
	})
}
