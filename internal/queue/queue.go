package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the JetStream objects.
const (
	EventsStream   = "HOOKGATE_EVENTS"
	DLQStream      = "HOOKGATE_DLQ"
	CountersStream = "HOOKGATE_COUNTERS"
	DedupeBucket   = "hookgate-dedupe"
	StateBucket    = "hookgate-state"
	AttemptsBucket = "hookgate-attempts"

	eventsPrefix   = "hookgate.events."
	dlqPrefix      = "hookgate.dlq."
	countersPrefix = "hookgate.counters."
)

// Headers on stored events. Original request headers are kept under
// HeaderOrigPrefix so that they cannot collide with ours or with NATS'.
const (
	HeaderEndpoint   = "Hookgate-Endpoint"
	HeaderProvider   = "Hookgate-Provider"
	HeaderDelivery   = "Hookgate-Delivery-Id"
	HeaderReceivedAt = "Hookgate-Received-At"
	HeaderLastError  = "Hookgate-Last-Error"
	HeaderAttempts   = "Hookgate-Attempts"
	HeaderOrigPrefix = "Orig-"
)

// Counter names under hookgate.counters.<uid>.
const (
	CounterReceived     = "received"
	CounterRejected     = "rejected"
	CounterDuplicates   = "duplicates"
	CounterDelivered    = "delivered"
	CounterRetries      = "retries"
	CounterDeadLettered = "deadLettered"
)

var allCounters = []string{CounterReceived, CounterRejected, CounterDuplicates, CounterDelivered, CounterRetries, CounterDeadLettered}

// Options tune the layout. Zero values take the defaults.
type Options struct {
	// Replicas of every stream: 1 for the embedded server, 3 on a cluster.
	Replicas int
	// DeadLetterMaxAge is how long dead letters are kept. Defaults to 14 days.
	DeadLetterMaxAge time.Duration
	// MaxDedupeWindow bounds the per-key TTL of dedupe markers. Defaults to 7 days.
	MaxDedupeWindow time.Duration
	// PublishTimeout bounds one durable publish. Defaults to 5s.
	PublishTimeout time.Duration
}

func (o *Options) defaults() {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.DeadLetterMaxAge <= 0 {
		o.DeadLetterMaxAge = 14 * 24 * time.Hour
	}
	if o.MaxDedupeWindow <= 0 {
		o.MaxDedupeWindow = 7 * 24 * time.Hour
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 5 * time.Second
	}
}

// Queue is a connection to the JetStream layout.
type Queue struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	opts     Options
	dedupe   jetstream.KeyValue
	state    jetstream.KeyValue
	attempts jetstream.KeyValue
}

// Open ensures the streams and buckets exist on nc and returns a Queue.
// Creating them is idempotent, so every receiver replica and the controller
// may call it.
func Open(ctx context.Context, nc *nats.Conn, opts Options) (*Queue, error) {
	opts.defaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("creating JetStream context: %w", err)
	}
	q := &Queue{NC: nc, JS: js, opts: opts}
	streams := []jetstream.StreamConfig{{
		Name:        EventsStream,
		Description: "Verified webhook events waiting for delivery",
		Subjects:    []string{eventsPrefix + "*"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		MaxMsgSize:  MaxPayload,
		// A short window catches concurrent redeliveries racing through
		// two replicas; the dedupe bucket covers the endpoint's window.
		Duplicates: 2 * time.Minute,
		Discard:    jetstream.DiscardNew,
	}, {
		Name:        DLQStream,
		Description: "Webhook events that exhausted their delivery attempts",
		Subjects:    []string{dlqPrefix + "*"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		MaxAge:      opts.DeadLetterMaxAge,
		MaxMsgSize:  MaxPayload,
		Discard:     jetstream.DiscardOld,
	}, {
		Name:              CountersStream,
		Description:       "Per-endpoint delivery counters",
		Subjects:          []string{countersPrefix + "*.*"},
		Retention:         jetstream.LimitsPolicy,
		Storage:           jetstream.FileStorage,
		Replicas:          opts.Replicas,
		AllowMsgCounter:   true,
		AllowDirect:       true,
		MaxMsgsPerSubject: 1,
	}}
	for _, cfg := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("ensuring stream %s: %w", cfg.Name, err)
		}
	}
	q.dedupe, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         DedupeBucket,
		Description:    "Provider delivery ids seen inside each endpoint's dedupe window",
		Storage:        jetstream.FileStorage,
		Replicas:       opts.Replicas,
		TTL:            opts.MaxDedupeWindow,
		LimitMarkerTTL: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("ensuring bucket %s: %w", DedupeBucket, err)
	}
	q.state, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      StateBucket,
		Description: "Last delivery and last failure per endpoint",
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ensuring bucket %s: %w", StateBucket, err)
	}
	q.attempts, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      AttemptsBucket,
		Description: "Failed delivery attempts per stored event",
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		// An entry outliving its event (e.g. a purge mid-retry) expires.
		TTL: 30 * 24 * time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("ensuring bucket %s: %w", AttemptsBucket, err)
	}
	return q, nil
}

