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

var allCounters = []string{CounterReceived, CounterRejected, CounterDuplicates, CounterDelivered, CounterRetries, CounterDeadLettered, CounterQueuedBytes}

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
	// MaxEventsPerEndpoint and MaxDeadLettersPerEndpoint are the ceilings
	// of one endpoint's queued events and dead letters. Default to
	// DefaultMaxEventsPerEndpoint and DefaultMaxDeadLettersPerEndpoint.
	MaxEventsPerEndpoint, MaxDeadLettersPerEndpoint int64
	// MaxStoreBytes bounds the events and dead-letter streams together
	// (0: only the server's own store limit). Keep it below the volume.
	MaxStoreBytes int64
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
	if o.MaxEventsPerEndpoint <= 0 {
		o.MaxEventsPerEndpoint = DefaultMaxEventsPerEndpoint
	}
	if o.MaxDeadLettersPerEndpoint <= 0 {
		o.MaxDeadLettersPerEndpoint = DefaultMaxDeadLettersPerEndpoint
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
	counters *counterBatch
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
	q := &Queue{NC: nc, JS: js, opts: opts, counters: &counterBatch{js: js}}
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
	}, {
		Name:            CountersStream,
		Description:     "Per-endpoint delivery counters",
		Subjects:        []string{countersPrefix + "*.*"},
		Retention:       jetstream.LimitsPolicy,
		Storage:         jetstream.FileStorage,
		Replicas:        opts.Replicas,
		AllowMsgCounter: true,
		// No direct gets: they may be answered by a lagging replica, and a
		// status read from one stays stale until the next increment.
		AllowDirect:       false,
		MaxMsgsPerSubject: 1,
		// Increments that must count once (CountOnce) carry a
		// Nats-Msg-Id; a repeat inside this window is dropped.
		Duplicates: CountOnceWindow,
	}}
	opts.streamLimits(&streams[0], &streams[1])
	for _, cfg := range streams {
		if err := ensureStream(ctx, js, cfg); err != nil {
			return nil, err
		}
	}
	q.dedupe, err = ensureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:         DedupeBucket,
		Description:    "Provider delivery ids seen inside each endpoint's dedupe window",
		Storage:        jetstream.FileStorage,
		Replicas:       opts.Replicas,
		TTL:            opts.MaxDedupeWindow,
		LimitMarkerTTL: time.Minute,
	})
	if err != nil {
		return nil, err
	}
	q.state, err = ensureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      StateBucket,
		Description: "Last delivery and last failure per endpoint",
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, err
	}
	q.attempts, err = ensureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      AttemptsBucket,
		Description: "Failed delivery attempts per stored event",
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		// An entry outliving its event (e.g. a purge mid-retry) expires.
		TTL: 30 * 24 * time.Hour,
	})
	if err != nil {
		return nil, err
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
	q := &Queue{NC: nc, JS: js, opts: opts, counters: &counterBatch{js: js}}
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
	// ReplayGuard says the dedupe marker is the provider's replay
	// protection (Mailgun's single-use tokens): then the event is stored
	// only once its marker is written, see Enqueue.
	ReplayGuard bool
}

// EnqueueResult says what Enqueue did.
type EnqueueResult struct {
	// Duplicate is true when the delivery id was already stored inside the
	// dedupe window: nothing new was stored.
	Duplicate bool
	// Sequence of the stored event in the events stream; for a duplicate,
	// of the event first stored, when its marker says.
	Sequence uint64
	// CountID names the stored event for CountReceived.
	CountID string
	// MarkedAt is when a duplicate's marker was written: a marker only
	// seconds old may belong to a request that stored the event and died
	// before it counted it (see CountReceived).
	MarkedAt time.Time
}

