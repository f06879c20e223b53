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
	"github.com/nats-io/nuid"
)

// Names of the JetStream objects.
const (
	EventsStream   = "HOOKGATE_EVENTS"
	DLQStream      = "HOOKGATE_DLQ"
	CountersStream = "HOOKGATE_COUNTERS"
	StateBucket    = "hookgate-state"
	AttemptsBucket = "hookgate-attempts"

	eventsPrefix   = "hookgate.events."
	seenPrefix     = "hookgate.seen."
	dlqPrefix      = "hookgate.dlq."
	countersPrefix = "hookgate.counters."
)

// Headers on stored events. Original request headers are kept under
// HeaderOrigPrefix so that they cannot collide with ours or with NATS'.
const (
	HeaderEndpoint = "Hookgate-Endpoint"
	HeaderProvider = "Hookgate-Provider"
	HeaderDelivery = "Hookgate-Delivery-Id"
	// HeaderEventID is the event's own id, given when it is stored and
	// kept through fan-out, dead letters and replays: the target's
	// Idempotency-Key and CloudEvents ce-id.
	HeaderEventID    = "Hookgate-Event-Id"
	HeaderReceivedAt = "Hookgate-Received-At"
	HeaderLastError  = "Hookgate-Last-Error"
	HeaderAttempts   = "Hookgate-Attempts"
	HeaderOrigPrefix = "Orig-"
)

// Counter names under hookgate.counters.<uid>.
const (
	CounterRejected     = "rejected"
	CounterDuplicates   = "duplicates"
	CounterDelivered    = "delivered"
	CounterRetries      = "retries"
	CounterDeadLettered = "deadLettered"
	// CounterReplayed counts dead letters moved back into the queue.
	CounterReplayed = "replayed"
	// CounterDropped counts events a target's filter did not want (tallied).
	CounterDropped = "dropped"
)

var allCounters = []string{CounterReplayed, CounterRejected, CounterDuplicates, CounterDelivered, CounterRetries, CounterDeadLettered, CounterQueuedBytes}

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
	// RaceWindow is the events stream's Nats-Msg-Id window, which catches
	// copies of one delivery racing each other before the first one's
	// dedupe marker is written. Defaults to 2 minutes; tests shorten it.
	RaceWindow time.Duration
	// MaxEventsPerEndpoint and MaxDeadLettersPerEndpoint are the ceilings
	// of one endpoint's queued events and dead letters. Default to
	// DefaultMaxEventsPerEndpoint and DefaultMaxDeadLettersPerEndpoint.
	MaxEventsPerEndpoint, MaxDeadLettersPerEndpoint int64
	// MaxStoreBytes bounds the events and dead-letter streams and the
	// bodies bucket together (0: only the server's own store limit). Keep
	// it below the volume.
	MaxStoreBytes int64
	// InlineBodyMax is the longest body stored inside its event; longer
	// ones go to the bodies bucket, and the event holds a reference (see
	// bodies.go). Defaults to DefaultInlineBodyMax; never more than the
	// server's max_payload less MessageHeadroom.
	InlineBodyMax int64
	// BodyMaxAge is the bodies bucket's MaxAge, the longest an object
	// outlives its event when nothing removed it. Defaults to
	// DeadLetterMaxAge plus DefaultBodyRetentionMargin: it must exceed
	// the longest an event waits in the queue (a suspended endpoint's wait
	// included) plus DeadLetterMaxAge, or a body may age out before its
	// event is delivered.
	BodyMaxAge time.Duration
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
	if o.RaceWindow <= 0 {
		o.RaceWindow = 2 * time.Minute
	}
	if o.MaxEventsPerEndpoint <= 0 {
		o.MaxEventsPerEndpoint = DefaultMaxEventsPerEndpoint
	}
	if o.MaxDeadLettersPerEndpoint <= 0 {
		o.MaxDeadLettersPerEndpoint = DefaultMaxDeadLettersPerEndpoint
	}
	if o.InlineBodyMax <= 0 {
		o.InlineBodyMax = DefaultInlineBodyMax
	}
	if o.BodyMaxAge <= 0 {
		o.BodyMaxAge = o.DeadLetterMaxAge + DefaultBodyRetentionMargin
	}
}

