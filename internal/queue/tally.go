package queue

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// The tally counts finished events (delivered, dead-lettered) exactly
// once per event, across dispatcher crashes, publish retries and NATS
// leader changes. A counter increment carrying a Nats-Msg-Id is not
// enough: the counter stream keeps one message per counter, so a server
// that restarted rebuilds its duplicate window without the ids of
// superseded increments, and a retry that reaches it as the new leader is
// applied twice.
//
// Instead each endpoint has one message, hookgate.tally.<uid> in
// HOOKGATE_TALLY, holding its totals and, per dispatcher process, the
// stream sequences of the events it counted whose ack it has not seen
// confirmed. It is replaced only by a compare-and-set
// (Nats-Expected-Last-Subject-Sequence), so every write is checked against
// the stored value itself, which a leader change does not lose:
//
//   - an event counted and then redelivered (the dispatcher died before
//     its ack, or the ack was lost) finds its sequence in some process's
//     open list and is not counted again;
//   - a write whose answer was lost is retried from the stored value: if
//     it was applied, its sequences are already there;
//   - a confirmed ack takes the sequence off the list at the next write,
//     onto the process's short list of confirmed events (Done, compactly
//     encoded), kept until that process confirmed nothing for
//     tallyAckGrace, and at most its newest tallyMaxConfirmed: JetStream can
//     still offer a finished event once more (a consumer leader that takes
//     over without having learnt of a delivery offers the event to a second
//     receiver, which may count it after the first one's ack was confirmed;
//     seen in the fault suite's NATS kills as a delivered counter one too
//     high), and that copy must find it counted;
//   - entries older than tallyKeep (far beyond any AckWait) are dropped, as
//     are those of processes gone that long.
//
// Calls for one endpoint that arrive while a write is in flight are
// committed together in the next one, so a busy endpoint costs one write
// per round trip, not one per event.

// TallyStream holds one tally message per endpoint.
const TallyStream = "HOOKGATE_TALLY"

const (
	tallyPrefix = "hookgate.tally."
	// tallyKeep is how long an unconfirmed sequence stays on an open list.
	tallyKeep = time.Hour
	// tallyMaxBatch bounds the events committed in one write.
	tallyMaxBatch = 512
	// tallyAckGrace: a process's confirmed events are dropped once it has
	// confirmed none for this long, past the AckWait (2 x timeout + 30 s,
	// 50 s by default) after which a copy offered elsewhere is counted.
	tallyAckGrace = 2 * time.Minute
	// tallyMaxConfirmed bounds the confirmed events kept per process (about
	// two bytes each), so that the tally, rewritten on every commit, stays
	// small at any delivery rate; at a high rate the grace is shorter.
	tallyMaxConfirmed = 512
)

// TallySubject is the tally of an endpoint.
func TallySubject(uid string) string { return tallyPrefix + uid }

// tallyValue is the stored tally of one endpoint.
type tallyValue struct {
	Delivered    int64 `json:"delivered,omitempty"`
	DeadLettered int64 `json:"deadLettered,omitempty"`
	// Dropped is the events a target's filter did not want.
	Dropped int64 `json:"dropped,omitempty"`
	// Open lists, per dispatcher process, the events it counted whose ack
	// it has not seen confirmed.
	Open map[string][]openEvent `json:"open,omitempty"`
	// Done holds, per process, its recently confirmed events (encodeSeqs),
	// and DoneAt when it last confirmed one, in Unix seconds.
	Done   map[string]string `json:"done,omitempty"`
	DoneAt map[string]int64  `json:"doneAt,omitempty"`
}

// encodeSeqs packs sequences, in order, as base64 of zigzag varint deltas:
// about two bytes per event of an endpoint, whose sequences are close.
func encodeSeqs(seqs []uint64) string {
	buf := make([]byte, 0, 2*len(seqs))
	var prev uint64
	for _, s := range seqs {
		buf = binary.AppendVarint(buf, int64(s-prev))
		prev = s
	}
	return base64.RawStdEncoding.EncodeToString(buf)
}

func decodeSeqs(enc string) ([]uint64, error) {
	buf, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		return nil, err
	}
	var out []uint64
	var prev uint64
	for len(buf) > 0 {
		d, n := binary.Varint(buf)
		if n <= 0 {
			return nil, errors.New("malformed sequence list")
		}
		prev += uint64(d)
		out = append(out, prev)
		buf = buf[n:]
	}
	return out, nil
}

type openEvent struct {
	Seq uint64 `json:"s"`
	// At is when it was counted, in Unix seconds.
	At int64 `json:"t"`
}

func decodeTally(data []byte) (tallyValue, error) {
	var v tallyValue
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("decoding tally: %w", err)
	}
	return v, nil
}

type tallyRequest struct {
	counter string
	seq     uint64
	done    chan tallyResult
}

type tallyResult struct {
	first bool
	err   error
}

// tally is one process's writer of tallies.
type tally struct {
	js      jetstream.JetStream
	writer  string
	timeout time.Duration
	now     func() time.Time

	mu  sync.Mutex
	eps map[string]*tallyEndpoint
}

