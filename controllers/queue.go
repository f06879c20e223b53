package controllers

import (
	"context"
	"sync"

	"github.com/hookgate/hookgate/internal/queue"
)

// QueueReader is what the controller needs from JetStream: the endpoint's
// counters and state, and purging them on delete.
type QueueReader interface {
	ReadCounters(ctx context.Context, uid string) (queue.Counters, error)
	ReadState(ctx context.Context, uid string) (queue.DeliveryState, error)
	Purge(ctx context.Context, uid string) error
	Replay(ctx context.Context, uid string) (int64, error)
	TargetState(ctx context.Context, key string) (queue.TargetState, uint64, error)
}

// LazyQueue opens the JetStream layout on first use and retries on the next
// call after a failure, so the controller starts even while the receiver
// (which hosts the embedded JetStream) is still coming up.
type LazyQueue struct {
	Open func(ctx context.Context) (*queue.Queue, error)

	mu sync.Mutex
	q  *queue.Queue
}

func (l *LazyQueue) get(ctx context.Context) (*queue.Queue, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.q != nil {
		return l.q, nil
	}
	q, err := l.Open(ctx)
	if err != nil {
		return nil, err
	}
	l.q = q
	return q, nil
}

// ReadCounters implements QueueReader.
func (l *LazyQueue) ReadCounters(ctx context.Context, uid string) (queue.Counters, error) {
	q, err := l.get(ctx)
	if err != nil {
		return queue.Counters{}, err
	}
	return q.ReadCounters(ctx, uid)
}

// ReadState implements QueueReader.
func (l *LazyQueue) ReadState(ctx context.Context, uid string) (queue.DeliveryState, error) {
	q, err := l.get(ctx)
	if err != nil {
		return queue.DeliveryState{}, err
	}
	return q.ReadState(ctx, uid)
}

// Purge implements QueueReader.
func (l *LazyQueue) Purge(ctx context.Context, uid string) error {
	q, err := l.get(ctx)
	if err != nil {
		return err
	}
	return q.Purge(ctx, uid)
}

// Replay implements QueueReader.
func (l *LazyQueue) Replay(ctx context.Context, uid string) (int64, error) {
	q, err := l.get(ctx)
	if err != nil {
		return 0, err
	}
	return q.Replay(ctx, uid)
}

// TargetState implements QueueReader.
func (l *LazyQueue) TargetState(ctx context.Context, key string) (queue.TargetState, uint64, error) {
	q, err := l.get(ctx)
	if err != nil {
		return queue.TargetState{}, 0, err
	}
	return q.TargetState(ctx, key)
}

// ReplayMatching moves the chosen dead letters back into their queues (see
// queue.Queue.ReplayMatching): the events API's retry and replay.
func (l *LazyQueue) ReplayMatching(ctx context.Context, keys []string, match func(*queue.DeadLetter) bool, withBodies bool, limit int, dryRun bool) ([]string, error) {
	q, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return q.ReplayMatching(ctx, keys, match, withBodies, limit, dryRun)
}
