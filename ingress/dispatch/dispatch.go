// Package dispatch delivers stored events to their targets. Each endpoint
// has a durable JetStream consumer; every receiver replica pulls from it, so
// replicas share the work and an event in flight on a replica that dies is
// redelivered after the consumer's AckWait.
package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/queue"
)

// Resolver turns an endpoint's target into a base URL (scheme://host:port).
type Resolver interface {
	Resolve(ctx context.Context, namespace string, t registry.Target) (string, error)
}

// Headers the dispatcher adds to every delivery.
const (
	HeaderDeliveryID = "Hookgate-Delivery-Id"
	HeaderAttempt    = "Hookgate-Attempt"
	HeaderEndpoint   = "Hookgate-Endpoint"
	HeaderProvider   = "Hookgate-Provider"
	HeaderEventSeq   = "Hookgate-Event-Sequence"
	HeaderReceivedAt = "Hookgate-Received-At"
)

// maxRetryAfter caps how long a target may ask us to wait.
const maxRetryAfter = time.Hour

// Dispatcher runs one consumer loop per endpoint that is not suspended.
type Dispatcher struct {
	Queue    *queue.Queue
	Registry *registry.Registry
	Resolver Resolver
	Client   *http.Client
	Log      logr.Logger
	// Concurrency is how many deliveries run at once per endpoint.
	Concurrency int
	Metrics     *Metrics

	mu      sync.Mutex
	runners map[string]*runner
}

type runner struct {
	// ep is swapped atomically: deliveries read it while sync, holding
	// d.mu, may be waiting for this runner to stop.
	ep     atomic.Pointer[registry.Endpoint]
	cancel context.CancelFunc
	done   chan struct{}
}

// Metrics of deliveries.
type Metrics struct {
	Attempts *prometheus.CounterVec
	Seconds  prometheus.Histogram
}

// NewMetrics registers dispatcher metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookgate_dispatch_attempts_total",
			Help: "Delivery attempts by endpoint and outcome (delivered, retry, deadlettered).",
		}, []string{"endpoint", "outcome"}),
		Seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookgate_dispatch_attempt_seconds",
			Help:    "Duration of one delivery attempt to a target.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
	reg.MustRegister(m.Attempts, m.Seconds)
	return m
}

// Start runs until ctx ends; it is a controller-runtime Runnable.
func (d *Dispatcher) Start(ctx context.Context) error {
	if d.Concurrency <= 0 {
		d.Concurrency = 16
	}
	if d.Client == nil {
		d.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
	}
	d.runners = map[string]*runner{}
	changes := d.Registry.Changes()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		d.sync(ctx)
		select {
		case <-ctx.Done():
			d.stopAll()
			return nil
		case <-changes:
		case <-tick.C:
		}
	}
}

// NeedLeaderElection is false: every replica delivers.
func (d *Dispatcher) NeedLeaderElection() bool { return false }

