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
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/history"
	"github.com/hookgate/hookgate/internal/queue"
)

// Resolver turns an endpoint's target into a base URL (scheme://host:port).
type Resolver interface {
	Resolve(ctx context.Context, namespace string, t registry.Target) (string, error)
}

// Headers the dispatcher adds to every delivery (their home is the API:
// api/v1alpha1/delivery.go).
const (
	HeaderDeliveryID = hookv1.DeliveryHeaderDeliveryID
	HeaderAttempt    = hookv1.DeliveryHeaderAttempt
	HeaderEndpoint   = hookv1.DeliveryHeaderEndpoint
	HeaderProvider   = hookv1.DeliveryHeaderProvider
	HeaderEventSeq   = hookv1.DeliveryHeaderEventSeq
	HeaderReceivedAt = hookv1.DeliveryHeaderReceivedAt
)

// Dispatcher runs one consumer loop per endpoint that is not suspended.
// AttemptRecorder records delivery attempts in an endpoint's history.
type AttemptRecorder interface {
	Attempt(uid string, p *history.Policy, a *eventsv1.Attempt)
}

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
	// Slots is how many attempts run at once on this replica, all
	// endpoints together; high-priority ones get free slots first. 0: no
	// bound (and no priorities).
	Slots   int
	Metrics *Metrics
	// ScanInterval is how often the events stream is scanned for endpoints
	// with events and no consumer loop. Defaults to 500ms.
	ScanInterval time.Duration
	// IdleAfter is how long a consumer loop that receives nothing, with
	// nothing of its endpoint stored, runs on. Defaults to 30s.
	IdleAfter time.Duration
	// ID names this receiver replica among the others (limits shared
	// between replicas, the circuit's prober). Defaults to a random one.
	ID string
	// Members is the live replicas a target's limits are split between;
	// nil: Start joins them (Queue's members bucket).
	Members *queue.Members
	// History records every attempt (internal/history.Recorder); nil
	// records none.
	History AttemptRecorder

	client  *http.Client
	sched   *scheduler
	mu      sync.Mutex
	runners map[string]*runner
	// guards is each target's protection on this replica, by queue key
	// (*guard); states is each target's shared state (*sharedState).
	guards sync.Map
	states sync.Map
	// queued is the last scan: stored events per endpoint UID.
	queued atomic.Pointer[map[string]uint64]
	// recorded is when each endpoint's last delivery was last written
	// (*atomic.Int64, Unix nanoseconds).
	recorded sync.Map
}

// unit is what a consumer loop delivers: the events of queue key key, of
// endpoint ep, to target t, or, with t nil, copied to each of ep's targets
// (the endpoint's own queue when it fans out).
type unit struct {
	key string
	ep  *registry.Endpoint
	t   *registry.Target
}

// tkey is the queue key of the unit's target as a whole: its circuit and
// limits are the target's, whichever of its partitions an event is in.
func (u *unit) tkey() string {
	base, _, _ := queue.SplitPartition(u.key)
	return base
}

// ordered reports whether the unit's events must go one at a time: an
// ordered target's, or the copy to the targets of an endpoint with one.
func (u *unit) ordered() bool {
	if u.t == nil {
		return u.ep.OrderedCopies()
	}
	return u.t.Ordered
}

// timeout is how long one delivery of the unit takes at most.
func (u *unit) timeout() time.Duration {
	if u.t == nil {
		return fanoutTimeout
	}
	return u.t.Timeout
}

type runner struct {
	// u is swapped atomically: deliveries read it while sync, holding
	// d.mu, may be waiting for this runner to stop.
	u      atomic.Pointer[unit]
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
	// CircuitOpen is 1 while a target's circuit is open; Held counts
	// events handed back unsent (open, probing, throttled).
	CircuitOpen *prometheus.GaugeVec
	Held        *prometheus.CounterVec
	// FilterErrors counts events a target's filter failed on.
	FilterErrors *prometheus.CounterVec
}

