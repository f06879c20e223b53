package history

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

// Defaults of RecorderOptions.
const (
	DefaultMaxPending        = 4096
	DefaultRejectedPerSecond = 20
)

// ackTimeout bounds the wait for one record's ack: an ack lost (a leader
// change, a dropped connection) frees its slot and counts as an error.
const ackTimeout = 30 * time.Second

// maxLimiters is how many endpoints' rejected budgets the Recorder keeps
// before it forgets those that are full again (as good as new).
const maxLimiters = 4096

// Header names on records.
const (
	headerTTL   = "Nats-TTL"
	headerMsgID = "Nats-Msg-Id"
)

// RecorderOptions tune a Recorder. Zero values take the defaults.
type RecorderOptions struct {
	// MaxPending is how many records may await their ack (default
	// DefaultMaxPending). At the bound a record is dropped and counted,
	// never waited for.
	MaxPending int
	// RejectedPerSecond is each endpoint's budget of request records
	// whose Outcome is rejected or error (default
	// DefaultRejectedPerSecond, with a burst of twice as many; negative:
	// no budget). A record over it is not written, only counted: a flood
	// of bad requests does not flood the history.
	RejectedPerSecond float64
	// Log gets failures to publish, at most one line every ten seconds.
	Log logr.Logger
	// Registerer registers the Recorder's metrics; nil registers none
	// (they are still counted).
	Registerer prometheus.Registerer
}

// Recorder writes an endpoint's history: request and attempt records,
// each one asynchronous publish that nothing waits for. Its methods are
// safe for concurrent use; a nil *Recorder records nothing.
type Recorder struct {
	// pub publishes the records: a JetStream context of its own (on the
	// caller's connection) whose ack and error handlers free slots and
	// count, so no goroutine waits for any record.
	pub jetstream.JetStream
	// own is false when pub is the caller's context (it has no
	// connection to make another from): then the bound is the context's
	// own count of pending publishes, and records count when sent.
	own        bool
	maxPending int64
	pending    atomic.Int64
	maxPayload int

	rps   float64
	burst int
	now   func() time.Time
	mu    sync.Mutex
	limit map[string]*rate.Limiter

	log     logr.Logger
	lastLog atomic.Int64

	m recorderMetrics
}

type recorderMetrics struct {
	records     [kinds]prometheus.Counter
	droppedPend [kinds]prometheus.Counter
	droppedErr  [kinds]prometheus.Counter
	suppressed  prometheus.Counter
}

func newRecorderMetrics(reg prometheus.Registerer) recorderMetrics {
	records := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookgate_history_records_total",
		Help: "History records stored (acknowledged by JetStream), by kind (request, attempt).",
	}, []string{"kind"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookgate_history_dropped_total",
		Help: "History records lost, by kind and reason: pending (too many awaiting their ack) or error (the publish or its ack failed).",
	}, []string{"kind", "reason"})
	suppressed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hookgate_history_suppressed_total",
		Help: "Records of rejected or failed requests not written: over their endpoint's budget.",
	})
	if reg != nil {
		records = register(reg, records)
		dropped = register(reg, dropped)
		suppressed = register(reg, suppressed)
	}
	m := recorderMetrics{suppressed: suppressed}
	for k := kind(0); k < kinds; k++ {
		m.records[k] = records.WithLabelValues(k.String())
		m.droppedPend[k] = dropped.WithLabelValues(k.String(), "pending")
		m.droppedErr[k] = dropped.WithLabelValues(k.String(), "error")
	}
	return m
}

// register registers c, or returns the collector already registered
// under its name (a second Recorder in one process).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

// NewRecorder returns a Recorder that publishes on js's connection. The
// stream must exist (Ensure); until it does, records fail and are
// counted as dropped.
func NewRecorder(js jetstream.JetStream, o RecorderOptions) *Recorder {
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.RejectedPerSecond == 0 {
		o.RejectedPerSecond = DefaultRejectedPerSecond
	}
	r := &Recorder{
		maxPending: int64(o.MaxPending),
		rps:        o.RejectedPerSecond,
		burst:      max(1, int(math.Ceil(2*o.RejectedPerSecond))),
		now:        time.Now,
		limit:      map[string]*rate.Limiter{},
		log:        o.Log,
		m:          newRecorderMetrics(o.Registerer),
	}
	if nc := js.Conn(); nc != nil {
		r.maxPayload = int(nc.MaxPayload())
		pub, err := jetstream.New(nc,
			jetstream.WithPublishAsyncAckHandler(r.acked),
			jetstream.WithPublishAsyncErrHandler(r.failed),
			jetstream.WithPublishAsyncTimeout(ackTimeout),
			// Never the library's stall: the Recorder's own bound drops first.
			jetstream.WithPublishAsyncMaxPending(2*o.MaxPending+64))
		if err == nil {
			r.pub, r.own = pub, true
			return r
		}
		r.log.Error(err, "Creating the history publisher failed; publishing through the caller's JetStream context")
	}
	r.pub = js
	return r
}

