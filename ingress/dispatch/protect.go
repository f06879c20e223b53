package dispatch

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/queue"
)

// Target protection. A target's limits (requests per second, attempts in
// flight) are counted across all receiver replicas by splitting them: each
// live replica (queue.Members) takes an equal share, so together they stay
// within the limit without a shared counter on every delivery; replicas
// share a backlog through one consumer, so each has work for its share.
//
// A target's circuit and its "leave me alone" (429 or 503) are shared
// state in the state bucket (queue.TargetState), which every replica
// watches, and which is changed by compare-and-set: one replica opens the
// circuit for all, and one sends the half-open probe. Failures are counted
// on each replica: the first to see enough opens the circuit.

// gate bounds the deliveries in flight to one target on this replica; its
// limit follows the replica's share of the target's concurrency.
type gate struct {
	mu          sync.Mutex
	limit, used int
	wake        chan struct{}
}

func newGate(limit int) *gate { return &gate{limit: limit, wake: make(chan struct{})} }

// acquire takes a slot, waiting for one until ctx ends (false).
func (g *gate) acquire(ctx context.Context) bool {
	for {
		g.mu.Lock()
		if g.used < g.limit {
			g.used++
			g.mu.Unlock()
			return true
		}
		wake := g.wake
		g.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return false
		}
	}
}

func (g *gate) release() {
	g.mu.Lock()
	g.used--
	g.signalLocked()
	g.mu.Unlock()
}

func (g *gate) setLimit(n int) {
	g.mu.Lock()
	if n != g.limit {
		g.limit = n
		g.signalLocked()
	}
	g.mu.Unlock()
}

func (g *gate) getLimit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit
}

func (g *gate) signalLocked() {
	close(g.wake)
	g.wake = make(chan struct{})
}

// guard is one target's protection on this replica.
type guard struct {
	slots *gate

	mu sync.Mutex
	t  *registry.Target
	// limiter paces attempts at this replica's share of the target's
	// rate; nil: unlimited.
	limiter *rate.Limiter
	// consecutive failures, and the last len(window) outcomes (true: a
	// failure) for the failure ratio.
	consecutive int
	window      []bool
	next, fails int
	// throttles is the 429/503 answers in a row without a Retry-After.
	throttles int
}

// guard returns the protection of queue key key, set to target t's policy.
func (d *Dispatcher) guard(key string, t *registry.Target) *guard {
	v, ok := d.guards.Load(key)
	if !ok {
		v, _ = d.guards.LoadOrStore(key, &guard{slots: newGate(d.Concurrency)})
	}
	g := v.(*guard)
	g.mu.Lock()
	changed := g.t == nil || g.t.RequestsPerSecond != t.RequestsPerSecond || g.t.MaxConcurrency != t.MaxConcurrency || g.t.Breaker.Window != t.Breaker.Window
	g.t = t
	g.mu.Unlock()
	if changed {
		d.resize(g)
	}
	return g
}

// resizeGuards applies the replicas' shares to every target's protection,
// after the live replicas or the policies changed.
func (d *Dispatcher) resizeGuards() {
	d.guards.Range(func(_, v any) bool {
		d.resize(v.(*guard))
		return true
	})
}

func (d *Dispatcher) resize(g *guard) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.t
	slots := d.Concurrency
	if t.MaxConcurrency > 0 {
		slots = min(slots, d.Members.Share(t.MaxConcurrency))
	}
	g.slots.setLimit(slots)
	if t.RequestsPerSecond > 0 {
		r := rate.Limit(d.Members.RateShare(float64(t.RequestsPerSecond)))
		// A burst of one paces attempts evenly: the limit holds over any
		// second, not only on average.
		if g.limiter == nil {
			g.limiter = rate.NewLimiter(r, 1)
		} else {
			g.limiter.SetLimit(r)
		}
	} else {
		g.limiter = nil
	}
	if len(g.window) != t.Breaker.Window {
		g.window, g.next, g.fails = make([]bool, t.Breaker.Window), 0, 0
	}
}

// sharedState is a target's queue.TargetState at revision rev, as watched.
type sharedState struct {
	st  queue.TargetState
	rev uint64
}

// sawTargetState keeps the watched state of every target.
func (d *Dispatcher) sawTargetState(u queue.TargetStateUpdate) {
	if u.Deleted {
		d.states.Delete(u.Key)
	} else {
		d.states.Store(u.Key, &sharedState{st: u.State, rev: u.Rev})
	}
	if d.Metrics != nil {
		uid, name := queue.SplitTargetKey(u.Key)
		ep := uid
		if e, ok := d.Registry.ByUID(uid); ok {
			ep = e.Name()
			if name == "" && len(e.Targets) == 1 {
				name = e.Targets[0].Name
			}
		}
		open := 0.0
		if !u.Deleted && u.State.Circuit == queue.CircuitOpen {
			open = 1
		}
		d.Metrics.CircuitOpen.WithLabelValues(ep, name).Set(open)
	}
}