// NewMetrics registers dispatcher metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookgate_dispatch_attempts_total",
			Help: "Delivery attempts by endpoint, target and outcome (delivered, retry, deadlettered; routed for the copy to each of several targets).",
		}, []string{"endpoint", "target", "outcome"}),
		Seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookgate_dispatch_attempt_seconds",
			Help:    "Duration of one delivery attempt to a target.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		CircuitOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hookgate_target_circuit_open",
			Help: "1 while the target's circuit is open (its events held, no attempts), as this replica sees it.",
		}, []string{"endpoint", "target"}),
		Held: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookgate_target_held_total",
			Help: "Events handed back unsent because their target's circuit was open or being probed, or the target asked for a pause (429/503).",
		}, []string{"endpoint", "target", "reason"}),
	}
	m.FilterErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookgate_target_filter_errors_total",
		Help: "Events a target's filter failed on (e.g. a field the body lacks); they are not delivered to that target.",
	}, []string{"endpoint", "target"})
	reg.MustRegister(m.Attempts, m.Seconds, m.CircuitOpen, m.Held, m.FilterErrors)
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
	if d.Slots > 0 {
		d.sched = newScheduler(d.Slots)
	}
	if d.ID == "" {
		d.ID = nuid.Next()
	}
	if d.Members == nil {
		m, err := d.Queue.JoinMembers(ctx, d.ID)
		if err != nil {
			// Without it every replica counts itself alone: a shared
			// limit is then per replica until the next start.
			d.Log.Error(err, "Joining the receiver replicas failed; target limits apply per replica")
		}
		d.Members = m
	}
	if err := d.Queue.WatchTargetStates(ctx, d.sawTargetState); err != nil {
		return fmt.Errorf("watching target circuits: %w", err)
	}
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
		case <-d.Members.Changed():
			d.resizeGuards()
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
	for key, n := range *m {
		if n == 0 {
			continue
		}
		if r, ok := d.runners[key]; ok {
			select {
			case <-r.done:
				delete(d.runners, key)
			default:
				continue
			}
		}
		if u, ok := d.unitOf(key); ok {
			d.startLocked(ctx, u)
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

// stored is how many events of queue key key the last scan found; unknown
// (no scan yet) counts as some.
func (d *Dispatcher) stored(key string) uint64 {
	m := d.queued.Load()
	if m == nil {
		return 1
	}
	return (*m)[key]
}

// unitOf is what a consumer loop of queue key key delivers, if its
// endpoint is live: the endpoint's own key (its only target, or the copy
// to each of several), or one target's key.
func (d *Dispatcher) unitOf(key string) (*unit, bool) {
	uid, name := queue.SplitTargetKey(key)
	e, ok := d.Registry.ByUID(uid)
	if !ok || e.Suspended || e.Path == "" || len(e.Targets) == 0 {
		return nil, false
	}
	if name == "" {
		if e.Fanout() {
			return &unit{key: key, ep: e}, true
		}
		return &unit{key: key, ep: e, t: e.Targets[0]}, true
	}
	_, p, part := queue.SplitPartition(key)
	for _, t := range e.Targets {
		// A target's key, one of its partitions, or (after the endpoint
		// went from several targets to one, or the target's ordering
		// changed) what was copied there before.
		if t.Name == name && (!part || p < max(t.Partitions, queue.MaxPartitions)) {
			return &unit{key: key, ep: e, t: t}, true
		}
	}
	return nil, false
}

// NeedLeaderElection is false: every replica delivers.
func (d *Dispatcher) NeedLeaderElection() bool { return false }

func (d *Dispatcher) sync(ctx context.Context) {
	want := map[string]*unit{}
	for _, e := range d.Registry.List() {
		if e.Suspended || e.Path == "" || len(e.Targets) == 0 {
			continue
		}
		keys := []string{e.UID}
		for _, t := range e.Targets {
			// Also a single target's former key, copied to while the
			// endpoint had several, and its partitions.
			tk := queue.TargetKey(e.UID, t.Name)
			keys = append(keys, tk)
			for p := range t.Partitions {
				keys = append(keys, queue.PartitionKey(tk, p))
			}
		}
		for _, k := range keys {
			if u, ok := d.unitOf(k); ok {
				want[k] = u
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for key, r := range d.runners {
		select {
		case <-r.done: // stopped idle
			delete(d.runners, key)
			continue
		default:
		}
		// A new timeout is a new AckWait, and a change between one
		// target and several a new kind of loop: restart those.
		if u, ok := want[key]; !ok || u.timeout() != r.u.Load().timeout() || (u.t == nil) != (r.u.Load().t == nil) || u.ordered() != r.u.Load().ordered() {
			r.cancel()
			<-r.done
			delete(d.runners, key)
		} else {
			r.u.Store(u)
		}
	}
	for key, u := range want {
		if _, ok := d.runners[key]; ok || d.stored(key) == 0 {
			continue
		}
		d.startLocked(ctx, u)
	}
	d.resizeGuards()
}

func (d *Dispatcher) startLocked(ctx context.Context, u *unit) {
	rctx, cancel := context.WithCancel(ctx)
	r := &runner{cancel: cancel, done: make(chan struct{})}
	r.u.Store(u)
	d.runners[u.key] = r
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
	log := d.Log.WithValues("endpoint", r.u.Load().ep.Name(), "queue", r.u.Load().key)
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
	u := r.u.Load()
	cons, err := d.Queue.JS.CreateOrUpdateConsumer(ctx, queue.EventsStream, consumerConfig(u))
	if err != nil {
		return fmt.Errorf("ensuring consumer: %w", err)
	}
	// The target's concurrency, this replica's share of it; a fan-out
	// loop only copies, bounded by the receiver's own concurrency.
	slots, batch := newGate(d.Concurrency), d.Concurrency
	if u.t != nil {
		g := d.guard(u.tkey(), u.t)
		slots, batch = g.slots, d.pullBatch(g)
	}
	var wg sync.WaitGroup
	r.last.Store(time.Now().UnixNano())
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		pulled := time.Now()
		r.last.Store(pulled.UnixNano())
		r.inflight.Add(1)
		if slots.getLimit() == 0 {
			// This replica's share of the target's concurrency is none
			// (fewer slots than replicas): leave it to the others.
			r.inflight.Add(-1)
			_ = msg.NakWithDelay(2 * time.Second)
			return
		}
		if !slots.acquire(ctx) {
			r.inflight.Add(-1)
			_ = msg.Nak()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { slots.release(); r.inflight.Add(-1); wg.Done() }()
			if u := r.u.Load(); u.t == nil {
				d.fanout(ctx, u, msg)
			} else {
				d.deliver(ctx, u, msg, pulled)
			}
		}()
	},
		jetstream.PullMaxMessages(batch),
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
			if r.inflight.Load() == 0 && time.Since(time.Unix(0, r.last.Load())) > d.IdleAfter && d.stored(u.key) == 0 {
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

// maxAckPending is how many of a unit's events may be in flight: one at a
// time where their order must hold (a retry in backoff stays pending, so
// nothing after it is offered meanwhile).
func maxAckPending(u *unit) int {
	if u.ordered() {
		return 1
	}
	return 1024
}

// consumerConfig is the durable consumer of one queue key's events.
func consumerConfig(u *unit) jetstream.ConsumerConfig {
	what := "Deliveries for WebhookEndpoint " + u.ep.Name()
	switch {
	case u.t == nil:
		what = "Copies to the targets of WebhookEndpoint " + u.ep.Name()
	case u.key != u.ep.UID:
		what += " to target " + u.t.Name
	}
	return jetstream.ConsumerConfig{
		Durable:       queue.ConsumerName(u.key),
		Description:   what,
		FilterSubject: queue.EventsSubject(u.key),
		AckPolicy:     jetstream.AckExplicitPolicy,
		// An attempt restarts the ack timer when it starts (InProgress) and
		// takes at most the timeout; a pulled message may also wait up to
		// one timeout for a free slot. After that plus a margin the event
		// is offered again (e.g. to another replica that took over).
		AckWait: 2*u.timeout() + 30*time.Second,
		// Nobody pulls from the consumer of an idle endpoint (or of one
		// deleted while a replica lagged): the server removes it; events,
		// if any, stay in the work queue for the next one.
		InactiveThreshold: consumerInactive,
		MaxDeliver:        -1,
		MaxAckPending:     maxAckPending(u),
		DeliverPolicy:     jetstream.DeliverAllPolicy,
	}
}
