package history

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

// ErrNotFound is Get's error for an event the history does not hold.
var ErrNotFound = errors.New("event not found in history")

// ErrBadContinue is List's error for a Query.Continue it did not write.
var ErrBadContinue = errors.New("history: invalid continue token")

const (
	// callTimeout bounds one List or Get.
	callTimeout = 10 * time.Second
	// nextWait is the longest List waits for a record it was told is
	// there (one that expired meanwhile never comes).
	nextWait = 2 * time.Second
	// clockSkew is how far apart a record's time (the receiver's clock)
	// and its stream timestamp (the server's), or two receivers' records
	// in stream order, may be: a scan from Since starts that much earlier
	// by the stream's clock, and stops only at a record that much past
	// Until; the filters compare the record's own time.
	clockSkew = 5 * time.Second
	// maxAttemptsRead bounds the attempts Get reads of one event.
	maxAttemptsRead = 10000
	// statusChunk is how many candidates List judges at once when it
	// filters on status.
	statusChunk = 100
	// wildcardChunk is how many events' attempts one multi_last names
	// when the targets are not known (each may match several subjects).
	wildcardChunk = 50
	// listPrefetch is how many records a listing's consumer has in
	// flight: records of up to ~90 KB (a 64 KiB body in base64) make it
	// at most ~12 MB. (Not PullMaxMessagesWithBytesLimit: with it the
	// tests saw nats.go v1.55's iterator buffer overflow, a slow
	// consumer, and the ordered consumer reset.)
	listPrefetch = 128
)

// Reader reads the history, for the events API. Its methods are safe for
// concurrent use.
type Reader struct {
	js      jetstream.JetStream
	timeout time.Duration
}

// NewReader returns a Reader on js.
func NewReader(js jetstream.JetStream) *Reader {
	return &Reader{js: js, timeout: callTimeout}
}

// attemptRec is one attempt record as read.
type attemptRec struct {
	seq uint64
	a   eventsv1.Attempt
}

// candidate is a request record that passed List's filters but status.
type candidate struct {
	seq uint64
	ev  eventsv1.Event
}