// Attach opens a layout that a receiver already created, without changing
// it: the controller uses this so it never fights the receiver over stream
// settings such as replicas.
func Attach(ctx context.Context, nc *nats.Conn, opts Options) (*Queue, error) {
	opts.defaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("creating JetStream context: %w", err)
	}
	q := &Queue{NC: nc, JS: js, opts: opts}
	if q.dedupe, err = js.KeyValue(ctx, DedupeBucket); err != nil {
		return nil, fmt.Errorf("opening bucket %s (has a receiver started?): %w", DedupeBucket, err)
	}
	if q.state, err = js.KeyValue(ctx, StateBucket); err != nil {
		return nil, fmt.Errorf("opening bucket %s (has a receiver started?): %w", StateBucket, err)
	}
	if q.attempts, err = js.KeyValue(ctx, AttemptsBucket); err != nil {
		return nil, fmt.Errorf("opening bucket %s (has a receiver started?): %w", AttemptsBucket, err)
	}
	return q, nil
}

// EventsSubject is where an endpoint's events are stored.
func EventsSubject(uid string) string { return eventsPrefix + uid }

// DLQSubject is where an endpoint's dead letters are stored.
func DLQSubject(uid string) string { return dlqPrefix + uid }

// CounterSubject is the counter c of an endpoint.
func CounterSubject(uid, c string) string { return countersPrefix + uid + "." + c }

// CounterSubjectsFilter matches every counter of every endpoint.
const CounterSubjectsFilter = countersPrefix + "*.*"

// UIDFromCounterSubject returns the endpoint UID of a counter subject.
func UIDFromCounterSubject(subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, countersPrefix)
	if !ok {
		return "", false
	}
	uid, _, ok := strings.Cut(rest, ".")
	return uid, ok && uid != ""
}

// ConsumerName is the durable consumer that delivers an endpoint's events.
func ConsumerName(uid string) string { return "ep-" + uid }

// Event is a verified webhook as stored.
type Event struct {
	EndpointUID string
	// Endpoint is namespace/name, for logs and the target's headers.
	Endpoint   string
	Provider   string
	DeliveryID string
	ReceivedAt time.Time
	// Header holds the original request headers worth forwarding.
	Header map[string][]string
	Body   []byte
}

// EnqueueResult says what Enqueue did.
type EnqueueResult struct {
	// Duplicate is true when the delivery id was already stored inside the
	// dedupe window: nothing new was stored.
	Duplicate bool
	// Sequence of the stored event in the events stream.
	Sequence uint64
}

// ErrUnavailable wraps every failure to store; the receiver answers 503.
var ErrUnavailable = errors.New("queue unavailable")

// DedupeKey is the key of a delivery id's marker in the dedupe bucket.
func DedupeKey(uid, deliveryID string) string { return dedupeKey(uid, deliveryID) }

func dedupeKey(uid, deliveryID string) string {
	sum := sha256.Sum256([]byte(deliveryID))
	return uid + "." + hex.EncodeToString(sum[:16])
}