// Queue is a connection to the JetStream layout.
type Queue struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	opts     Options
	state    jetstream.KeyValue
	attempts jetstream.KeyValue
	counters *counterBatch
	tally    *tally
	// bodies is the bucket of bodies stored by reference.
	bodies bodyStore
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
	q := &Queue{NC: nc, JS: js, opts: opts, counters: &counterBatch{js: js}, tally: newTally(js, opts.PublishTimeout)}
	streams := []jetstream.StreamConfig{{
		Name:        EventsStream,
		Description: "Verified webhook events waiting for delivery",
		// Events, and the dedupe markers of their delivery ids (with a TTL,
		// the endpoint's window; no consumer reads them), see Enqueue.
		Subjects:    []string{eventsPrefix + "*", seenPrefix + "*.*"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		MaxMsgSize:  MaxPayload,
		AllowMsgTTL: true,
		// A short window catches concurrent redeliveries racing through
		// two replicas; the markers cover the endpoint's window.
		Duplicates: opts.RaceWindow,
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
	}, {
		Name:        TallyStream,
		Description: "Delivered and dead-lettered events per endpoint, counted once (see tally.go)",
		Subjects:    []string{tallyPrefix + "*"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		// Read from the leader only: every write is a compare-and-set
		// against what was read.
		AllowDirect:       false,
		MaxMsgsPerSubject: 1,
		Duplicates:        2 * time.Minute,
	}}
	opts.streamLimits(&streams[0], &streams[1])
	// Bodies above InlineBodyMax, by reference (bodies.go).
	streams = append(streams, opts.bodiesStream())
	opts.bodyLimits(&streams[0], &streams[1], &streams[len(streams)-1])
	for _, cfg := range streams {
		if err := ensureStream(ctx, js, cfg); err != nil {
			return nil, err
		}
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
	if err := q.bodies.open(ctx, js); err != nil {
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
	q, err := attach(ctx, nc, js, opts, " (has a receiver started?)")
	if err != nil {
		return nil, err
	}
	q.tally = newTally(js, opts.PublishTimeout)
	return q, nil
}

// attach opens the buckets of an existing layout through js (this
// cluster's JetStream, or another domain's); where says which, in errors.
// The Queue counts no finished events: Attach adds the tally, an edge
// queue needs none.
func attach(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, opts Options, where string) (*Queue, error) {
	opts.defaults()
	q := &Queue{NC: nc, JS: js, opts: opts, counters: &counterBatch{js: js}}
	var err error
	if q.state, err = js.KeyValue(ctx, StateBucket); err != nil {
		return nil, fmt.Errorf("opening bucket %s%s: %w", StateBucket, where, err)
	}
	if q.attempts, err = js.KeyValue(ctx, AttemptsBucket); err != nil {
		return nil, fmt.Errorf("opening bucket %s%s: %w", AttemptsBucket, where, err)
	}
	// Receivers of an older version made no bodies bucket: it is opened
	// on first use instead (until it exists, a body above InlineBodyMax
	// cannot be stored).
	if err := q.bodies.open(ctx, js); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("%w%s", err, where)
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

// StatusSubjects match every write that changes an endpoint's status: its
// counters, its tally, and its targets' shared state (a circuit opening or
// closing, a pause), written to the state bucket.
var StatusSubjects = []string{CounterSubjectsFilter, tallyPrefix + "*", targetStatePrefix + "*" + targetStateSuffix}

// targetStatePrefix is where the state bucket's entries are published.
const targetStatePrefix = "$KV." + StateBucket + "."

// UIDFromCounterSubject returns the endpoint UID of a counter or tally
// subject.
// A target's own key (TargetKey) gives its endpoint's UID.
func UIDFromCounterSubject(subject string) (string, bool) {
	if rest, ok := strings.CutPrefix(subject, targetStatePrefix); ok {
		key, ok := strings.CutSuffix(rest, targetStateSuffix)
		uid, _ := SplitTargetKey(key)
		return uid, ok && uid != "" && !strings.Contains(key, ".")
	}
	if key, ok := strings.CutPrefix(subject, tallyPrefix); ok {
		uid, _ := SplitTargetKey(key)
		return uid, uid != "" && !strings.Contains(key, ".")
	}
	rest, ok := strings.CutPrefix(subject, countersPrefix)
	if !ok {
		return "", false
	}
	key, _, ok := strings.Cut(rest, ".")
	uid, _ := SplitTargetKey(key)
	return uid, ok && uid != ""
}

// ConsumerName is the durable consumer that delivers an endpoint's events.
func ConsumerName(uid string) string { return "ep-" + uid }

// Event is a verified webhook as stored.
type Event struct {
	// ID is the event's Hookgate-Event-Id; empty: one is made.
	ID          string
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
	// Sequence of the stored event in the events stream (zero for a
	// duplicate its marker caught).
	Sequence uint64
}

// ErrUnavailable wraps every failure to store; the receiver answers 503.
var ErrUnavailable = errors.New("queue unavailable")

// DedupeKey is the key of a delivery id's marker: <uid>.<hash of the id>.
func DedupeKey(uid, deliveryID string) string { return dedupeKey(uid, deliveryID) }

func dedupeKey(uid, deliveryID string) string {
	sum := sha256.Sum256([]byte(deliveryID))
	return uid + "." + hex.EncodeToString(sum[:16])
}

// SeenSubject is the subject of a delivery's dedupe marker in the events
// stream.
func SeenSubject(uid, deliveryID string) string { return seenPrefix + dedupeKey(uid, deliveryID) }

// Enqueue durably stores ev unless its delivery id was seen within window.
// It returns only after JetStream acknowledged the write, so a nil error
// means the event survives a crash of this process.
//
// It costs one synchronous round trip, the one the bare verify-and-publish
// program pays too. The dedupe check is part of that publish, not a read
// before it: the event carries Nats-Expected-Last-Subject-Sequence 0 for
// its marker's subject (hookgate.seen.<uid>.<hash>, in the same stream),
// so the server refuses to store it when a marker exists, and it carries
// the dedupe key as Nats-Msg-Id, so a copy racing it (through another
// replica, or a provider retrying while the marker is being written) is
// acknowledged as a duplicate by the stream's own window. The marker is
// written after the ack without waiting for it (with the endpoint's window
// as its TTL): a crash in between can at worst store a redelivery twice
// once that two-minute window has passed, never drop one.
//
// A guarded event (ev.ReplayGuard: the marker is the provider's replay
// protection, Mailgun's single-use tokens) waits for its marker before it
// is accepted; if the marker cannot be written the provider is answered
// 503 and its retry, caught by the Nats-Msg-Id window, writes it.
func (q *Queue) Enqueue(ctx context.Context, ev *Event, window time.Duration) (EnqueueResult, error) {
	r, err := q.enqueue(ctx, ev, window)
	if err == nil && !r.Duplicate {
		// What waits for delivery counts against the endpoint's quota
		// until the dispatcher finishes it (see CounterQueuedBytes).
		_ = q.Incr(ev.EndpointUID, CounterQueuedBytes, int64(len(ev.Body)))
	}
	return r, err
}

func (q *Queue) enqueue(ctx context.Context, ev *Event, window time.Duration) (EnqueueResult, error) {
	msg := eventMsg(ev)
	// A large body is stored first, so that an acknowledged event's body
	// is durable too; an event that is then not stored (refused, or a
	// duplicate) takes its object with it. One whose publish may have
	// been stored (a timeout) keeps it: the bucket's MaxAge removes it if
	// not.
	var ref *bodyRef
	if int64(len(ev.Body)) > q.inlineMax() {
		var err error
		if ref, err = q.putBody(ctx, ev.EndpointUID, ev.Body); err != nil {
			return EnqueueResult{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		ref.setOn(msg.Header)
		msg.Data = nil
	}
	ctx, cancel := context.WithTimeout(ctx, q.opts.PublishTimeout)
	defer cancel()
	if ev.DeliveryID == "" {
		ack, err := q.JS.PublishMsg(ctx, msg)
		if err != nil {
			if notStored(err) {
				q.dropUnstoredBody(ctx, ref)
			}
			return EnqueueResult{}, fmt.Errorf("%w: storing event: %v", ErrUnavailable, err)
		}
		return EnqueueResult{Sequence: ack.Sequence}, nil
	}
	if window <= 0 || window > q.opts.MaxDedupeWindow {
		window = q.opts.MaxDedupeWindow
	}
	window = max(window, time.Second) // the smallest TTL JetStream takes
	key := dedupeKey(ev.EndpointUID, ev.DeliveryID)
	seen := seenPrefix + key
	ack, err := q.publishEvent(ctx, msg, key, seen)
	if isWrongLastSequence(err) {
		q.dropUnstoredBody(ctx, ref)
		return EnqueueResult{Duplicate: true}, nil
	}
	if err != nil {
		if notStored(err) {
			q.dropUnstoredBody(ctx, ref)
		}
		return EnqueueResult{}, fmt.Errorf("%w: storing event: %v", ErrUnavailable, err)
	}
	if ack.Duplicate {
		// The first copy is stored, with its own body object.
		q.dropUnstoredBody(ctx, ref)
	}
	// The event is stored. A duplicate the stream's window caught gets its
	// marker too, in case the first copy's marker was the write lost.
	marker := &nats.Msg{Subject: seen, Data: []byte(strconv.FormatUint(ack.Sequence, 10))}
	if !ev.ReplayGuard {
		_, _ = q.JS.PublishMsgAsync(marker, jetstream.WithMsgTTL(window))
		return EnqueueResult{Duplicate: ack.Duplicate, Sequence: ack.Sequence}, nil
	}
	if _, err := q.JS.PublishMsg(ctx, marker, jetstream.WithMsgTTL(window)); err != nil {
		return EnqueueResult{}, fmt.Errorf("%w: writing dedupe marker, which guards this provider against replays: %v", ErrUnavailable, err)
	}
	return EnqueueResult{Duplicate: ack.Duplicate, Sequence: ack.Sequence}, nil
}

// isWrongLastSequence reports the server's refusal of an expected last
// sequence: for an event, that its marker exists.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// errCodeMsgIDInProcess: a replicated stream is still storing another
// message with the same Nats-Msg-Id (two copies of one delivery racing
// through two receivers). Once it is stored, the same publish is answered
// as a duplicate.
const errCodeMsgIDInProcess = 10158

// publishEvent stores msg, an event, under its dedupe key, unless subject
// seen holds a marker, waiting out a concurrent copy still in process
// instead of refusing the provider.
func (q *Queue) publishEvent(ctx context.Context, msg *nats.Msg, key, seen string) (*jetstream.PubAck, error) {
	for pause := 5 * time.Millisecond; ; pause *= 2 {
		ack, err := q.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(key), jetstream.WithExpectLastSequenceForSubject(0, seen))
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
	// Sized once for the request's headers, ours and the publish
	// options' (Nats-Msg-Id, the expected last sequence and its subject);
	// the request's value slices are shared, not copied: it is the hot path.
	h := make(nats.Header, len(ev.Header)+8)
	for k, vs := range ev.Header {
		if len(vs) > 0 {
			h[HeaderOrigPrefix+k] = vs
		}
	}
	// Our values share one array (capacity-capped, so an append by the
	// publish options cannot spill into the next one).
	id := ev.ID
	if id == "" {
		id = nuid.Next()
	}
	v := [...]string{ev.Endpoint, ev.Provider, ev.ReceivedAt.UTC().Format(time.RFC3339Nano), ev.DeliveryID, id}
	vs := v[:]
	h[HeaderEndpoint] = vs[0:1:1]
	h[HeaderProvider] = vs[1:2:2]
	h[HeaderReceivedAt] = vs[2:3:3]
	if ev.DeliveryID != "" {
		h[HeaderDelivery] = vs[3:4:4]
	}
	h[HeaderEventID] = vs[4:5:5]
	msg := &nats.Msg{Subject: EventsSubject(ev.EndpointUID), Header: h, Data: ev.Body}
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
	// Received is every event stored: those delivered, those dead-lettered
	// (less those replayed, which are stored again) and those still
	// stored. It is derived rather than counted, so storing an event costs
	// no counter write, and it is exact whenever the others are: each
	// event is stored, then counted delivered or dead-lettered before it
	// leaves the stream. An event being finished right now (counted, not
	// yet acknowledged) counts twice for that moment.
	Received int64

	Rejected, Duplicates, Delivered, Retries, DeadLettered int64
	// Dropped is events a target's filter did not want.
	Dropped int64
	// Replayed is dead letters moved back into the queue.
	Replayed int64
	// QueuedBytes is the bytes of events waiting for delivery.
	QueuedBytes int64
	// Pending is stored-but-not-finished events: waiting, in flight or in backoff.
	Pending int64
}

// Add adds o's totals to c: the counters of several queues (a target's
// partitions) as one.
func (c *Counters) Add(o Counters) {
	c.Received += o.Received
	c.Rejected += o.Rejected
	c.Duplicates += o.Duplicates
	c.Delivered += o.Delivered
	c.Retries += o.Retries
	c.DeadLettered += o.DeadLettered
	c.Dropped += o.Dropped
	c.Replayed += o.Replayed
	c.QueuedBytes += o.QueuedBytes
	c.Pending += o.Pending
}

// ReadCounters reads every counter of an endpoint and its pending count.
func (q *Queue) ReadCounters(ctx context.Context, uid string) (Counters, error) {
	// Pending first: an event finished between the two reads then counts
	// twice for a moment rather than not at all.
	var c Counters
	// What the work queue holds of the endpoint: waiting, in flight or in
	// backoff (its consumer may not exist: idle endpoints have none).
	es, err := q.JS.Stream(ctx, EventsStream)
	if err != nil {
		return c, fmt.Errorf("opening stream %s: %w", EventsStream, err)
	}
	si, err := es.Info(ctx, jetstream.WithSubjectFilter(EventsSubject(uid)))
	if err != nil {
		return c, fmt.Errorf("reading stream %s: %w", EventsStream, err)
	}
	c.Pending = int64(si.State.Subjects[EventsSubject(uid)])
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
		case CounterReplayed:
			c.Replayed = v
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
	// Finished events are tallied (exactly once, see tally.go); counters
	// of the same name written before the tally existed still count.
	t, err := q.readTally(ctx, uid)
	if err != nil {
		return c, err
	}
	c.Delivered += t.Delivered
	c.DeadLettered += t.DeadLettered
	c.Dropped = t.Dropped
	c.Received = c.Delivered + c.DeadLettered + c.Dropped - c.Replayed + c.Pending
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
	Time       time.Time `json:"time"`
	Reason     string    `json:"reason"`
	Message    string    `json:"message,omitempty"`
	DeliveryID string    `json:"deliveryID,omitempty"`
	// EventID is the event's Hookgate-Event-Id.
	EventID string `json:"eventID,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	// NextAttempt is when the event is tried again; nil once it was
	// dead-lettered.
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
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
// it failed, and returns once that copy is durable. A body stored by
// reference stays where it is: the copy keeps the reference headers (and
// the empty data), so a replay finds the body again.
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
// queued events, dedupe markers, dead letters, counters, state and the
// bodies its events refer to.
func (q *Queue) Purge(ctx context.Context, uid string) error {
	if err := q.JS.DeleteConsumer(ctx, EventsStream, ConsumerName(uid)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("deleting consumer: %w", err)
	}
	purges := []struct{ stream, subject string }{
		{EventsStream, EventsSubject(uid)},
		{DLQStream, DLQSubject(uid)},
		{CountersStream, countersPrefix + uid + ".*"},
		{TallyStream, TallySubject(uid)},
		{EventsStream, seenPrefix + uid + ".*"},
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
	// Last: no event or dead letter refers to them any more.
	return q.purgeBodies(ctx, uid)
}

// Replay moves an endpoint's dead letters back into its events stream, in
// the order they died, and returns how many it moved. Each is re-published
// and counted as replayed before it is deleted from the dead-letter stream,
// so a crash midway can only replay one twice, never lose it. Dead letters arriving during the
// replay are left for the next one.
func (q *Queue) Replay(ctx context.Context, uid string) (int64, error) {
	var n int64
	err := q.scanDeadLetters(ctx, uid, func(dlq jetstream.Stream, msg jetstream.Msg, seq uint64) (bool, error) {
		if err := q.requeue(ctx, dlq, uid, msg, seq); err != nil {
			return false, err
		}
		n++
		return true, nil
	})
	if err != nil {
		return n, fmt.Errorf("after %d: %w", n, err)
	}
	return n, nil
}

// DeadLetter is one dead letter as ReplayMatching shows it to a matcher.
type DeadLetter struct {
	EventID, DeliveryID, Provider string
	ReceivedAt                    time.Time
	// Header is the original request's headers as stored.
	Header map[string][]string
	// Body is the event's body, when ReplayMatching was asked for bodies.
	Body []byte
}

// ReplayMatching moves the dead letters under keys (an endpoint's queue
// keys, EndpointKeys) that match back into their queues, as Replay does,
// at most limit of them, and returns the event ids it moved; with dryRun
// it only finds them. withBodies reads each dead letter's body (also one
// stored by reference) for match.
func (q *Queue) ReplayMatching(ctx context.Context, keys []string, match func(*DeadLetter) bool, withBodies bool, limit int, dryRun bool) ([]string, error) {
	var ids []string
	for _, key := range keys {
		if len(ids) >= limit {
			break
		}
		err := q.scanDeadLetters(ctx, key, func(dlq jetstream.Stream, msg jetstream.Msg, seq uint64) (bool, error) {
			dl := deadLetterOf(msg.Headers())
			if withBodies {
				body, err := q.EventBody(ctx, msg.Headers(), msg.Data())
				if err != nil && !errors.Is(err, ErrBodyMissing) {
					return false, fmt.Errorf("reading dead letter %d's body: %w", seq, err)
				}
				dl.Body = body
			}
			if !match(dl) {
				return true, nil
			}
			if !dryRun {
				if err := q.requeue(ctx, dlq, key, msg, seq); err != nil {
					return false, err
				}
			}
			ids = append(ids, dl.EventID)
			return len(ids) < limit, nil
		})
		if err != nil {
			return ids, fmt.Errorf("replaying dead letters of %s after %d: %w", key, len(ids), err)
		}
	}
	return ids, nil
}

func deadLetterOf(h nats.Header) *DeadLetter {
	dl := &DeadLetter{EventID: h.Get(HeaderEventID), DeliveryID: h.Get(HeaderDelivery), Provider: h.Get(HeaderProvider),
		Header: make(map[string][]string, len(h))}
	dl.ReceivedAt, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderReceivedAt))
	for k, vs := range h {
		if orig, ok := strings.CutPrefix(k, HeaderOrigPrefix); ok {
			dl.Header[orig] = vs
		}
	}
	return dl
}

// scanDeadLetters calls fn with each dead letter of key, oldest first, up
// to the last one there when it started, until fn says stop or fails.
func (q *Queue) scanDeadLetters(ctx context.Context, key string, fn func(dlq jetstream.Stream, msg jetstream.Msg, seq uint64) (more bool, err error)) error {
	dlq, err := q.JS.Stream(ctx, DLQStream)
	if err != nil {
		return fmt.Errorf("opening stream %s: %w", DLQStream, err)
	}
	info, err := dlq.Info(ctx, jetstream.WithSubjectFilter(DLQSubject(key)))
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", DLQStream, err)
	}
	if info.State.Subjects[DLQSubject(key)] == 0 {
		return nil
	}
	last, err := dlq.GetLastMsgForSubject(ctx, DLQSubject(key))
	if err != nil {
		return fmt.Errorf("finding the last dead letter: %w", err)
	}
	cons, err := dlq.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{DLQSubject(key)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("reading dead letters: %w", err)
	}
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return fmt.Errorf("reading dead letters: %w", err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return err
		}
		more, err := fn(dlq, msg, md.Sequence.Stream)
		if err != nil || !more || md.Sequence.Stream >= last.Sequence {
			return err
		}
	}
}

// requeue moves one dead letter back into key's queue.
func (q *Queue) requeue(ctx context.Context, dlq jetstream.Stream, key string, msg jetstream.Msg, seq uint64) error {
	h := nats.Header{}
	for k, vs := range msg.Headers() {
		if k == HeaderLastError || k == HeaderAttempts || strings.HasPrefix(k, "Nats-") {
			continue
		}
		h[k] = vs
	}
	pctx, cancel := context.WithTimeout(ctx, q.opts.PublishTimeout)
	_, err := q.JS.PublishMsg(pctx, &nats.Msg{Subject: EventsSubject(key), Header: h, Data: msg.Data()})
	cancel()
	if err != nil {
		return fmt.Errorf("re-queueing dead letter %d: %w", seq, err)
	}
	// Stored again, it is received again unless counted as replayed
	// (see Counters.Received); once per dead letter, before it goes.
	if _, err := q.CountOnce(ctx, key, CounterReplayed, "dlq-"+strconv.FormatUint(seq, 10), 1); err != nil {
		return fmt.Errorf("counting replayed dead letter %d: %w", seq, err)
	}
	if err := dlq.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("removing replayed dead letter %d: %w", seq, err)
	}
	// Back in the queue, it counts against the endpoint's quota again,
	// with its body's real size when the body is by reference.
	_ = q.Incr(key, CounterQueuedBytes, BodySize(msg.Headers(), msg.Data()))
	return nil
}