// Start ensures the history stream on nc and returns a Recorder on it:
// Ensure and NewRecorder in one, for a receiver.
func Start(ctx context.Context, nc *nats.Conn, so StreamOptions, ro RecorderOptions) (*Recorder, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("creating JetStream context: %w", err)
	}
	if err := Ensure(ctx, js, so); err != nil {
		return nil, err
	}
	return NewRecorder(js, ro), nil
}

// Request records one request of the endpoint with UID uid. A nil
// Recorder, a nil policy or a disabled one records nothing.
//
// ev is not modified. Its Headers and Body are the raw values: for an
// accepted event they are redacted by p (Redact; BodyOmitted,
// BodyTruncated and Redacted are set from it), for any other outcome
// neither is stored, nor is a Status. ev.ID must be a subject token (a
// nuid); a record with another id, or of an endpoint whose UID is not a
// token, is dropped and counted as an error. A zero ev.Time is now.
//
// Records of rejected and error outcomes are subject to the endpoint's
// budget (RecorderOptions.RejectedPerSecond). The record is published
// asynchronously with Nats-TTL (the policy's retention) and Nats-Msg-Id
// its subject (hookgate.history.<uid>.req.<id>: unique per endpoint and
// id), so a repeat within the stream's two-minute window is stored once.
// Request never waits on the network.
func (r *Recorder) Request(uid string, p *Policy, ev *eventsv1.Event) {
	if m := r.requestMsg(uid, p, ev); m != nil {
		r.publish(kindRequest, m)
	}
}

// record is a record's message with the backing of its Nats-Msg-Id
// header, in one allocation.
type record struct {
	msg nats.Msg
	id  [1]string
}

// requestMsg is Request but for the publish: the record's message, or nil.
func (r *Recorder) requestMsg(uid string, p *Policy, ev *eventsv1.Event) *nats.Msg {
	if r == nil || p == nil || p.Disabled || ev == nil {
		return nil
	}
	if !validToken(uid) || !validToken(ev.ID) {
		r.m.droppedErr[kindRequest].Inc()
		return nil
	}
	if r.full() {
		r.m.droppedPend[kindRequest].Inc()
		return nil
	}
	e := *ev
	e.Hidden, e.Attempts = false, nil
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	if e.Outcome == eventsv1.OutcomeAccepted {
		e.Headers, e.Body, e.Redacted, e.BodyOmitted, e.BodyTruncated = p.Redact(ev.Headers, ev.Body)
	} else {
		e.Headers, e.Body, e.Redacted, e.BodyOmitted, e.BodyTruncated, e.Status = nil, nil, nil, false, false, ""
		if (e.Outcome == eventsv1.OutcomeRejected || e.Outcome == eventsv1.OutcomeError) && !r.allowRejected(uid) {
			r.m.suppressed.Inc()
			return nil
		}
	}
	data := appendEvent(make([]byte, 0, eventSize(&e)), &e)
	if over := len(data) + 512 - r.maxPayload; r.maxPayload > 0 && over > 0 && len(e.Body) > 0 {
		// Too big for one message: keep less of the body (its base64
		// takes 4 bytes for 3).
		cut := max(0, len(e.Body)-(over*3/4+4))
		e.Body, e.BodyTruncated = e.Body[:cut:cut], true
		data = appendEvent(data[:0], &e)
	}
	rec := &record{}
	subject := RequestSubject(uid, e.ID)
	rec.id[0] = subject
	rec.msg = nats.Msg{Subject: subject, Data: data, Header: nats.Header{headerTTL: p.ttlHeader(), headerMsgID: rec.id[:]}}
	return &rec.msg
}