// Enqueue durably stores ev unless its delivery id was seen within window.
// It returns only after JetStream acknowledged the write, so a nil error
// means the event survives a crash of this process.
//
// Order matters for "nothing accepted is lost": the dedupe marker is
// written after the event is stored, so a crash in between can at worst
// forward a redelivery twice, never drop one. Two replicas racing on the
// same delivery are caught by the stream's own Nats-Msg-Id window.
func (q *Queue) Enqueue(ctx context.Context, ev *Event, window time.Duration) (EnqueueResult, error) {
	ctx, cancel := context.WithTimeout(ctx, q.opts.PublishTimeout)
	defer cancel()

	var key string
	if ev.DeliveryID != "" {
		key = dedupeKey(ev.EndpointUID, ev.DeliveryID)
		if _, err := q.dedupe.Get(ctx, key); err == nil {
			return EnqueueResult{Duplicate: true}, nil
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return EnqueueResult{}, fmt.Errorf("%w: reading dedupe marker: %v", ErrUnavailable, err)
		}
	}

	msg := &nats.Msg{Subject: EventsSubject(ev.EndpointUID), Header: nats.Header{}, Data: ev.Body}
	for k, vs := range ev.Header {
		for _, v := range vs {
			msg.Header.Add(HeaderOrigPrefix+k, v)
		}
	}
	msg.Header.Set(HeaderEndpoint, ev.Endpoint)
	msg.Header.Set(HeaderProvider, ev.Provider)
	msg.Header.Set(HeaderReceivedAt, ev.ReceivedAt.UTC().Format(time.RFC3339Nano))
	var popts []jetstream.PublishOpt
	if key != "" {
		msg.Header.Set(HeaderDelivery, ev.DeliveryID)
		popts = append(popts, jetstream.WithMsgID(key))
	}
	ack, err := q.JS.PublishMsg(ctx, msg, popts...)
	if err != nil {
		return EnqueueResult{}, fmt.Errorf("%w: storing event: %v", ErrUnavailable, err)
	}
	if ack.Duplicate {
		return EnqueueResult{Duplicate: true, Sequence: ack.Sequence}, nil
	}
	if key != "" {
		if window > q.opts.MaxDedupeWindow {
			window = q.opts.MaxDedupeWindow
		}
		// The event is stored: a failure here only weakens dedupe, so it
		// must not turn into an error the provider would retry on.
		_, _ = q.dedupe.Create(ctx, key, []byte(strconv.FormatUint(ack.Sequence, 10)), jetstream.KeyTTL(window))
	}
	return EnqueueResult{Sequence: ack.Sequence}, nil
}

// Incr adds n to counter c of an endpoint without waiting for the ack; the
// counter stream's CRDT makes concurrent increments from replicas exact.
func (q *Queue) Incr(uid, c string, n int64) error {
	msg := &nats.Msg{Subject: CounterSubject(uid, c), Header: nats.Header{}}
	msg.Header.Set("Nats-Incr", strconv.FormatInt(n, 10))
	_, err := q.JS.PublishMsgAsync(msg)
	return err
}

// IncrSync adds n to counter c and waits for the server's ack.
func (q *Queue) IncrSync(ctx context.Context, uid, c string, n int64) error {
	msg := &nats.Msg{Subject: CounterSubject(uid, c), Header: nats.Header{}}
	msg.Header.Set("Nats-Incr", strconv.FormatInt(n, 10))
	_, err := q.JS.PublishMsg(ctx, msg)
	return err
}

// Counters are the totals of one endpoint.
type Counters struct {
	Received, Rejected, Duplicates, Delivered, Retries, DeadLettered int64
	// Pending is stored-but-not-finished events: waiting, in flight or in backoff.
	Pending int64
}