type tallyEndpoint struct {
	queue   []*tallyRequest
	acked   []uint64
	running bool
	// The last value this process read or wrote, and its sequence: the
	// expected last sequence of the next write.
	value tallyValue
	rev   uint64
	known bool
}

func newTally(js jetstream.JetStream, timeout time.Duration) *tally {
	// A commit retries through a leader election, which outlasts one
	// publish's timeout.
	timeout = max(timeout, 30*time.Second)
	return &tally{js: js, writer: nuid.Next(), timeout: timeout, now: time.Now, eps: map[string]*tallyEndpoint{}}
}

func (t *tally) endpoint(uid string) *tallyEndpoint {
	e := t.eps[uid]
	if e == nil {
		e = &tallyEndpoint{}
		t.eps[uid] = e
	}
	return e
}

// count counts the event with stream sequence seq under counter, once,
// and reports whether this call counted it (false: it was counted before).
func (t *tally) count(ctx context.Context, uid, counter string, seq uint64) (bool, error) {
	if counter != CounterDelivered && counter != CounterDeadLettered && counter != CounterDropped {
		return false, fmt.Errorf("counter %q is not tallied", counter)
	}
	r := &tallyRequest{counter: counter, seq: seq, done: make(chan tallyResult, 1)}
	t.mu.Lock()
	e := t.endpoint(uid)
	e.queue = append(e.queue, r)
	if !e.running {
		e.running = true
		go t.run(uid, e)
	}
	t.mu.Unlock()
	select {
	case res := <-r.done:
		return res.first, res.err
	case <-ctx.Done():
		// The write may still be made; the caller does not ack, so the
		// redelivery finds it counted, or counts it.
		return false, ctx.Err()
	}
}

// acked records that the ack of event seq is confirmed: the next write
// takes it off this process's open list.
func (t *tally) acked(uid string, seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.endpoint(uid)
	e.acked = append(e.acked, seq)
}

// run commits the endpoint's queued requests until none is left.
func (t *tally) run(uid string, e *tallyEndpoint) {
	for {
		t.mu.Lock()
		n := min(len(e.queue), tallyMaxBatch)
		if n == 0 {
			e.running = false
			t.mu.Unlock()
			return
		}
		batch := e.queue[:n:n]
		e.queue = e.queue[n:]
		acked := e.acked
		e.acked = nil
		t.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
		results, err := t.commit(ctx, uid, e, batch, acked)
		cancel()
		if err != nil {
			// Keep the confirmations for the next write.
			t.mu.Lock()
			e.acked = append(acked, e.acked...)
			t.mu.Unlock()
		}
		for i, r := range batch {
			if err != nil {
				r.done <- tallyResult{err: err}
				continue
			}
			r.done <- tallyResult{first: results[i]}
		}
	}
}

// commit writes the batch into the endpoint's tally by compare-and-set,
// reading the stored value again whenever the write is refused or its
// answer lost. e is touched only by the one run goroutine of uid.
func (t *tally) commit(ctx context.Context, uid string, e *tallyEndpoint, batch []*tallyRequest, acked []uint64) ([]bool, error) {
	subject := TallySubject(uid)
	// Sequences this commit already wrote, in a try whose answer was lost:
	// found on our own list, they are ours to report as first.
	var tried map[uint64]bool
	var last error
	for pause := 10 * time.Millisecond; ; pause = min(pause*2, 500*time.Millisecond) {
		if !e.known {
			if err := t.read(ctx, subject, e); err != nil {
				last = err
				if !sleepCtx(ctx, pause) {
					return nil, fmt.Errorf("reading tally %s: %w", subject, last)
				}
				continue
			}
		}
		v, results := t.apply(e.value, batch, acked, tried)
		data, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		actx, acancel := context.WithTimeout(ctx, time.Second)
		ack, err := t.js.PublishMsg(actx, &nats.Msg{Subject: subject, Data: data}, jetstream.WithExpectLastSequencePerSubject(e.rev))
		acancel()
		if err == nil {
			e.value, e.rev = v, ack.Sequence
			return results, nil
		}
		last = err
		e.known = false
		if !isWrongLastSequence(err) {
			// The answer was lost, not the write refused: it may have
			// been applied, which the next read shows.
			if tried == nil {
				tried = map[uint64]bool{}
			}
			for i, r := range batch {
				if results[i] {
					tried[r.seq] = true
				}
			}
			if !sleepCtx(ctx, pause) {
				return nil, fmt.Errorf("writing tally %s: %w", subject, last)
			}
		}
	}
}

// read loads the stored tally of subject into e.
func (t *tally) read(ctx context.Context, subject string, e *tallyEndpoint) error {
	s, err := t.js.Stream(ctx, TallyStream)
	if err != nil {
		return err
	}
	m, err := s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		e.value, e.rev, e.known = tallyValue{}, 0, true
		return nil
	}
	if err != nil {
		return err
	}
	v, err := decodeTally(m.Data)
	if err != nil {
		return err
	}
	e.value, e.rev, e.known = v, m.Sequence, true
	return nil
}

