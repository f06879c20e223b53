// Package dispatch delivers stored events to their targets. Each endpoint
// has a durable JetStream consumer; every receiver replica pulls from it, so
// replicas share the work and an event in flight on a replica that dies is
// redelivered after the consumer's AckWait.
//
// Only endpoints with stored events cost anything: a scan of the events
// stream's subjects (one JetStream call every ScanInterval, whatever the
// number of endpoints) starts a consumer loop for an endpoint that has
// events and none, and a loop that has seen nothing for IdleAfter, with
// nothing of its endpoint stored, stops. The server removes a durable
// consumer nobody pulls from after consumerInactive. Ten thousand idle
// endpoints therefore hold no goroutines, no pulls and no consumers.
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
	// ScanInterval is how often the events stream is scanned for endpoints
	// with events and no consumer loop. Defaults to 500ms.
	ScanInterval time.Duration
	// IdleAfter is how long a consumer loop that receives nothing, with
	// nothing of its endpoint stored, runs on. Defaults to 30s.
	IdleAfter time.Duration

	client  *http.Client
	mu      sync.Mutex
	runners map[string]*runner
	// queued is the last scan: stored events per endpoint UID.
	queued atomic.Pointer[map[string]uint64]
	// recorded is when each endpoint's last delivery was last written
	// (*atomic.Int64, Unix nanoseconds).
	recorded sync.Map
}

type runner struct {
	// ep is swapped atomically: deliveries read it while sync, holding
	// d.mu, may be waiting for this runner to stop.
	ep     atomic.Pointer[registry.Endpoint]
	cancel context.CancelFunc
	done   chan struct{}
	// last is when the loop last received an event (Unix nanoseconds);
	// inflight is how many deliveries it runs.
	last     atomic.Int64
	inflight atomic.Int64
}

// consumerInactive is when the server removes a durable consumer nobody
// pulls from: well after IdleAfter, so a loop restarted by the next scan
// finds it; an event whose consumer was removed is older than this, which
// is how deliver knows to look up its attempts (see deliver).
const consumerInactive = 10 * time.Minute

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
	if d.ScanInterval <= 0 {
		d.ScanInterval = 500 * time.Millisecond
	}
	if d.IdleAfter <= 0 {
		d.IdleAfter = 30 * time.Second
	}
	d.client = withoutRedirects(d.Client)
	d.mu.Lock()
	d.runners = map[string]*runner{}
	d.mu.Unlock()
	changes := d.Registry.Changes()
	scan := time.NewTicker(d.ScanInterval)
	defer scan.Stop()
	resync := time.NewTicker(30 * time.Second)
	defer resync.Stop()
	d.scan(ctx)
	d.sync(ctx)
	for {
		select {
		case <-ctx.Done():
			d.stopAll()
			return nil
		case <-changes:
			d.sync(ctx)
		case <-resync.C:
			d.sync(ctx)
		case <-scan.C:
			d.scan(ctx)
			d.wake(ctx)
		}
	}
}

// wake starts a consumer loop for every endpoint the last scan found with
// events and none running: the cost of a scan is that of the endpoints
// with events, not of all endpoints.
func (d *Dispatcher) wake(ctx context.Context) {
	m := d.queued.Load()
	if m == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for uid, n := range *m {
		if n == 0 {
			continue
		}
		if r, ok := d.runners[uid]; ok {
			select {
			case <-r.done:
				delete(d.runners, uid)
			default:
				continue
			}
		}
		if e, ok := d.Registry.ByUID(uid); ok && !e.Suspended && e.Path != "" {
			d.startLocked(ctx, e)
		}
	}
}

// scan records how many events each endpoint has stored. A failed scan
// keeps the previous one: loops that run keep running.
func (d *Dispatcher) scan(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := d.Queue.QueuedEvents(sctx)
	if err != nil {
		if ctx.Err() == nil {
			d.Log.V(1).Info("Scanning the events stream failed", "error", err.Error())
		}
		return
	}
	d.queued.Store(&m)
}

// stored is how many events of uid the last scan found; unknown (no scan
// yet) counts as some.
func (d *Dispatcher) stored(uid string) uint64 {
	m := d.queued.Load()
	if m == nil {
		return 1
	}
	return (*m)[uid]
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
		select {
		case <-r.done: // stopped idle
			delete(d.runners, uid)
			continue
		default:
		}
		if e, ok := want[uid]; !ok || e.Timeout != r.ep.Load().Timeout {
			r.cancel()
			<-r.done
			delete(d.runners, uid)
		} else {
			r.ep.Store(e)
		}
	}
	for uid, e := range want {
		if _, ok := d.runners[uid]; ok || d.stored(uid) == 0 {
			continue
		}
		d.startLocked(ctx, e)
	}
}

func (d *Dispatcher) startLocked(ctx context.Context, e *registry.Endpoint) {
	rctx, cancel := context.WithCancel(ctx)
	r := &runner{cancel: cancel, done: make(chan struct{})}
	r.ep.Store(e)
	d.runners[e.UID] = r
	go d.run(rctx, r)
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
	log := d.Log.WithValues("endpoint", r.ep.Load().Name())
	backoff := time.Second
	for ctx.Err() == nil {
		err := d.consume(ctx, r)
		if ctx.Err() != nil || errors.Is(err, errIdle) {
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
	r.last.Store(time.Now().UnixNano())
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		pulled := time.Now()
		r.last.Store(pulled.UnixNano())
		r.inflight.Add(1)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; r.inflight.Add(-1); wg.Done() }()
			d.deliver(ctx, r.ep.Load(), msg, pulled)
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
	idle := time.NewTicker(d.IdleAfter / 4)
	defer idle.Stop()
	var result error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-cc.Closed():
			result = errors.New("consumer stopped delivering")
			break wait
		case <-idle.C:
			if r.inflight.Load() == 0 && time.Since(time.Unix(0, r.last.Load())) > d.IdleAfter && d.stored(ep.UID) == 0 {
				result = errIdle
				break wait
			}
		}
	}
	cc.Drain()
	<-cc.Closed()
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return result
}

// errIdle ends a consumer loop that has nothing to deliver.
var errIdle = errors.New("idle")

// consumerConfig is the durable consumer of one endpoint's events.
func consumerConfig(ep *registry.Endpoint) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       queue.ConsumerName(ep.UID),
		Description:   "Deliveries for WebhookEndpoint " + ep.Name(),
		FilterSubject: queue.EventsSubject(ep.UID),
		AckPolicy:     jetstream.AckExplicitPolicy,
		// An attempt restarts the ack timer when it starts (InProgress) and
		// takes at most the timeout; a pulled message may also wait up to
		// one timeout for a free slot. After that plus a margin the event
		// is offered again (e.g. to another replica that took over).
		AckWait: 2*ep.Timeout + 30*time.Second,
		// Nobody pulls from the consumer of an idle endpoint (or of one
		// deleted while a replica lagged): the server removes it; events,
		// if any, stay in the work queue for the next one.
		InactiveThreshold: consumerInactive,
		MaxDeliver:        -1,
		MaxAckPending:     1024,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
	}
}
