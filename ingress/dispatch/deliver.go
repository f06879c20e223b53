package dispatch

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/queue"
)

// maxRetryAfter caps how long a target may ask us to wait.
const maxRetryAfter = time.Hour

// slotWait is how long a pulled message may wait for a free delivery slot
// before its ack timer is restarted: far below AckWait, so most messages
// cost no InProgress at all.
const slotWait = time.Second

func (d *Dispatcher) deliver(ctx context.Context, u *unit, msg jetstream.Msg, pulled time.Time) {
	ep, t := u.ep, u.t
	// Loggers are made where something is logged: WithValues encodes its
	// fields at once, and a delivery that succeeds logs nothing by default.
	epLog := func() logr.Logger { return d.Log.WithValues("endpoint", ep.Name(), "target", t.Name) }
	md, err := msg.Metadata()
	if err != nil {
		epLog().Error(err, "Reading message metadata failed")
		_ = msg.Nak()
		return
	}
	if ctx.Err() != nil {
		// Stopping (suspend, shutdown): hand the message back unsent. It
		// costs no attempt: attempts are Hookgate's count, not JetStream's.
		_ = msg.Nak()
		return
	}
	// An event the target's filter does not want is finished here, before
	// it waits for the target.
	// The body, read once: here already when the filter needs it.
	var body []byte
	var berr error
	read := t.Filter != nil
	if read {
		body, berr = d.Queue.EventBody(ctx, msg.Headers(), msg.Data())
		if berr == nil && d.filteredOut(ctx, u, msg, md.Sequence.Stream, body) {
			return
		}
	}
	// An open circuit or a target that asked for a pause holds the event
	// without an attempt; a rate limit waits for its turn.
	probe, held := d.admit(ctx, u, msg)
	if held {
		return
	}
	// Restart the ack timer if the message waited long for a slot.
	if time.Since(pulled) > slotWait {
		_ = msg.InProgress()
	}
	seq := md.Sequence.Stream
	failed := 0
	// Attempts are looked up only for an event that may have had one: one
	// offered before, or one older than a consumer outlives its last pull
	// (its consumer was removed while it waited in backoff, and the new one
	// offers it as new).
	if md.NumDelivered > 1 || time.Since(md.Timestamp) > consumerInactive/2 {
		if failed, err = d.Queue.FailedAttempts(ctx, u.key, seq); err != nil {
			epLog().Error(err, "Reading attempts failed; JetStream will offer the event again")
			d.unprobe(u, probe)
			_ = msg.NakWithDelay(time.Second)
			return
		}
	}
	attempt := failed + 1
	delivery := msg.Headers().Get(queue.HeaderDelivery)
	log := func() logr.Logger {
		return epLog().WithValues("delivery", delivery, "seq", seq, "attempt", attempt)
	}

	// A body stored by reference is read now; one that is gone for good
	// (its object expired) is dead-lettered at once: no attempt can
	// deliver it.
	if !read {
		body, berr = d.Queue.EventBody(ctx, msg.Headers(), msg.Data())
	}
	if berr != nil && !errors.Is(berr, queue.ErrBodyMissing) {
		epLog().Error(berr, "Reading the event's body failed; JetStream will offer the event again")
		d.unprobe(u, probe)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	var aerr *attemptError
	var ans *answer
	if d.History != nil && u.ep.History != nil && !u.ep.History.Disabled {
		ans = &answer{}
	}
	start := time.Now()
	if berr != nil {
		d.unprobe(u, probe)
		aerr = &attemptError{reason: "BodyMissing", msg: "the event's body is no longer stored", cause: berr}
	} else {
		if d.sched != nil && !d.sched.acquire(ctx, t.HighPriority) {
			d.unprobe(u, probe)
			_ = msg.Nak() // stopping
			return
		}
		start = time.Now()
		aerr = d.attempt(ctx, u, msg, md, attempt, body, ans)
		if d.sched != nil {
			d.sched.release()
		}
		if d.Metrics != nil {
			d.Metrics.Seconds.Observe(time.Since(start).Seconds())
		}
		if ctx.Err() != nil && aerr != nil {
			// Cut off by a shutdown or suspension: let JetStream offer it
			// again; this attempt does not count against the target.
			d.unprobe(u, probe)
			_ = msg.Nak()
			return
		}
		d.observe(ctx, u, aerr, probe)
	}
	if aerr == nil {
		// The target has the event: confirm that even while shutting down,
		// or it would be delivered again after AckWait.
		// Counted before the ack, once per stored event: a redelivery
		// after this process died between the two is not counted again.
		// An event that cannot be counted (the tally's leader is being
		// elected for longer than countWait) is not acknowledged either:
		// delivered again later, it is counted then (at-least-once).
		first, counted := d.countOnce(ctx, u, queue.CounterDelivered, seq, "delivered")
		if !counted {
			_ = msg.NakWithDelay(time.Second)
			return
		}
		ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := msg.DoubleAck(ackCtx); err != nil {
			log().Error(err, "Acknowledging delivered event failed; it may be delivered again")
			return
		}
		d.Queue.Acked(u.key, seq)
		if first {
			d.unqueue(u.key, msg)
		}
		_ = d.Queue.ReleaseBody(ctx, msg.Headers())
		d.recordDelivery(ctx, u.key, time.Now())
		d.recordAttempt(u, msg, seq, attempt, start, ans, nil, eventsv1.AttemptDelivered, nil)
		if failed > 0 {
			_ = d.Queue.ClearAttempts(ctx, u.key, seq)
		}
		if d.Log.V(1).Enabled() {
			log().V(1).Info("Delivered")
		}
		return
	}
	if aerr.cause != nil && d.Log.V(1).Enabled() {
		log().V(1).Info("Attempt failed", "reason", aerr.reason, "error", aerr.cause.Error())
	}
	now := time.Now()
	evID := eventID(u.key, msg.Headers(), seq)
	failure := queue.Failure{Time: now, Reason: aerr.reason, Message: aerr.msg, DeliveryID: delivery, EventID: evID, Attempt: attempt}
	delay, last := retryAfterFailure(t, attempt, now.Sub(md.Timestamp), aerr.retryAfter, rand.Float64)
	last = last || berr != nil
	if !last {
		next := now.Add(delay)
		failure.NextAttempt = &next
	}
	_ = d.Queue.RecordFailure(ctx, u.key, failure)
	if last {
		if err := d.Queue.DeadLetter(ctx, u.key, msg.Data(), msg.Headers(), attempt, aerr.Error()); err != nil {
			// Not stored as a dead letter: keep it in the events stream.
			log().Error(err, "Dead-lettering failed; will retry")
			_ = msg.NakWithDelay(t.BackoffMax)
			return
		}
		// Acknowledged even if it could not be counted: offered again, it
		// would be dead-lettered twice.
		first, counted := d.countOnce(ctx, u, queue.CounterDeadLettered, seq, "deadlettered")
		first = first || !counted
		if err := msg.DoubleAck(ctx); err != nil {
			log().Error(err, "Acknowledging dead-lettered event failed")
		} else {
			d.Queue.Acked(u.key, seq)
		}
		if first {
			d.unqueue(u.key, msg)
		}
		_ = d.Queue.ClearAttempts(ctx, u.key, seq)
		d.recordAttempt(u, msg, seq, attempt, start, ans, aerr, eventsv1.AttemptDeadLettered, nil)
		log().Info("Dead-lettered event", "reason", aerr.reason, "error", aerr.msg)
		return
	}
	if err := d.Queue.SetFailedAttempts(ctx, u.key, seq, attempt); err != nil {
		// Unrecorded, this attempt would be repeated rather than skipped:
		// at worst one attempt more than maxAttempts, never one fewer.
		log().Error(err, "Recording the failed attempt failed")
	}
	if err := msg.NakWithDelay(delay); err != nil {
		log().Error(err, "Scheduling retry failed; JetStream will redeliver after AckWait")
	}
	d.count(u, queue.CounterRetries, "retry")
	d.recordAttempt(u, msg, seq, attempt, start, ans, aerr, eventsv1.AttemptFailed, failure.NextAttempt)
	log().Info("Delivery failed; will retry", "reason", aerr.reason, "error", aerr.msg, "in", delay.String())
}

// recordAttempt writes one attempt to the endpoint's history (a no-op
// without one). ans is nil when history is off; aerr nil for a delivery.
func (d *Dispatcher) recordAttempt(u *unit, msg jetstream.Msg, seq uint64, attempt int, start time.Time, ans *answer, aerr *attemptError, outcome eventsv1.AttemptOutcome, next *time.Time) {
	if ans == nil {
		return
	}
	a := &eventsv1.Attempt{
		EventID: eventID(u.key, msg.Headers(), seq),
		Target:  u.t.Name,
		Attempt: attempt,
		Time:    start.UTC(),
		Outcome: outcome,
		Code:    ans.code,
		// Response is kept as the target sent it; the recorder bounds it.
		Response:    ans.response,
		NextAttempt: next,
	}
	if ans.code != 0 || aerr == nil || aerr.reason == "Timeout" {
		a.LatencyMillis = float64(time.Since(start).Microseconds()) / 1000
	}
	if aerr != nil {
		a.Reason, a.Error = aerr.reason, aerr.msg
	}
	d.History.Attempt(u.ep.UID, u.ep.History, a)
}

// countOnce counts the event with stream sequence seq, once, and reports
// whether this was the first time. A failure to count is logged and the
// event acknowledged all the same: delivering it again to count it would
// cost the target more than a counter short by one.
func (d *Dispatcher) countOnce(ctx context.Context, u *unit, counter string, seq uint64, outcome string) (first, counted bool) {
	// Also while shutting down, and through a NATS leader election.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), countWait)
	defer cancel()
	first, err := d.Queue.CountFinished(cctx, u.key, counter, seq)
	if err != nil {
		d.Log.Error(err, "Counting a finished event failed", "endpoint", u.ep.Name(), "queue", u.key, "counter", counter)
		return false, false
	}
	d.observeOutcome(u, outcome)
	return first, true
}

// countWait bounds counting a finished event: longer than a NATS stream
// leader election (about 10 s in the fault suite).
const countWait = 30 * time.Second

// unqueue takes a finished event's body off the endpoint's storage quota.
func (d *Dispatcher) unqueue(key string, msg jetstream.Msg) {
	if err := d.Queue.Incr(key, queue.CounterQueuedBytes, -queue.BodySize(msg.Headers(), msg.Data())); err != nil {
		d.Log.V(1).Info("Counting queued bytes failed", "error", err.Error())
	}
}

func (d *Dispatcher) count(u *unit, counter, outcome string) {
	if err := d.Queue.Incr(u.key, counter, 1); err != nil {
		d.Log.V(1).Info("Counting delivery failed", "error", err.Error())
	}
	d.observeOutcome(u, outcome)
}

// observeOutcome counts an attempt's outcome in the metrics.
func (d *Dispatcher) observeOutcome(u *unit, outcome string) {
	if d.Metrics == nil {
		return
	}
	target := ""
	if u.t != nil {
		target = u.t.Name
	}
	d.Metrics.Attempts.WithLabelValues(u.ep.Name(), target, outcome).Inc()
}

// retryAfterFailure decides what follows a failed attempt (1-based) at an
// event stored age ago: the delay before the next one, or last when this
// attempt was the event's last (its attempts or its retry span are used
// up). retryAfter is what the target asked for (0: nothing). The final
// retry is scheduled at the end of the span rather than past it, so an
// event is retried for RetryFor and no longer.
func retryAfterFailure(ep *registry.Target, attempt int, age, retryAfter time.Duration, rnd func() float64) (delay time.Duration, last bool) {
	if ep.MaxAttempts > 0 && attempt >= ep.MaxAttempts {
		return 0, true
	}
	if ep.RetryFor > 0 && age >= ep.RetryFor {
		return 0, true
	}
	delay = Backoff(attempt, ep.BackoffInitial, ep.BackoffMax, rnd)
	if retryAfter > 0 {
		delay = min(retryAfter, maxRetryAfter)
	}
	if ep.RetryFor > 0 {
		delay = min(delay, max(ep.RetryFor-age, time.Second))
	}
	return delay, false
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

// recordDelivery stores an endpoint's last delivery time, at most once a
// second per process: status shows it to the second, and a busy endpoint
// does not pay a write per event.
func (d *Dispatcher) recordDelivery(ctx context.Context, uid string, now time.Time) {
	v, _ := d.recorded.LoadOrStore(uid, new(atomic.Int64))
	last := v.(*atomic.Int64)
	prev := last.Load()
	if now.UnixNano()-prev < int64(time.Second) || !last.CompareAndSwap(prev, now.UnixNano()) {
		return
	}
	_ = d.Queue.RecordDelivery(ctx, uid, now)
}
