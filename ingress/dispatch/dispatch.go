// Package dispatch delivers stored events to their targets. Each endpoint
// has a durable JetStream consumer; every receiver replica pulls from it, so
// replicas share the work and an event in flight on a replica that dies is
// redelivered after the consumer's AckWait.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

// Dispatcher runs one consumer loop per endpoint that is not suspended.
type Dispatcher struct {
	Queue    *queue.Queue
	Registry *registry.Registry
	Resolver Resolver
	// Client sends the deliveries; nil means a pooled default. The
	// dispatcher uses a copy that never follows redirects, whatever
	// Client.CheckRedirect says.
	Client *http.Client
	Log    logr.Logger
	// Concurrency is how many deliveries run at once per endpoint.
	Concurrency int
	Metrics     *Metrics

	client  *http.Client
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
	d.client = withoutRedirects(d.Client)
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
	cons, err := d.Queue.JS.CreateOrUpdateConsumer(ctx, queue.EventsStream, consumerConfig(ep))
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
	},
		jetstream.PullMaxMessages(d.Concurrency),
		// A pull lost while a new replicated consumer elects its leader is
		// noticed after two missed heartbeats: keep that to seconds, not
		// the default half minute, so a new endpoint's first event is not
		// held back.
		jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(2*time.Second))
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

// consumerConfig is the durable consumer of one endpoint's events.
func consumerConfig(ep *registry.Endpoint) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
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
	}
}