// duplicateOf is the result for a delivery whose marker exists.
func duplicateOf(entry jetstream.KeyValueEntry) EnqueueResult {
	seq, _ := strconv.ParseUint(string(entry.Value()), 10, 64)
	return EnqueueResult{Duplicate: true, Sequence: seq, MarkedAt: entry.Created()}
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
//
// A guarded event (ev.ReplayGuard) is the exception: its marker is what
// refuses a replayed token, so it must exist before the event does, see
// enqueueGuarded.
func (q *Queue) Enqueue(ctx context.Context, ev *Event, window time.Duration) (EnqueueResult, error) {
	r, err := q.enqueue(ctx, ev, window)
	// Copies of one delivery share one count id, whichever of them stored
	// it: the dedupe key (a duplicate's reported sequence is not reliable
	// while a replicated stream is still storing the first copy).
	switch {
	case ev.DeliveryID != "":
		r.CountID = dedupeKey(ev.EndpointUID, ev.DeliveryID)
	case r.Sequence > 0:
		r.CountID = "seq-" + strconv.FormatUint(r.Sequence, 10)
	}
	if err == nil && !r.Duplicate {
		// What waits for delivery counts against the endpoint's quota
		// until the dispatcher finishes it (see CounterQueuedBytes).
		_ = q.Incr(ev.EndpointUID, CounterQueuedBytes, int64(len(ev.Body)))
	}
	return r, err
}

func (q *Queue) enqueue(ctx context.Context, ev *Event, window time.Duration) (EnqueueResult, error) {
	ctx, cancel := context.WithTimeout(ctx, q.opts.PublishTimeout)
	defer cancel()
	window = min(window, q.opts.MaxDedupeWindow)
	if ev.DeliveryID == "" {
		ack, err := q.JS.PublishMsg(ctx, eventMsg(ev))
		if err != nil {
			return EnqueueResult{}, fmt.Errorf("%w: storing event: %v", ErrUnavailable, err)
		}
		return EnqueueResult{Sequence: ack.Sequence}, nil
	}
	key := dedupeKey(ev.EndpointUID, ev.DeliveryID)
	if ev.ReplayGuard {
		return q.enqueueGuarded(ctx, ev, key, window)
	}
	if entry, err := q.dedupe.Get(ctx, key); err == nil {
		return duplicateOf(entry), nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return EnqueueResult{}, fmt.Errorf("%w: reading dedupe marker: %v", ErrUnavailable, err)
	}
	ack, err := q.publishEvent(ctx, ev, key)
	if err != nil {
		return EnqueueResult{}, fmt.Errorf("%w: storing event: %v", ErrUnavailable, err)
	}
	// The event is stored: a failure here only weakens dedupe, so it must
	// not turn into an error the provider would retry on. A duplicate the
	// stream caught gets its marker too, in case the first store's write
	// was the one lost.
	_, _ = q.dedupe.Create(ctx, key, []byte(strconv.FormatUint(ack.Sequence, 10)), jetstream.KeyTTL(window))
	return EnqueueResult{Duplicate: ack.Duplicate, Sequence: ack.Sequence}, nil
}

// markerClaimed is the value of a guarded event's marker until the event
// is known to be stored; then the marker holds the event's sequence.
const markerClaimed = "claimed"

// enqueueGuarded stores an event whose dedupe marker is a replay guard.
//
// The marker is claimed first: if it cannot be written nothing is stored
// and the provider, answered 503, retries later. Storing first would let
// every replay of a token through for as long as markers cannot be
// written, and store each of the provider's own retries again once the
// stream's two-minute Nats-Msg-Id window has passed.
//
// A claim alone does not prove the event was stored (the publish may have
// failed after it), so a later request that finds a claim publishes again
// under the same Nats-Msg-Id, which the stream counts once, and only a
// marker holding a sequence answers duplicate outright. The event is
// accepted once its marker says stored; if that last write fails the
// provider is asked to retry, which may deliver the event twice (the
// usual at-least-once) but closes the window for replays.
func (q *Queue) enqueueGuarded(ctx context.Context, ev *Event, key string, window time.Duration) (EnqueueResult, error) {
	rev, err := q.dedupe.Create(ctx, key, []byte(markerClaimed), jetstream.KeyTTL(window))
	if errors.Is(err, jetstream.ErrKeyExists) {
		entry, gerr := q.dedupe.Get(ctx, key)
		if gerr != nil {
			return EnqueueResult{}, fmt.Errorf("%w: reading dedupe marker: %v", ErrUnavailable, gerr)
		}
		if string(entry.Value()) != markerClaimed {
			return duplicateOf(entry), nil
		}
		rev = entry.Revision()
	} else if err != nil {
		return EnqueueResult{}, fmt.Errorf("%w: writing dedupe marker, which guards this provider against replays: %v", ErrUnavailable, err)
	}
	ack, err := q.publishEvent(ctx, ev, key)
	if err != nil {
		return EnqueueResult{}, fmt.Errorf("%w: storing event: %v", ErrUnavailable, err)
	}
	if err := q.markStored(ctx, key, rev, ack.Sequence, window); err != nil {
		return EnqueueResult{}, fmt.Errorf("%w: recording the stored event in its dedupe marker: %v", ErrUnavailable, err)
	}
	return EnqueueResult{Duplicate: ack.Duplicate, Sequence: ack.Sequence}, nil
}

// markStored replaces the claim at revision rev with the event's sequence,
// keeping the marker's TTL (KeyValue.Update cannot set one). Losing the
// race to another request that stored the same event is success.
func (q *Queue) markStored(ctx context.Context, key string, rev, seq uint64, ttl time.Duration) error {
	msg := &nats.Msg{Subject: "$KV." + DedupeBucket + "." + key, Data: []byte(strconv.FormatUint(seq, 10))}
	_, err := q.JS.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(ttl))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		if entry, gerr := q.dedupe.Get(ctx, key); gerr == nil && string(entry.Value()) != markerClaimed {
			return nil
		}
	}
	return err
}