// Attempt records one delivery attempt of an event, or an action on it
// (a retry), as Request does: asynchronously, with the policy's
// retention as its TTL. Its Response is cut to eventsv1.MaxResponseBytes.
// a.EventID must be a subject token; a zero a.Time is now.
func (r *Recorder) Attempt(uid string, p *Policy, a *eventsv1.Attempt) {
	if r == nil || p == nil || p.Disabled || a == nil {
		return
	}
	if !validToken(uid) || !validToken(a.EventID) {
		r.m.droppedErr[kindAttempt].Inc()
		return
	}
	if r.full() {
		r.m.droppedPend[kindAttempt].Inc()
		return
	}
	x := *a
	if x.Time.IsZero() {
		x.Time = r.now()
	}
	if len(x.Response) > eventsv1.MaxResponseBytes {
		x.Response = x.Response[:eventsv1.MaxResponseBytes:eventsv1.MaxResponseBytes]
	}
	data := appendAttempt(make([]byte, 0, attemptSize(&x)), &x)
	r.publish(kindAttempt, &nats.Msg{Subject: AttemptSubject(uid, x.EventID, x.Target), Data: data, Header: nats.Header{headerTTL: p.ttlHeader()}})
}

// full reports whether a record would be over the pending bound (a cheap
// early look; publish takes the slot).
func (r *Recorder) full() bool {
	if r.own {
		return r.pending.Load() >= r.maxPending
	}
	return int64(r.pub.PublishAsyncPending()) >= r.maxPending
}

func (r *Recorder) publish(k kind, m *nats.Msg) {
	if r.own {
		if r.pending.Add(1) > r.maxPending {
			r.release()
			r.m.droppedPend[k].Inc()
			return
		}
	}
	if _, err := r.pub.PublishMsgAsync(m); err != nil {
		if r.own {
			r.release()
		}
		r.m.droppedErr[k].Inc()
		r.logFailure(err, m.Subject)
		return
	}
	if !r.own {
		r.m.records[k].Inc()
	}
}

// release frees a pending slot; never below zero (the library may report
// one publish's failure twice in a rare race).
func (r *Recorder) release() {
	for {
		n := r.pending.Load()
		if n <= 0 || r.pending.CompareAndSwap(n, n-1) {
			return
		}
	}
}

// acked is the publisher's ack handler (on its reply goroutine).
func (r *Recorder) acked(_ jetstream.JetStream, m *nats.Msg, ack *jetstream.PubAck) {
	r.release()
	if ack != nil && ack.Duplicate {
		return // a repeat, not stored again
	}
	if k, ok := kindOf(m.Subject); ok {
		r.m.records[k].Inc()
	}
}

// failed is the publisher's error handler: a record rejected by the
// server, or whose ack never came. It may run under the publisher's lock:
// it only counts and logs.
func (r *Recorder) failed(_ jetstream.JetStream, m *nats.Msg, err error) {
	r.release()
	k, _ := kindOf(m.Subject)
	r.m.droppedErr[k].Inc()
	r.logFailure(err, m.Subject)
}

func (r *Recorder) logFailure(err error, subject string) {
	now := time.Now().UnixNano()
	last := r.lastLog.Load()
	if now-last < int64(10*time.Second) || !r.lastLog.CompareAndSwap(last, now) {
		return
	}
	r.log.Error(err, "Writing a history record failed (more are counted in hookgate_history_dropped_total)", "subject", subject)
}

// allowRejected takes one record from the endpoint's rejected budget.
func (r *Recorder) allowRejected(uid string) bool {
	if r.rps < 0 {
		return true
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.limit[uid]
	if l == nil {
		if len(r.limit) >= maxLimiters {
			for k, v := range r.limit {
				// Full again: as good as a new one.
				if v.TokensAt(now) >= float64(r.burst) {
					delete(r.limit, k)
				}
			}
		}
		l = rate.NewLimiter(rate.Limit(r.rps), r.burst)
		r.limit[uid] = l
	}
	return l.AllowN(now, 1)
}

// Close waits, bounded by ctx, until every record published so far is
// acknowledged (or failed). The Recorder stays usable.
func (r *Recorder) Close(ctx context.Context) error {
	if r == nil {
		return nil
	}
	select {
	case <-r.pub.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %d history records: %w", r.pub.PublishAsyncPending(), ctx.Err())
	}
}