func (d *Dispatcher) state(key string) (queue.TargetState, uint64) {
	if v, ok := d.states.Load(key); ok {
		ss := v.(*sharedState)
		return ss.st, ss.rev
	}
	return queue.TargetState{}, 0
}

// latestState reads a target's state from the bucket, for a
// compare-and-set that lost against the watched one.
func (d *Dispatcher) latestState(ctx context.Context, key string) (queue.TargetState, uint64, error) {
	st, rev, err := d.Queue.TargetState(ctx, key)
	if err == nil && rev > 0 {
		d.states.Store(key, &sharedState{st: st, rev: rev})
	}
	return st, rev, err
}

// probeWait is how long an event is held while another replica probes the
// target: the probe takes at most the target's timeout.
func probeWait(t *registry.Target) time.Duration { return min(t.Timeout, 5*time.Second) }

// hold hands an event back unsent, for after delay (with up to a second
// of jitter, so that held events do not all return at once). It costs the
// event no attempt.
func (d *Dispatcher) hold(u *unit, msg jetstream.Msg, delay time.Duration, why string) {
	_ = msg.NakWithDelay(delay + time.Duration(rand.Int64N(int64(time.Second))))
	if d.Metrics != nil {
		d.Metrics.Held.WithLabelValues(u.ep.Name(), u.t.Name, why).Inc()
	}
}

// admit decides whether an attempt at msg may go now: not while the
// target's circuit is open or it asked for a pause (held: the event was
// handed back), and, under a rate limit, once it is the event's turn.
// probe: the attempt is the half-open circuit's probe.
func (d *Dispatcher) admit(ctx context.Context, u *unit, msg jetstream.Msg) (probe, held bool) {
	t := u.t
	st, rev := d.state(u.tkey())
	now := time.Now()
	if st.ThrottledUntil.After(now) {
		d.hold(u, msg, st.ThrottledUntil.Sub(now), "throttled")
		return false, true
	}
	if t.Breaker.Enabled && st.Circuit != "" {
		switch {
		case st.Circuit == queue.CircuitOpen && now.Before(st.ProbeAt):
			d.hold(u, msg, st.ProbeAt.Sub(now), "open")
			return false, true
		case st.Circuit == queue.CircuitHalfOpen && now.Sub(st.Since) < 2*t.Timeout+30*time.Second:
			// Another attempt is the probe.
			d.hold(u, msg, probeWait(t), "probing")
			return false, true
		}
		// Open and due for a probe, or a probe whose replica vanished:
		// this attempt is the probe if this replica gets there first.
		next := st
		next.Circuit, next.Prober, next.Since = queue.CircuitHalfOpen, d.ID, now
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		nrev, err := d.Queue.SetTargetState(cctx, u.tkey(), next, rev)
		cancel()
		if err != nil {
			d.hold(u, msg, probeWait(t), "probing")
			return false, true
		}
		d.states.Store(u.tkey(), &sharedState{st: next, rev: nrev})
		probe = true
	}
	g := d.guard(u.tkey(), t)
	g.mu.Lock()
	lim := g.limiter
	g.mu.Unlock()
	if lim != nil {
		if err := lim.Wait(ctx); err != nil {
			// Stopping, or a wait past the context: hand it back unsent.
			d.unprobe(u, probe)
			_ = msg.Nak()
			return false, true
		}
	}
	return probe, false
}

// unprobe gives up a probe that was never sent: the circuit goes back to
// open, due for a probe at once.
func (d *Dispatcher) unprobe(u *unit, probe bool) {
	if !probe {
		return
	}
	st, rev := d.state(u.tkey())
	if st.Circuit != queue.CircuitHalfOpen || st.Prober != d.ID {
		return
	}
	st.Circuit, st.Prober, st.ProbeAt = queue.CircuitOpen, "", time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = d.Queue.SetTargetState(ctx, u.tkey(), st, rev)
}

// blamesTarget reports whether a failed attempt says the target is unwell
// (rather than that it refused this event): those count towards opening
// its circuit.
func blamesTarget(e *attemptError) bool {
	switch {
	case e.status == 0:
		return true // no answer: connection, timeout, unresolved Service
	case e.status == 429 || e.status == 408:
		return true
	default:
		return e.status >= 500
	}
}