// errCodeMsgIDInProcess: a replicated stream is still storing another
// message with the same Nats-Msg-Id (two copies of one delivery racing
// through two receivers). Once it is stored, the same publish is answered
// as a duplicate.
const errCodeMsgIDInProcess = 10158

// publishEvent stores ev under its dedupe key, waiting out a concurrent
// copy still in process instead of refusing the provider.
func (q *Queue) publishEvent(ctx context.Context, ev *Event, key string) (*jetstream.PubAck, error) {
	for pause := 5 * time.Millisecond; ; pause *= 2 {
		ack, err := q.JS.PublishMsg(ctx, eventMsg(ev), jetstream.WithMsgID(key))
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeMsgIDInProcess || pause > 500*time.Millisecond {
			return ack, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(pause):
		}
	}
}

// eventMsg is ev as stored in the events stream.
func eventMsg(ev *Event) *nats.Msg {
	msg := &nats.Msg{Subject: EventsSubject(ev.EndpointUID), Header: nats.Header{}, Data: ev.Body}
	for k, vs := range ev.Header {
		for _, v := range vs {
			msg.Header.Add(HeaderOrigPrefix+k, v)
		}
	}
	msg.Header.Set(HeaderEndpoint, ev.Endpoint)
	msg.Header.Set(HeaderProvider, ev.Provider)
	msg.Header.Set(HeaderReceivedAt, ev.ReceivedAt.UTC().Format(time.RFC3339Nano))
	if ev.DeliveryID != "" {
		msg.Header.Set(HeaderDelivery, ev.DeliveryID)
	}
	return msg
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
	// QueuedBytes is the bytes of events waiting for delivery.
	QueuedBytes int64
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
		case CounterQueuedBytes:
			c.QueuedBytes = v
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
		// Back in the queue, it counts against the endpoint's quota again.
		_ = q.Incr(uid, CounterQueuedBytes, int64(len(msg.Data())))
		n++
		if md.Sequence.Stream >= last.Sequence {
			return n, nil
		}
	}
}