// apply returns the tally with the batch counted (each event unless it is
// on an open list already) and this process's confirmed acks and stale
// entries removed, and which requests it counted.
func (t *tally) apply(cur tallyValue, batch []*tallyRequest, acked []uint64, tried map[uint64]bool) (tallyValue, []bool) {
	now := t.now()
	cutoff := now.Add(-tallyKeep).Unix()
	done := make(map[uint64]bool, len(acked))
	for _, s := range acked {
		done[s] = true
	}
	v := tallyValue{Delivered: cur.Delivered, DeadLettered: cur.DeadLettered, Dropped: cur.Dropped, Open: map[string][]openEvent{}}
	counted := map[uint64]string{}
	graceCutoff := now.Add(-tallyAckGrace).Unix()
	// This process's own confirmed list, decoded once: carryConfirmed
	// extends it.
	var myDone []uint64
	for w, enc := range cur.Done {
		if cur.DoneAt[w] < graceCutoff {
			continue
		}
		// A list that cannot be read counts nothing as done: at worst a
		// copy is counted, as without the list.
		seqs, _ := decodeSeqs(enc)
		for _, s := range seqs {
			counted[s] = w
		}
		if w == t.writer {
			myDone = seqs
		}
	}
	var confirmed []uint64
	for w, evs := range cur.Open {
		var keep []openEvent
		for _, ev := range evs {
			if ev.At < cutoff {
				continue
			}
			if w == t.writer && done[ev.Seq] {
				confirmed = append(confirmed, ev.Seq)
				counted[ev.Seq] = w
				continue
			}
			keep = append(keep, ev)
			counted[ev.Seq] = w
		}
		if len(keep) > 0 {
			v.Open[w] = keep
		}
	}
	results := make([]bool, len(batch))
	mine := v.Open[t.writer]
	for i, r := range batch {
		if w, ok := counted[r.seq]; ok {
			// Counted already; by this very commit in a try whose answer
			// was lost, it is still this call's count.
			results[i] = w == t.writer && tried[r.seq]
			continue
		}
		counted[r.seq] = t.writer
		results[i] = true
		switch r.counter {
		case CounterDelivered:
			v.Delivered++
		case CounterDropped:
			v.Dropped++
		default:
			v.DeadLettered++
		}
		mine = append(mine, openEvent{Seq: r.seq, At: now.Unix()})
	}
	if len(mine) > 0 {
		v.Open[t.writer] = mine
	}
	if len(v.Open) == 0 {
		v.Open = nil
	}
	t.carryConfirmed(&v, cur, myDone, confirmed, now.Unix(), graceCutoff)
	return v, results
}

// carryConfirmed sets v's confirmed lists: cur's, less those of processes
// that confirmed nothing since graceCutoff, with this process's newly
// confirmed events appended to its own list myDone (decoded, nil when
// expired), of which the newest tallyMaxConfirmed are kept.
func (t *tally) carryConfirmed(v *tallyValue, cur tallyValue, myDone, confirmed []uint64, now, graceCutoff int64) {
	for w, enc := range cur.Done {
		if cur.DoneAt[w] < graceCutoff || (w == t.writer && len(confirmed) > 0) {
			continue
		}
		setDone(v, w, enc, cur.DoneAt[w])
	}
	if len(confirmed) == 0 {
		return
	}
	mine := append(myDone, confirmed...)
	if len(mine) > tallyMaxConfirmed {
		mine = mine[len(mine)-tallyMaxConfirmed:]
	}
	setDone(v, t.writer, encodeSeqs(mine), now)
}

func setDone(v *tallyValue, w, enc string, at int64) {
	if v.Done == nil {
		v.Done, v.DoneAt = map[string]string{}, map[string]int64{}
	}
	v.Done[w], v.DoneAt[w] = enc, at
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// CountFinished counts the event with stream sequence seq as delivered or
// dead-lettered (counter), exactly once, and reports whether this call
// counted it. Call it before the ack it stands for, and Acked once that
// ack is confirmed.
func (q *Queue) CountFinished(ctx context.Context, uid, counter string, seq uint64) (first bool, err error) {
	if q.tally == nil {
		return false, errors.New("this queue does not count finished events (an edge queue)")
	}
	return q.tally.count(ctx, uid, counter, seq)
}

// Acked tells the tally that the ack of event seq is confirmed.
func (q *Queue) Acked(uid string, seq uint64) {
	if q.tally != nil {
		q.tally.acked(uid, seq)
	}
}

// readTally returns the stored tally of an endpoint, from the stream
// leader.
func (q *Queue) readTally(ctx context.Context, uid string) (tallyValue, error) {
	s, err := q.JS.Stream(ctx, TallyStream)
	if err != nil {
		return tallyValue{}, fmt.Errorf("opening stream %s: %w", TallyStream, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, TallySubject(uid))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return tallyValue{}, nil
	}
	if err != nil {
		return tallyValue{}, fmt.Errorf("reading tally of %s: %w", uid, err)
	}
	return decodeTally(m.Data)
}
