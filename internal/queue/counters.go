package queue

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// counterFlushInterval is how long increments are summed before they are
// published: one publish per counter and interval, not one per request.
const counterFlushInterval = 100 * time.Millisecond

// counterBatch sums counter increments in memory and publishes each sum as
// one Nats-Incr with its own Nats-Msg-Id, waiting for every ack. What was
// not acknowledged is published again with the same id and sum, so a lost
// publish (a full buffer, a reconnect, a timeout) is neither dropped nor,
// if the server did apply it, counted twice: the stream's duplicate window
// drops the repeat. Only a crash loses the increments of its last
// interval (documented in docs/architecture.md).
type counterBatch struct {
	js jetstream.JetStream

	mu      sync.Mutex
	pending map[string]int64
	retry   []counterIncr
	started bool
	stop    chan struct{}
	done    chan struct{}
}

func (b *counterBatch) add(subject string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[string]int64{}
	}
	b.pending[subject] += n
	if !b.started {
		b.started = true
		b.stop, b.done = make(chan struct{}), make(chan struct{})
		go b.loop()
	}
}

func (b *counterBatch) loop() {
	defer close(b.done)
	t := time.NewTicker(counterFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = b.flush(ctx)
			cancel()
		}
	}
}

// counterIncr is one published sum, kept with its id until acknowledged.
type counterIncr struct {
	subject, id string
	n           int64
}

// flush publishes the unacknowledged sums again, then every pending sum,
// and waits for the acks.
func (b *counterBatch) flush(ctx context.Context) error {
	b.mu.Lock()
	batch := b.retry
	b.retry = nil
	for subj, n := range b.pending {
		if n != 0 {
			batch = append(batch, counterIncr{subject: subj, id: nuid.Next(), n: n})
		}
	}
	b.pending = nil
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	futures := make([]jetstream.PubAckFuture, len(batch))
	var failed []counterIncr
	for i, c := range batch {
		msg := &nats.Msg{Subject: c.subject, Header: nats.Header{}}
		msg.Header.Set("Nats-Incr", strconv.FormatInt(c.n, 10))
		f, err := b.js.PublishMsgAsync(msg, jetstream.WithMsgID(c.id))
		if err != nil {
			failed = append(failed, c)
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
		case <-f.Err():
			failed = append(failed, batch[i])
		case <-ctx.Done():
			failed = append(failed, batch[i])
		}
	}
	if len(failed) == 0 {
		return nil
	}
	b.mu.Lock()
	b.retry = append(b.retry, failed...)
	b.mu.Unlock()
	return errors.New("some counter increments were not acknowledged; kept for the next flush")
}

func (b *counterBatch) close(ctx context.Context) error {
	b.mu.Lock()
	started := b.started
	b.mu.Unlock()
	if started {
		close(b.stop)
		<-b.done
	}
	for {
		err := b.flush(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Incr adds n to counter c of an endpoint. Increments are summed and
// published every 100ms; the counter stream's CRDT makes sums from several
// replicas exact. Close (or FlushCounters) publishes what is pending.
func (q *Queue) Incr(uid, c string, n int64) error {
	q.counters.add(CounterSubject(uid, c), n)
	return nil
}

// FlushCounters publishes every pending increment and waits for the acks.
func (q *Queue) FlushCounters(ctx context.Context) error { return q.counters.flush(ctx) }

// Close publishes the pending counter increments (waiting up to ctx) and
// stops the flusher. The connection is the caller's.
func (q *Queue) Close(ctx context.Context) error { return q.counters.close(ctx) }

// CountOnceWindow is how long the counter stream remembers a CountOnce id.
const CountOnceWindow = 15 * time.Minute

// CountOnce adds n to counter c for the event named by id, once: it is
// published synchronously with Nats-Msg-Id "<c>:<uid>:<id>", so a repeat
// (a provider's retry after a receiver died between storing and counting,
// a redelivery after a dispatcher died between delivering and acking)
// inside CountOnceWindow is dropped by the server. counted is false when
// this call was the repeat. Delivered, dead-lettered and replayed are
// counted this way before the ack or delete they stand for, so they equal
// what was delivered even across crashes; received is derived from them
// (see ReadCounters).
func (q *Queue) CountOnce(ctx context.Context, uid, c, id string, n int64) (counted bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, q.opts.PublishTimeout)
	defer cancel()
	// The id makes a repeat harmless, so a publish whose answer was lost
	// (a timeout, a leader change) or that raced a copy of itself ("in
	// process") is simply sent again.
	for pause := 20 * time.Millisecond; ; pause = min(pause*2, 500*time.Millisecond) {
		msg := &nats.Msg{Subject: CounterSubject(uid, c), Header: nats.Header{}}
		msg.Header.Set("Nats-Incr", strconv.FormatInt(n, 10))
		actx, acancel := context.WithTimeout(ctx, time.Second)
		ack, err := q.JS.PublishMsg(actx, msg, jetstream.WithMsgID(c+":"+uid+":"+id))
		acancel()
		if err == nil {
			return !ack.Duplicate, nil
		}
		select {
		case <-ctx.Done():
			return false, err
		case <-time.After(pause):
		}
	}
}