// observe feeds an attempt's outcome (aerr nil: delivered) to the target's
// circuit and pause.
func (d *Dispatcher) observe(ctx context.Context, u *unit, aerr *attemptError, probe bool) {
	g := d.guard(u.tkey(), u.t)
	now := time.Now()
	if aerr == nil || !blamesTarget(aerr) {
		// The target answered: it is up, whatever it thought of the event.
		g.mu.Lock()
		g.consecutive, g.throttles = 0, 0
		g.record(false)
		g.mu.Unlock()
		if st, _ := d.state(u.tkey()); st.Circuit != "" || probe {
			d.closeCircuit(ctx, u)
		}
		return
	}
	g.mu.Lock()
	g.consecutive++
	ratio := g.record(true)
	b := u.t.Breaker
	trip := b.Enabled && (g.consecutive >= b.ConsecutiveFailures || (b.FailureRatio > 0 && ratio >= b.FailureRatio))
	var pause time.Duration
	if aerr.status == 429 || aerr.status == 503 {
		pause = aerr.retryAfter
		if pause == 0 {
			// No Retry-After: back off the target itself, 1s doubling
			// per answer in a row, at most 30s.
			pause = min(time.Second<<min(g.throttles, 5), 30*time.Second)
			g.throttles++
		}
		pause = min(pause, maxRetryAfter)
	}
	g.mu.Unlock()
	if pause > 0 {
		d.throttle(ctx, u, now.Add(pause))
	}
	if trip || (probe && b.Enabled) {
		d.openCircuit(ctx, u, aerr)
	}
}

// record adds an outcome to the window and returns the failure ratio over
// a full window (0 until it is full). g.mu is held.
func (g *guard) record(failed bool) float64 {
	n := len(g.window)
	if n == 0 {
		return 0
	}
	if g.window[g.next] {
		g.fails--
	}
	g.window[g.next] = failed
	if failed {
		g.fails++
	}
	g.next = (g.next + 1) % n
	if g.fails < 0 {
		g.fails = 0
	}
	return float64(g.fails) / float64(n)
}

// changeState applies change to the target's shared state with
// compare-and-set, reading the bucket again when the watched state was
// stale; change returns false when there is nothing to write. It reports
// whether this call wrote the change.
func (d *Dispatcher) changeState(ctx context.Context, key string, change func(*queue.TargetState) bool) bool {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	st, rev := d.state(key)
	for try := 0; try < 3; try++ {
		if !change(&st) {
			return false
		}
		nrev, err := d.Queue.SetTargetState(cctx, key, st, rev)
		if err == nil {
			d.states.Store(key, &sharedState{st: st, rev: nrev})
			return true
		}
		if !errors.Is(err, queue.ErrStateChanged) {
			d.Log.V(1).Info("Writing a target's state failed", "queue", key, "error", err.Error())
			return false
		}
		if st, rev, err = d.latestState(cctx, key); err != nil {
			return false
		}
	}
	return false
}

func (d *Dispatcher) openCircuit(ctx context.Context, u *unit, aerr *attemptError) {
	now := time.Now()
	opened := d.changeState(ctx, u.tkey(), func(st *queue.TargetState) bool {
		if st.Circuit == queue.CircuitOpen && st.ProbeAt.After(now) {
			return false // another replica opened it
		}
		st.Circuit, st.Since, st.ProbeAt, st.Prober = queue.CircuitOpen, now, now.Add(u.t.Breaker.OpenFor), ""
		st.Reason, st.Message = aerr.reason, aerr.msg
		return true
	})
	if opened {
		d.Log.Info("Target's circuit opened: holding its events", "endpoint", u.ep.Name(), "target", u.t.Name,
			"reason", aerr.reason, "probeIn", u.t.Breaker.OpenFor.String())
	}
}

func (d *Dispatcher) closeCircuit(ctx context.Context, u *unit) {
	closed := d.changeState(ctx, u.tkey(), func(st *queue.TargetState) bool {
		if st.Circuit == "" {
			return false
		}
		st.Circuit, st.Since, st.ProbeAt, st.Prober = "", time.Now(), time.Time{}, ""
		return true
	})
	if closed {
		d.Log.Info("Target's circuit closed: delivering again", "endpoint", u.ep.Name(), "target", u.t.Name)
	}
}

// throttle pauses every replica's attempts at the target until until,
// unless a pause at least as long (give or take a second) is on already.
func (d *Dispatcher) throttle(ctx context.Context, u *unit, until time.Time) {
	d.changeState(ctx, u.tkey(), func(st *queue.TargetState) bool {
		if st.ThrottledUntil.Add(time.Second).After(until) {
			return false
		}
		st.ThrottledUntil = until
		return true
	})
}

// pullBatch is how many messages a target's consumer loop asks for at
// once: its slots, but under a rate limit no more than two seconds' worth,
// so that a pulled message does not wait out its AckWait for its turn.
func (d *Dispatcher) pullBatch(g *guard) int {
	n := g.slots.getLimit()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.limiter != nil {
		n = min(n, max(1, int(math.Ceil(2*float64(g.limiter.Limit())))))
	}
	return max(1, n)
}