// List returns a page of the request records of the endpoint with UID
// uid, oldest first, that match q (its filters combine with AND):
// Outcome, Status (of an accepted event, see Get; StatusFailed selects
// Retrying and DeadLettered), DeliveryID and Type (exact), Since and
// Until (the record's time; Until exclusive), Text (case-insensitive, in
// any header value or the body). targets are the endpoint's target
// names, whose latest attempts give each accepted event's Status (see
// Get); each item's Attempts holds only the attempt that decided it.
//
// A page reads at most eventsv1.MaxScan records (Scanned says how many),
// from q.Since or from q.Continue, and holds at most q.Limit items
// (eventsv1.DefaultLimit when 0, at most eventsv1.MaxLimit). Continue is
// set when more may follow (the page stopped at its limit, its scan bound
// or its time bound, ten seconds in all); it is empty at the end of the
// stream or at the first record more than a few seconds (clockSkew) past
// Until. A token List did not write is ErrBadContinue. A call out of
// time before it read a record fails (context.DeadlineExceeded).
//
// Without withBodies, headers, bodies and responses are left out and
// every item is marked Hidden (whether or not it had any: an item is
// Hidden exactly when the caller may not see them).
//
// The scan is an ordered consumer over hookgate.history.<uid>.req.*;
// it stops when the consumer has nothing pending, so it never waits for
// records that are not there. The statuses of a page are read with one
// multi_last direct get per thousand (event, target) pairs.
func (r *Reader) List(ctx context.Context, uid string, targets []string, q eventsv1.Query, withBodies bool) (*eventsv1.EventList, error) {
	if !validToken(uid) {
		return nil, fmt.Errorf("history: invalid endpoint uid %q", uid)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = eventsv1.DefaultLimit
	}
	limit = min(limit, eventsv1.MaxLimit)
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{requestFilter(uid)},
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: time.Minute,
		MaxResetAttempts:  2,
	}
	switch {
	case q.Continue != "":
		seq, err := decodeContinue(q.Continue)
		if err != nil {
			return nil, err
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
	case !q.Since.IsZero():
		t := q.Since.Add(-clockSkew)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	// The scan has most of the time; the last statuses the rest.
	scanEnd := start.Add(r.timeout * 7 / 10)
	if d, ok := ctx.Deadline(); ok && d.Sub(start) < r.timeout {
		scanEnd = start.Add(d.Sub(start) * 7 / 10)
	}

	out := &eventsv1.EventList{Items: []eventsv1.Event{}}
	cons, err := r.js.OrderedConsumer(ctx, Stream, cfg)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("history: reading the history of %s: %w", uid, err)
	}
	defer r.dropConsumer(ctx, cons)
	info := cons.CachedInfo()
	if info == nil || info.NumPending == 0 {
		return out, nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(int(min(info.NumPending, listPrefetch))))
	if err != nil {
		return nil, fmt.Errorf("history: reading the history of %s: %w", uid, err)
	}
	defer it.Stop()

	match := q.Match()
	var (
		cands        []candidate
		lastScanned  uint64
		lastReturned uint64
		atLimit      bool // the page filled up
		leftover     bool // ... before the candidates judged with it ran out
		end          bool // nothing more to read: end of the stream, or past Until
	)
	flush := func() error {
		if len(cands) == 0 || atLimit {
			return nil
		}
		if err := r.resolve(ctx, uid, targets, cands); err != nil {
			return err
		}
		for i := range cands {
			c := &cands[i]
			if !statusMatches(q.Status, c.ev.Status) {
				continue
			}
			if !withBodies {
				c.ev.Hide()
			}
			out.Items = append(out.Items, c.ev)
			lastReturned = c.seq
			if len(out.Items) >= limit {
				atLimit, leftover = true, i < len(cands)-1
				break
			}
		}
		cands = cands[:0]
		return nil
	}
	timedOut := false // the call's time ran out
	for !atLimit {
		if out.Scanned >= eventsv1.MaxScan {
			break
		}
		wait := min(nextWait, time.Until(scanEnd))
		if wait <= 0 {
			timedOut = true
			break
		}
		msg, err := it.Next(jetstream.NextMaxWait(wait))
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			// Told a record is there, and none came: it expired, or was
			// trimmed, meanwhile; or the call's time ran out.
			timedOut = wait < nextWait || ctx.Err() != nil
			end = !timedOut && lastScanned == 0
			break
		}
		if err != nil {
			return nil, fmt.Errorf("history: reading the history of %s: %w", uid, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return nil, fmt.Errorf("history: reading the history of %s: %w", uid, err)
		}
		out.Scanned++
		lastScanned = md.Sequence.Stream
		var ev eventsv1.Event
		if err := json.Unmarshal(msg.Data(), &ev); err == nil {
			if !q.Until.IsZero() && !ev.Time.Before(q.Until.Add(clockSkew)) {
				// Well past Until: what follows is later still.
				end = true
				break
			}
			if match(&ev) {
				cands = append(cands, candidate{seq: md.Sequence.Stream, ev: ev})
			}
		}
		end = md.NumPending == 0
		need := limit - len(out.Items)
		if q.Status != "" {
			need = max(need, statusChunk)
		}
		if len(cands) >= need || end {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		if end {
			break
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if timedOut && lastScanned == 0 {
		return nil, fmt.Errorf("history: reading the history of %s: %w", uid, context.DeadlineExceeded)
	}
	switch {
	case atLimit:
		if leftover || !end || lastReturned != lastScanned {
			out.Continue = encodeContinue(lastReturned + 1)
		}
	case !end && lastScanned > 0:
		out.Continue = encodeContinue(lastScanned + 1)
	}
	return out, nil
}

func (r *Reader) dropConsumer(ctx context.Context, c jetstream.Consumer) {
	info := c.CachedInfo()
	if info == nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = r.js.DeleteConsumer(dctx, Stream, info.Name)
}

func statusMatches(want, got eventsv1.Status) bool {
	switch want {
	case "":
		return true
	case eventsv1.StatusFailed:
		return got == eventsv1.StatusRetrying || got == eventsv1.StatusDeadLettered
	}
	return got == want
}

const continuePrefix = "h1:"

func encodeContinue(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString(strconv.AppendUint([]byte(continuePrefix), seq, 10))
}

func decodeContinue(s string) (uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, ErrBadContinue
	}
	rest, ok := strings.CutPrefix(string(b), continuePrefix)
	if !ok {
		return 0, ErrBadContinue
	}
	seq, err := strconv.ParseUint(rest, 10, 64)
	if err != nil || seq == 0 {
		return 0, ErrBadContinue
	}
	return seq, nil
}

// targetTokens returns the subject tokens of targets, each once.
func targetTokens(targets []string) []string {
	var out []string
	for _, t := range targets {
		if tok := TargetToken(t); !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out
}

// latestByTarget keeps, per event id and target token, the newest attempt.
type latestByTarget map[string]map[string]attemptRec

func (l latestByTarget) add(m storedMsg) {
	id, tok, ok := attemptTokens(m.Subject)
	if !ok {
		return
	}
	var a eventsv1.Attempt
	if json.Unmarshal(m.Data, &a) != nil {
		return
	}
	byTarget := l[id]
	if byTarget == nil {
		byTarget = map[string]attemptRec{}
		l[id] = byTarget
	}
	if old, ok := byTarget[tok]; !ok || m.Seq > old.seq {
		byTarget[tok] = attemptRec{seq: m.Seq, a: a}
	}
}

// resolve sets the Status (and Attempts: the deciding one) of each
// accepted candidate, and clears them on the others.
func (r *Reader) resolve(ctx context.Context, uid string, targets []string, cands []candidate) error {
	var ids []string
	for i := range cands {
		ev := &cands[i].ev
		ev.Attempts = nil
		if ev.Outcome != eventsv1.OutcomeAccepted {
			ev.Status = ""
			continue
		}
		ids = append(ids, ev.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	tokens := targetTokens(targets)
	latest := latestByTarget{}
	collect := func(m storedMsg) error {
		latest.add(m)
		return nil
	}
	err := r.lastAttempts(ctx, uid, ids, tokens, collect)
	if errors.Is(err, errNoDirect) {
		// Read every attempt of each event instead.
		clear(latest)
		err = nil
		for i := range cands {
			if ev := &cands[i].ev; ev.Outcome == eventsv1.OutcomeAccepted {
				if err = r.scan(ctx, eventAttemptsFilter(uid, ev.ID), ev.Time.Add(-clockSkew), maxAttemptsRead, collect); err != nil {
					break
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("history: reading the attempts of %s: %w", uid, err)
	}
	for i := range cands {
		ev := &cands[i].ev
		if ev.Outcome != eventsv1.OutcomeAccepted {
			continue
		}
		st, deciding := derive(latest[ev.ID], tokens)
		ev.Status = st
		if deciding != nil {
			ev.Attempts = []eventsv1.Attempt{deciding.a}
		}
	}
	return nil
}

// lastAttempts reads the latest attempt of each event at each target
// (every target that has one, when tokens is empty) with multi_last.
func (r *Reader) lastAttempts(ctx context.Context, uid string, ids, tokens []string, fn func(storedMsg) error) error {
	if len(tokens) > 0 {
		subjects := make([]string, 0, min(len(ids)*len(tokens), maxMultiLast))
		for _, id := range ids {
			for _, tok := range tokens {
				subjects = append(subjects, AttemptSubject(uid, id, tok))
				if len(subjects) == maxMultiLast {
					if err := r.multiLast(ctx, subjects, fn); err != nil {
						return err
					}
					subjects = subjects[:0]
				}
			}
		}
		if len(subjects) == 0 {
			return nil
		}
		return r.multiLast(ctx, subjects, fn)
	}
	for chunk := range slices.Chunk(ids, wildcardChunk) {
		if err := r.multiLastWildcard(ctx, uid, chunk, fn); err != nil {
			return err
		}
	}
	return nil
}

// multiLastWildcard asks for every target's latest attempt of ids,
// halving the request while the server finds too many.
func (r *Reader) multiLastWildcard(ctx context.Context, uid string, ids []string, fn func(storedMsg) error) error {
	subjects := make([]string, len(ids))
	for i, id := range ids {
		subjects[i] = eventAttemptsFilter(uid, id)
	}
	err := r.multiLast(ctx, subjects, fn)
	var se *statusError
	if errors.As(err, &se) && se.code == "413" && len(ids) > 1 {
		half := len(ids) / 2
		if err := r.multiLastWildcard(ctx, uid, ids[:half], fn); err != nil {
			return err
		}
		return r.multiLastWildcard(ctx, uid, ids[half:], fn)
	}
	return err
}

// statusOf is a target's status after its latest attempt.
func statusOf(o eventsv1.AttemptOutcome) eventsv1.Status {
	switch o {
	case eventsv1.AttemptDelivered:
		return eventsv1.StatusDelivered
	case eventsv1.AttemptDropped:
		return eventsv1.StatusDropped
	case eventsv1.AttemptFailed:
		return eventsv1.StatusRetrying
	case eventsv1.AttemptDeadLettered:
		return eventsv1.StatusDeadLettered
	}
	// Retried (back in the queue), or an outcome this version does not know.
	return eventsv1.StatusPending
}

func rank(s eventsv1.Status) int {
	switch s {
	case eventsv1.StatusDeadLettered:
		return 4
	case eventsv1.StatusRetrying:
		return 3
	case eventsv1.StatusPending:
		return 2
	}
	return 1 // Delivered, Dropped
}

// derive is an accepted event's status from the latest attempt at each
// target: at each token of tokens (none: Pending), or at every target
// that has one when tokens is empty. It returns the attempt that decided
// it: the newest of those whose target is in the resulting status (nil
// when none has an attempt).
func derive(latest map[string]attemptRec, tokens []string) (eventsv1.Status, *attemptRec) {
	type state struct {
		st  eventsv1.Status
		rec *attemptRec
	}
	var states []state
	if len(tokens) > 0 {
		for _, tok := range tokens {
			if rec, ok := latest[tok]; ok {
				states = append(states, state{statusOf(rec.a.Outcome), &rec})
			} else {
				states = append(states, state{eventsv1.StatusPending, nil})
			}
		}
	} else {
		for _, rec := range latest {
			states = append(states, state{statusOf(rec.a.Outcome), &rec})
		}
	}
	if len(states) == 0 {
		return eventsv1.StatusPending, nil
	}
	worst, delivered := 0, false
	for _, s := range states {
		worst = max(worst, rank(s.st))
		delivered = delivered || s.st == eventsv1.StatusDelivered
	}
	var result eventsv1.Status
	switch worst {
	case 4:
		result = eventsv1.StatusDeadLettered
	case 3:
		result = eventsv1.StatusRetrying
	case 2:
		result = eventsv1.StatusPending
	default:
		result = eventsv1.StatusDropped
		if delivered {
			result = eventsv1.StatusDelivered
		}
	}
	var deciding *attemptRec
	for _, s := range states {
		if s.st == result && s.rec != nil && (deciding == nil || s.rec.seq > deciding.seq) {
			deciding = s.rec
		}
	}
	return result, deciding
}

// Get returns the request record id of the endpoint with UID uid, with
// every attempt of it at every target, oldest first, and its Status
// derived from the latest attempt at each of targets (the endpoint's
// target names; when empty, at every target that has an attempt):
// no attempt is Pending; the latest Delivered, Dropped, Failed,
// DeadLettered or Retried is Delivered, Dropped, Retrying, DeadLettered or
// Pending; the event's is the worst of its targets' (DeadLettered, then
// Retrying, then Pending; Delivered when the rest are Delivered or
// Dropped and one is Delivered, else Dropped). Only accepted events have
// a Status. Without withBodies it is stripped as in List.
//
// ErrNotFound when there is no such record, or id (or uid) is not one
// subject token: an id with '.', '*', '>' or white space cannot name a
// record.
func (r *Reader) Get(ctx context.Context, uid, id string, targets []string, withBodies bool) (*eventsv1.Event, error) {
	if !validToken(uid) || !validToken(id) {
		return nil, ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	m, found, err := r.last(ctx, RequestSubject(uid, id))
	if err != nil {
		return nil, fmt.Errorf("history: reading event %s: %w", id, err)
	}
	if !found {
		return nil, ErrNotFound
	}
	ev := &eventsv1.Event{}
	if err := json.Unmarshal(m.Data, ev); err != nil {
		return nil, fmt.Errorf("history: decoding event %s: %w", id, err)
	}
	ev.Attempts = nil
	latest := latestByTarget{}
	// Attempts follow their request, but a record written asynchronously
	// may land a little before it: look from the request's time, less
	// the clocks' skew.
	err = r.scan(ctx, eventAttemptsFilter(uid, id), ev.Time.Add(-clockSkew), maxAttemptsRead, func(m storedMsg) error {
		var a eventsv1.Attempt
		if json.Unmarshal(m.Data, &a) == nil {
			ev.Attempts = append(ev.Attempts, a)
			latest.add(m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history: reading the attempts of event %s: %w", id, err)
	}
	if ev.Outcome == eventsv1.OutcomeAccepted {
		ev.Status, _ = derive(latest[id], targetTokens(targets))
	} else {
		ev.Status = ""
	}
	if !withBodies {
		ev.Hide()
	}
	return ev, nil
}

// Watch calls fn with each request and attempt record of the endpoint
// with UID uid stored from now on, in stream order, until ctx ends
// (Watch returns nil) or fn returns an error (Watch returns it). Records
// are stripped as in List without withBodies. No status is derived:
// an accepted event's record says Pending, others none.
func (r *Reader) Watch(ctx context.Context, uid string, withBodies bool, fn func(eventsv1.WatchEvent) error) error {
	if !validToken(uid) {
		return fmt.Errorf("history: invalid endpoint uid %q", uid)
	}
	cons, err := r.js.OrderedConsumer(ctx, Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{requestFilter(uid), attemptFilter(uid)},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("history: watching the history of %s: %w", uid, err)
	}
	defer r.dropConsumer(ctx, cons)
	it, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("history: watching the history of %s: %w", uid, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("history: watching the history of %s: %w", uid, err)
		}
		k, ok := kindOf(msg.Subject())
		if !ok {
			continue
		}
		var we eventsv1.WatchEvent
		if k == kindRequest {
			ev := &eventsv1.Event{}
			if json.Unmarshal(msg.Data(), ev) != nil {
				continue
			}
			ev.Attempts, ev.Status = nil, ""
			if ev.Outcome == eventsv1.OutcomeAccepted {
				ev.Status = eventsv1.StatusPending
			}
			if !withBodies {
				ev.Hide()
			}
			we = eventsv1.WatchEvent{Type: eventsv1.WatchTypeEvent, Event: ev}
		} else {
			a := &eventsv1.Attempt{}
			if json.Unmarshal(msg.Data(), a) != nil {
				continue
			}
			if !withBodies {
				a.Response = nil
			}
			we = eventsv1.WatchEvent{Type: eventsv1.WatchTypeAttempt, Attempt: a}
		}
		if err := fn(we); err != nil {
			return err
		}
	}
}
