package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Direct gets read records without a consumer: one by subject, a batch
// of one subject filter's records from a sequence (an event's attempts),
// or the last record of each of many subjects (a page's statuses, with
// multi_last). Batches need nats-server 2.11 or later; an older server,
// or a stream without direct gets, is read through the stream API, one
// record at a time.

// directTimeout bounds one direct get.
const directTimeout = 5 * time.Second

// directMaxBytes bounds one answer (far below a subscription's pending
// limit, so none of it is dropped as a slow consumer's).
const directMaxBytes = 8 << 20

// maxMultiLast is the most subjects one multi_last request names: the
// server answers at most 1024 records.
const maxMultiLast = 1000

// Headers of a direct get's answer.
const (
	hdrStatus     = "Status"
	hdrDescr      = "Description"
	hdrSubject    = "Nats-Subject"
	hdrSequence   = "Nats-Sequence"
	hdrTimeStamp  = "Nats-Time-Stamp"
	hdrNumPending = "Nats-Num-Pending"
	hdrUpTo       = "Nats-UpTo-Sequence"
)

// directRequest is JetStream's direct get request.
type directRequest struct {
	Seq       uint64     `json:"seq,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
	LastFor   string     `json:"last_by_subj,omitempty"`
	NextFor   string     `json:"next_by_subj,omitempty"`
	Batch     int        `json:"batch,omitempty"`
	MaxBytes  int        `json:"max_bytes,omitempty"`
	MultiLast []string   `json:"multi_last,omitempty"`
	UpToSeq   uint64     `json:"up_to_seq,omitempty"`
}

// storedMsg is one record as read.
type storedMsg struct {
	Subject string
	Seq     uint64
	Time    time.Time
	Data    []byte
}

// directEnd says how an answer ended.
type directEnd struct {
	// n is how many records it had, last the sequence of the last one.
	n    int
	last uint64
	// batch: the server answered as a batch (ended by EOB); pending is
	// how many were left when it stopped early (max bytes), upTo the
	// multi_last answer's ceiling.
	batch   bool
	pending uint64
	upTo    uint64
}

// errNoDirect: direct gets are not answered (no stream, or it does not
// allow them).
var errNoDirect = errors.New("history: direct get not available")

// statusError is a direct get answered with an error status.
type statusError struct {
	code, description string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("history: direct get answered %s %s", e.code, e.description)
}

func (r *Reader) apiPrefix() string {
	o := r.js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		if strings.HasSuffix(o.APIPrefix, ".") {
			return o.APIPrefix
		}
		return o.APIPrefix + "."
	}
	return jetstream.DefaultAPIPrefix
}

// direct sends one direct get and calls fn with each record of the answer.
func (r *Reader) direct(ctx context.Context, req directRequest, fn func(storedMsg) error) (directEnd, error) {
	var end directEnd
	nc := r.js.Conn()
	if nc == nil {
		return end, errNoDirect
	}
	body, err := json.Marshal(req)
	if err != nil {
		return end, err
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return end, err
	}
	defer sub.Unsubscribe() //nolint:errcheck
	if err := nc.PublishRequest(r.apiPrefix()+"DIRECT.GET."+Stream, inbox, body); err != nil {
		return end, err
	}
	ctx, cancel := context.WithTimeout(ctx, directTimeout)
	defer cancel()
	batch := req.Batch > 0 || len(req.MultiLast) > 0
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if errors.Is(err, nats.ErrNoResponders) {
			return end, errNoDirect
		}
		if err != nil {
			return end, fmt.Errorf("history: direct get: %w", err)
		}
		if st := m.Header.Get(hdrStatus); st != "" && len(m.Data) == 0 {
			switch st {
			case "204":
				end.batch = true
				end.pending, _ = strconv.ParseUint(m.Header.Get(hdrNumPending), 10, 64)
				end.upTo, _ = strconv.ParseUint(m.Header.Get(hdrUpTo), 10, 64)
				return end, nil
			case "404":
				// Nothing (more) to read.
				return end, nil
			case "503":
				return end, errNoDirect
			}
			return end, &statusError{st, m.Header.Get(hdrDescr)}
		}
		sm, err := parseDirect(m)
		if err != nil {
			return end, err
		}
		end.n++
		end.last = sm.Seq
		if err := fn(sm); err != nil {
			return end, err
		}
		if !batch || m.Header.Get(hdrNumPending) == "" {
			// One record; or the server does not do batches.
			return end, nil
		}
	}
}

func parseDirect(m *nats.Msg) (storedMsg, error) {
	seq, err := strconv.ParseUint(m.Header.Get(hdrSequence), 10, 64)
	if err != nil {
		return storedMsg{}, fmt.Errorf("history: direct get: bad sequence %q", m.Header.Get(hdrSequence))
	}
	ts, _ := time.Parse(time.RFC3339Nano, m.Header.Get(hdrTimeStamp))
	return storedMsg{Subject: m.Header.Get(hdrSubject), Seq: seq, Time: ts, Data: m.Data}, nil
}

// stream returns the stream's handle, for the stream API's fallbacks.
func (r *Reader) stream(ctx context.Context) (jetstream.Stream, error) {
	return r.js.Stream(ctx, Stream)
}

// last reads the last record on subject; found is false when there is none.
func (r *Reader) last(ctx context.Context, subject string) (m storedMsg, found bool, err error) {
	_, err = r.direct(ctx, directRequest{LastFor: subject}, func(s storedMsg) error {
		m, found = s, true
		return nil
	})
	if !errors.Is(err, errNoDirect) {
		return m, found, err
	}
	s, err := r.stream(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	raw, err := s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	return storedMsg{Subject: raw.Subject, Seq: raw.Sequence, Time: raw.Time, Data: raw.Data}, true, nil
}

// scan calls fn with every record on filter stored from time since on
// (the stream's clock; zero: from the first), in order, at most `most` of
// them.
func (r *Reader) scan(ctx context.Context, filter string, since time.Time, most int, fn func(storedMsg) error) error {
	n := 0
	each := func(m storedMsg) error {
		n++
		return fn(m)
	}
	req := directRequest{Seq: 1, NextFor: filter, MaxBytes: directMaxBytes}
	if !since.IsZero() {
		req.Seq, req.StartTime = 0, &since
	}
	for n < most {
		req.Batch = min(256, most-n)
		end, err := r.direct(ctx, req, each)
		if errors.Is(err, errNoDirect) {
			// From the first: the stream API finds no sequence by time.
			return r.scanSlowly(ctx, filter, max(req.Seq, 1), most-n, fn)
		}
		if err != nil {
			return err
		}
		if end.n == 0 || end.batch && end.pending == 0 {
			return nil
		}
		req.Seq, req.StartTime = end.last+1, nil
	}
	return nil
}

// scanSlowly is scan through the stream API.
func (r *Reader) scanSlowly(ctx context.Context, filter string, seq uint64, most int, fn func(storedMsg) error) error {
	s, err := r.stream(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for range most {
		raw, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(storedMsg{Subject: raw.Subject, Seq: raw.Sequence, Time: raw.Time, Data: raw.Data}); err != nil {
			return err
		}
		seq = raw.Sequence + 1
	}
	return nil
}

// multiLast calls fn with the last record of each of subjects that has
// one (wildcards allowed, each matching subject counting once; at most
// 1024 in all). It returns errNoDirect when the server cannot.
func (r *Reader) multiLast(ctx context.Context, subjects []string, fn func(storedMsg) error) error {
	req := directRequest{MultiLast: subjects, MaxBytes: directMaxBytes}
	for {
		end, err := r.direct(ctx, req, fn)
		var se *statusError
		if errors.As(err, &se) && se.code == "408" {
			// A server without multi_last finds the request empty.
			return errNoDirect
		}
		if err != nil {
			return err
		}
		if !end.batch && end.n > 0 {
			// An answer of one record: multi_last was not understood.
			return errNoDirect
		}
		if end.pending == 0 || end.n == 0 {
			return nil
		}
		// Stopped at max bytes: the rest, above the last one sent.
		req.Seq, req.UpToSeq = end.last+1, end.upTo
	}
}