// ReadCounters reads every counter of an endpoint and its pending count.
func (q *Queue) ReadCounters(ctx context.Context, uid string) (Counters, error) {
	var c Counters
	s, err := q.JS.Stream(ctx, CountersStream)
	if err != nil {
		return c, fmt.Errorf("opening stream %s: %w", CountersStream, err)
	}
	for _, name := range allCounters {
		v, err := readCounter(ctx, s, CounterSubject(uid, name))
		if err != nil {
			return c, err
		}
		switch name {
		case CounterReceived:
			c.Received = v
		case CounterRejected:
			c.Rejected = v
		case CounterDuplicates:
			c.Duplicates = v
		case CounterDelivered:
			c.Delivered = v
		case CounterRetries:
			c.Retries = v
		case CounterDeadLettered:
			c.DeadLettered = v
		}
	}
	info, err := q.JS.Consumer(ctx, EventsStream, ConsumerName(uid))
	switch {
	case err == nil:
		ci := info.CachedInfo()
		c.Pending = int64(ci.NumPending) + int64(ci.NumAckPending)
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		// No dispatcher has attached yet: everything stored is pending.
		es, err := q.JS.Stream(ctx, EventsStream)
		if err != nil {
			return c, fmt.Errorf("opening stream %s: %w", EventsStream, err)
		}
		si, err := es.Info(ctx, jetstream.WithSubjectFilter(EventsSubject(uid)))
		if err != nil {
			return c, fmt.Errorf("reading stream %s: %w", EventsStream, err)
		}
		for _, n := range si.State.Subjects {
			c.Pending += int64(n)
		}
	default:
		return c, fmt.Errorf("reading consumer %s: %w", ConsumerName(uid), err)
	}
	return c, nil
}

func readCounter(ctx context.Context, s jetstream.Stream, subject string) (int64, error) {
	m, err := s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading counter %s: %w", subject, err)
	}
	var v struct {
		Val string `json:"val"`
	}
	if err := json.Unmarshal(m.Data, &v); err != nil {
		return 0, fmt.Errorf("decoding counter %s: %w", subject, err)
	}
	n, err := strconv.ParseInt(v.Val, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("decoding counter %s: %w", subject, err)
	}
	return n, nil
}

// Attempts are counted by Hookgate, not taken from JetStream's delivery
// count: that count also rises when a message is handed back unsent (a
// suspension, a shutdown, a consumer restart), and those must not use up an
// event's attempts.

func attemptsKey(uid string, seq uint64) string { return uid + "." + strconv.FormatUint(seq, 10) }

// FailedAttempts returns how many attempts at the event failed so far.
func (q *Queue) FailedAttempts(ctx context.Context, uid string, seq uint64) (int, error) {
	e, err := q.attempts.Get(ctx, attemptsKey(uid, seq))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(e.Value()))
}

// SetFailedAttempts records how many attempts at the event failed.
func (q *Queue) SetFailedAttempts(ctx context.Context, uid string, seq uint64, n int) error {
	_, err := q.attempts.Put(ctx, attemptsKey(uid, seq), []byte(strconv.Itoa(n)))
	return err
}

// ClearAttempts forgets an event's attempts once it is delivered or dead.
func (q *Queue) ClearAttempts(ctx context.Context, uid string, seq uint64) error {
	return q.attempts.Purge(ctx, attemptsKey(uid, seq))
}

// DeliveryState is the last delivery and failure of an endpoint.
type DeliveryState struct {
	LastDelivery *time.Time `json:"lastDelivery,omitempty"`
	LastFailure  *Failure   `json:"lastFailure,omitempty"`
}

// Failure is one failed delivery attempt.
type Failure struct {
	Time    time.Time `json:"time"`
	Reason  string    `json:"reason"`
	Message string    `json:"message,omitempty"`
}

// RecordDelivery stores the time of the last successful delivery.
func (q *Queue) RecordDelivery(ctx context.Context, uid string, t time.Time) error {
	_, err := q.state.Put(ctx, uid+".lastDelivery", []byte(t.UTC().Format(time.RFC3339Nano)))
	return err
}

// RecordFailure stores the last failed attempt.
func (q *Queue) RecordFailure(ctx context.Context, uid string, f Failure) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	_, err = q.state.Put(ctx, uid+".lastFailure", b)
	return err
}

// ReadState returns the last delivery and failure of an endpoint.
func (q *Queue) ReadState(ctx context.Context, uid string) (DeliveryState, error) {
	var st DeliveryState
	e, err := q.state.Get(ctx, uid+".lastDelivery")
	switch {
	case err == nil:
		t, perr := time.Parse(time.RFC3339Nano, string(e.Value()))
		if perr == nil {
			st.LastDelivery = &t
		}
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return st, fmt.Errorf("reading last delivery: %w", err)
	}
	e, err = q.state.Get(ctx, uid+".lastFailure")
	switch {
	case err == nil:
		var f Failure
		if json.Unmarshal(e.Value(), &f) == nil {
			st.LastFailure = &f
		}
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return st, fmt.Errorf("reading last failure: %w", err)
	}
	return st, nil
}