func (d *Dispatcher) sync(ctx context.Context) {
	want := map[string]*registry.Endpoint{}
	for _, e := range d.Registry.List() {
		if !e.Suspended && e.Path != "" {
			want[e.UID] = e
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for uid, r := range d.runners {
		if e, ok := want[uid]; !ok || e.Timeout != r.ep.Load().Timeout {
			r.cancel()
			<-r.done
			delete(d.runners, uid)
		} else {
			r.ep.Store(e)
		}
	}
	for uid, e := range want {
		if _, ok := d.runners[uid]; ok {
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		r := &runner{cancel: cancel, done: make(chan struct{})}
		r.ep.Store(e)
		d.runners[uid] = r
		go d.run(rctx, r)
	}
}

func (d *Dispatcher) stopAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for uid, r := range d.runners {
		r.cancel()
		<-r.done
		delete(d.runners, uid)
	}
}

// run attaches to the endpoint's consumer, retrying while the queue is down.
func (d *Dispatcher) run(ctx context.Context, r *runner) {
	defer close(r.done)
	log := d.Log.WithValues("endpoint", r.ep.Load().Key.String())
	backoff := time.Second
	for ctx.Err() == nil {
		err := d.consume(ctx, r)
		if ctx.Err() != nil {
			return
		}
		log.Error(err, "Consuming events failed; retrying", "in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (d *Dispatcher) consume(ctx context.Context, r *runner) error {
	ep := r.ep.Load()
	cons, err := d.Queue.JS.CreateOrUpdateConsumer(ctx, queue.EventsStream, jetstream.ConsumerConfig{
		Durable:       queue.ConsumerName(ep.UID),
		Description:   "Deliveries for WebhookEndpoint " + ep.Key.String(),
		FilterSubject: queue.EventsSubject(ep.UID),
		AckPolicy:     jetstream.AckExplicitPolicy,
		// An attempt restarts the ack timer when it starts (InProgress) and
		// takes at most the timeout; a pulled message may also wait up to
		// one timeout for a free slot. After that plus a margin the event
		// is offered again (e.g. to another replica that took over).
		AckWait: 2*ep.Timeout + 30*time.Second,
		// A consumer whose endpoint is gone (deleted while a replica lagged)
		// removes itself; its events, if any, stay in the work queue.
		InactiveThreshold: 24 * time.Hour,
		MaxDeliver:        -1,
		MaxAckPending:     1024,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("ensuring consumer: %w", err)
	}
	sem := make(chan struct{}, d.Concurrency)
	var wg sync.WaitGroup
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.deliver(ctx, r.ep.Load(), msg)
		}()
	}, jetstream.PullMaxMessages(d.Concurrency))
	if err != nil {
		return fmt.Errorf("consuming: %w", err)
	}
	// Consuming also ends on its own, e.g. when the consumer is deleted;
	// returning then lets run recreate it instead of idling until restart.
	select {
	case <-ctx.Done():
	case <-cc.Closed():
	}
	cc.Drain()
	<-cc.Closed()
	wg.Wait()
	if ctx.Err() == nil {
		return errors.New("consumer stopped delivering")
	}
	return nil
}

// attemptError is a failed attempt with a short reason for status.
type attemptError struct {
	reason     string
	msg        string
	retryAfter time.Duration
}

func (e *attemptError) Error() string { return e.reason + ": " + e.msg }

func (d *Dispatcher) deliver(ctx context.Context, ep *registry.Endpoint, msg jetstream.Msg) {
	log := d.Log.WithValues("endpoint", ep.Key.String())
	md, err := msg.Metadata()
	if err != nil {
		log.Error(err, "Reading message metadata failed")
		_ = msg.Nak()
		return
	}
	if ctx.Err() != nil {
		// Stopping (suspend, shutdown): hand the message back unsent. It
		// costs no attempt: attempts are Hookgate's count, not JetStream's.
		_ = msg.Nak()
		return
	}
	// Restart the ack timer: the message may have waited for a slot.
	_ = msg.InProgress()
	seq := md.Sequence.Stream
	failed := 0
	if md.NumDelivered > 1 {
		if failed, err = d.Queue.FailedAttempts(ctx, ep.UID, seq); err != nil {
			log.Error(err, "Reading attempts failed; JetStream will offer the event again")
			_ = msg.NakWithDelay(time.Second)
			return
		}
	}
	attempt := failed + 1
	delivery := msg.Headers().Get(queue.HeaderDelivery)
	log = log.WithValues("delivery", delivery, "seq", seq, "attempt", attempt)

	start := time.Now()
	aerr := d.attempt(ctx, ep, msg, md, attempt)
	if d.Metrics != nil {
		d.Metrics.Seconds.Observe(time.Since(start).Seconds())
	}
	if ctx.Err() != nil && aerr != nil {
		// Cut off by a shutdown or suspension: let JetStream offer it
		// again; this attempt does not count against the target.
		_ = msg.Nak()
		return
	}
	if aerr == nil {
		// The target has the event: confirm that even while shutting down,
		// or it would be delivered again after AckWait.
		ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := msg.DoubleAck(ackCtx); err != nil {
			log.Error(err, "Acknowledging delivered event failed; it may be delivered again")
			return
		}
		d.count(ep, queue.CounterDelivered, "delivered")
		_ = d.Queue.RecordDelivery(ctx, ep.UID, time.Now())
		if failed > 0 {
			_ = d.Queue.ClearAttempts(ctx, ep.UID, seq)
		}
		log.V(1).Info("Delivered")
		return
	}
	_ = d.Queue.RecordFailure(ctx, ep.UID, queue.Failure{Time: time.Now(), Reason: aerr.reason, Message: aerr.msg})
	if attempt >= ep.MaxAttempts {
		if err := d.Queue.DeadLetter(ctx, ep.UID, msg.Data(), msg.Headers(), attempt, aerr.Error()); err != nil {
			// Not stored as a dead letter: keep it in the events stream.
			log.Error(err, "Dead-lettering failed; will retry")
			_ = msg.NakWithDelay(ep.BackoffMax)
			return
		}
		if err := msg.DoubleAck(ctx); err != nil {
			log.Error(err, "Acknowledging dead-lettered event failed")
		}
		d.count(ep, queue.CounterDeadLettered, "deadlettered")
		_ = d.Queue.ClearAttempts(ctx, ep.UID, seq)
		log.Info("Dead-lettered event", "reason", aerr.reason, "error", aerr.msg)
		return
	}
	if err := d.Queue.SetFailedAttempts(ctx, ep.UID, seq, attempt); err != nil {
		// Unrecorded, this attempt would be repeated rather than skipped:
		// at worst one attempt more than maxAttempts, never one fewer.
		log.Error(err, "Recording the failed attempt failed")
	}
	delay := Backoff(attempt, ep.BackoffInitial, ep.BackoffMax, rand.Float64)
	if aerr.retryAfter > 0 {
		delay = min(aerr.retryAfter, maxRetryAfter)
	}
	if err := msg.NakWithDelay(delay); err != nil {
		log.Error(err, "Scheduling retry failed; JetStream will redeliver after AckWait")
	}
	d.count(ep, queue.CounterRetries, "retry")
	log.Info("Delivery failed; will retry", "reason", aerr.reason, "error", aerr.msg, "in", delay.String())
}

func (d *Dispatcher) count(ep *registry.Endpoint, counter, outcome string) {
	if err := d.Queue.Incr(ep.UID, counter, 1); err != nil {
		d.Log.V(1).Info("Counting delivery failed", "error", err.Error())
	}
	if d.Metrics != nil {
		d.Metrics.Attempts.WithLabelValues(ep.Key.String(), outcome).Inc()
	}
}

func (d *Dispatcher) attempt(ctx context.Context, ep *registry.Endpoint, msg jetstream.Msg, md *jetstream.MsgMetadata, attempt int) *attemptError {
	base, err := d.Resolver.Resolve(ctx, ep.Key.Namespace, ep.Target)
	if err != nil {
		return &attemptError{reason: "TargetUnresolved", msg: err.Error()}
	}
	actx, cancel := context.WithTimeout(ctx, ep.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, base+ep.Target.Path, bytes.NewReader(msg.Data()))
	if err != nil {
		return &attemptError{reason: "BadTarget", msg: err.Error()}
	}
	h := msg.Headers()
	for k, vs := range h {
		if orig, ok := strings.CutPrefix(k, queue.HeaderOrigPrefix); ok {
			for _, v := range vs {
				req.Header.Add(orig, v)
			}
		}
	}
	req.Header.Set(HeaderDeliveryID, h.Get(queue.HeaderDelivery))
	req.Header.Set(HeaderEndpoint, ep.Key.String())
	req.Header.Set(HeaderProvider, h.Get(queue.HeaderProvider))
	req.Header.Set(HeaderReceivedAt, h.Get(queue.HeaderReceivedAt))
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	req.Header.Set(HeaderEventSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	resp, err := d.Client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &attemptError{reason: "Timeout", msg: fmt.Sprintf("no response within %s", ep.Timeout)}
		}
		return &attemptError{reason: "ConnectionFailed", msg: err.Error()}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &attemptError{
		reason:     "HTTP" + strconv.Itoa(resp.StatusCode),
		msg:        fmt.Sprintf("target answered %s", resp.Status),
		retryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
}

// Backoff is the delay after the given failed attempt (1-based): full
// jitter over an exponential ceiling, initial*2^(attempt-1), capped at max.
// rnd returns a value in [0,1).
func Backoff(attempt int, initial, max time.Duration, rnd func() float64) time.Duration {
	ceil := initial
	for i := 1; i < attempt && ceil < max; i++ {
		ceil *= 2
	}
	if ceil > max {
		ceil = max
	}
	// Never retry immediately: at least half the ceiling.
	return ceil/2 + time.Duration(rnd()*float64(ceil/2))
}

// ParseRetryAfter reads a Retry-After header (seconds or HTTP date).
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int(maxRetryAfter/time.Second))) * time.Second
	} else if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-") {
		return maxRetryAfter
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}
