package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Storage limits. The server enforces the platform's ceilings atomically
// for every replica: a per-endpoint count of queued events and of dead
// letters (MaxMsgsPerSubject with DiscardNewPerSubject, so one endpoint
// reaching its ceiling refuses only its own new events), and the bytes of
// each stream (MaxBytes with DiscardNew). Per-endpoint byte and event
// quotas below the ceilings are the receiver's (see ingress/server).
const (
	// DefaultMaxEventsPerEndpoint is the platform ceiling of queued events
	// of one endpoint.
	DefaultMaxEventsPerEndpoint = 100_000
	// DefaultMaxDeadLettersPerEndpoint is the ceiling of dead letters of
	// one endpoint. A dead letter that does not fit stays in the events
	// stream (and counts against the endpoint's quota there): none is lost.
	DefaultMaxDeadLettersPerEndpoint = 10_000
)

// CounterQueuedBytes is the bytes of an endpoint's events waiting for
// delivery: added when stored, subtracted when delivered or dead-lettered.
const CounterQueuedBytes = "queuedBytes"

// ErrQuotaExceeded: the endpoint has as many events stored as it may.
var ErrQuotaExceeded = errors.New("endpoint storage quota exceeded")

// ErrStoreFull: the store as a whole is at its limit.
var ErrStoreFull = errors.New("event store full")

// StoreError classifies a failed publish into the events stream: a quota
// or a full store (the sender should retry later, nothing is wrong with the
// queue) or the queue being unavailable.
func StoreError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "maximum messages per subject exceeded"):
		return fmt.Errorf("%w: %v", ErrQuotaExceeded, err)
	case strings.Contains(msg, "maximum bytes exceeded"), strings.Contains(msg, "maximum messages exceeded"),
		strings.Contains(msg, "insufficient resources"):
		return fmt.Errorf("%w: %v", ErrStoreFull, err)
	}
	return err
}

// streamLimits applies the options' storage limits to the events and
// dead-letter stream configurations.
func (o *Options) streamLimits(events, dlq *jetstream.StreamConfig) {
	events.MaxMsgsPerSubject = o.MaxEventsPerEndpoint
	events.DiscardNewPerSubject = true
	events.Discard = jetstream.DiscardNew
	dlq.MaxMsgsPerSubject = o.MaxDeadLettersPerEndpoint
	dlq.DiscardNewPerSubject = true
	dlq.Discard = jetstream.DiscardNew
	if o.MaxStoreBytes > 0 {
		// The rest (a tenth) is for dedupe markers, counters and state.
		events.MaxBytes = o.MaxStoreBytes * 7 / 10
		dlq.MaxBytes = o.MaxStoreBytes * 2 / 10
	}
}

// QueuedEvents returns how many events each endpoint has stored, by UID,
// from one stream info call.
func (q *Queue) QueuedEvents(ctx context.Context) (map[string]uint64, error) {
	s, err := q.JS.Stream(ctx, EventsStream)
	if err != nil {
		return nil, fmt.Errorf("opening stream %s: %w", EventsStream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(eventsPrefix+"*"))
	if err != nil {
		return nil, fmt.Errorf("reading stream %s: %w", EventsStream, err)
	}
	out := make(map[string]uint64, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		out[strings.TrimPrefix(subj, eventsPrefix)] = n
	}
	return out, nil
}

// Counter reads one counter of an endpoint.
func (q *Queue) Counter(ctx context.Context, uid, name string) (int64, error) {
	s, err := q.JS.Stream(ctx, CountersStream)
	if err != nil {
		return 0, fmt.Errorf("opening stream %s: %w", CountersStream, err)
	}
	return readCounter(ctx, s, CounterSubject(uid, name))
}