// DeadLetter stores a copy of msg in the dead-letter stream with the reason
// it failed, and returns once that copy is durable.
func (q *Queue) DeadLetter(ctx context.Context, uid string, data []byte, header nats.Header, attempts int, lastErr string) error {
	h := nats.Header{}
	for k, vs := range header {
		if strings.HasPrefix(k, "Nats-") {
			continue
		}
		h[k] = append([]string(nil), vs...)
	}
	h.Set(HeaderLastError, lastErr)
	h.Set(HeaderAttempts, strconv.Itoa(attempts))
	_, err := q.JS.PublishMsg(ctx, &nats.Msg{Subject: DLQSubject(uid), Header: h, Data: data})
	if err != nil {
		return fmt.Errorf("storing dead letter: %w", err)
	}
	return nil
}

// Purge removes everything Hookgate keeps for an endpoint: its consumer,
// queued events, dead letters, counters, dedupe markers and state.
func (q *Queue) Purge(ctx context.Context, uid string) error {
	if err := q.JS.DeleteConsumer(ctx, EventsStream, ConsumerName(uid)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("deleting consumer: %w", err)
	}
	purges := []struct{ stream, subject string }{
		{EventsStream, EventsSubject(uid)},
		{DLQStream, DLQSubject(uid)},
		{CountersStream, countersPrefix + uid + ".*"},
		{"KV_" + DedupeBucket, "$KV." + DedupeBucket + "." + uid + ".*"},
		{"KV_" + StateBucket, "$KV." + StateBucket + "." + uid + ".*"},
		{"KV_" + AttemptsBucket, "$KV." + AttemptsBucket + "." + uid + ".*"},
	}
	for _, p := range purges {
		s, err := q.JS.Stream(ctx, p.stream)
		if err != nil {
			return fmt.Errorf("opening stream %s: %w", p.stream, err)
		}
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(p.subject)); err != nil {
			return fmt.Errorf("purging %s from %s: %w", p.subject, p.stream, err)
		}
	}
	return nil
}

// Replay moves an endpoint's dead letters back into its events stream, in
// the order they died, and returns how many it moved. Each is re-published
// before it is deleted from the dead-letter stream, so a crash midway can
// only replay one twice, never lose it. Dead letters arriving during the
// replay are left for the next one.
func (q *Queue) Replay(ctx context.Context, uid string) (int64, error) {
	dlq, err := q.JS.Stream(ctx, DLQStream)
	if err != nil {
		return 0, fmt.Errorf("opening stream %s: %w", DLQStream, err)
	}
	info, err := dlq.Info(ctx, jetstream.WithSubjectFilter(DLQSubject(uid)))
	if err != nil {
		return 0, fmt.Errorf("reading stream %s: %w", DLQStream, err)
	}
	if info.State.Subjects[DLQSubject(uid)] == 0 {
		return 0, nil
	}
	last, err := dlq.GetLastMsgForSubject(ctx, DLQSubject(uid))
	if err != nil {
		return 0, fmt.Errorf("finding the last dead letter: %w", err)
	}
	cons, err := dlq.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{DLQSubject(uid)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return 0, fmt.Errorf("reading dead letters: %w", err)
	}
	var n int64
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return n, fmt.Errorf("reading dead letters after %d: %w", n, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return n, err
		}
		h := nats.Header{}
		for k, vs := range msg.Headers() {
			if k == HeaderLastError || k == HeaderAttempts || strings.HasPrefix(k, "Nats-") {
				continue
			}
			h[k] = vs
		}
		pctx, cancel := context.WithTimeout(ctx, q.opts.PublishTimeout)
		_, err = q.JS.PublishMsg(pctx, &nats.Msg{Subject: EventsSubject(uid), Header: h, Data: msg.Data()})
		cancel()
		if err != nil {
			return n, fmt.Errorf("re-queueing dead letter %d: %w", md.Sequence.Stream, err)
		}
		if err := dlq.DeleteMsg(ctx, md.Sequence.Stream); err != nil {
			return n, fmt.Errorf("removing replayed dead letter %d: %w", md.Sequence.Stream, err)
		}
		n++
		if md.Sequence.Stream >= last.Sequence {
			return n, nil
		}
	}
}
