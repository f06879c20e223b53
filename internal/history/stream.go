package history

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookgate/hookgate/internal/queue"
)

// DefaultMaxAge is StreamOptions.MaxAge's default: the longest retention
// an endpoint may ask for (30 days), and an hour.
const DefaultMaxAge = 30*24*time.Hour + time.Hour

// duplicateWindow is the stream's Nats-Msg-Id window: a request record
// published twice (a client retrying) inside it is stored once.
const duplicateWindow = 2 * time.Minute

// StreamOptions tune the history stream. Zero values take the defaults.
type StreamOptions struct {
	// Replicas of the stream: 1 (the default) for the embedded server, 3
	// on a cluster.
	Replicas int
	// MaxAge is the stream's backstop over every endpoint's retention
	// (each record has its own TTL, see the package doc). Defaults to
	// DefaultMaxAge.
	MaxAge time.Duration
	// MaxBytes bounds the stream (0: no limit). When it is reached the
	// oldest records go first (DiscardOld), whichever endpoint they are of.
	MaxBytes int64
}

// config returns the stream's configuration for o.
func (o StreamOptions) config() jetstream.StreamConfig {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	cfg := jetstream.StreamConfig{
		Name:        Stream,
		Description: "History of webhook requests and delivery attempts per endpoint (events API)",
		Subjects:    []string{subjectPrefix + "*." + reqToken + ".*", subjectPrefix + "*." + attToken + ".*.*"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		MaxAge:      o.MaxAge,
		Discard:     jetstream.DiscardOld,
		// Every record carries Nats-TTL, its endpoint's retention.
		AllowMsgTTL: true,
		// Get reads one record and a page's statuses with direct gets,
		// answered by any replica.
		AllowDirect: true,
		Duplicates:  duplicateWindow,
		// The server's "no limit", as it reports it back: Ensure then finds
		// the stream as it wants it and does not update it.
		MaxMsgSize:        -1,
		MaxMsgs:           -1,
		MaxMsgsPerSubject: -1,
	}
	if o.MaxBytes > 0 {
		cfg.MaxBytes = o.MaxBytes
	}
	return cfg
}

// Ensure makes the history stream exist with o's settings (file storage,
// per-message TTLs, direct gets, limits retention), as the queue's own
// streams are made: idempotent, so every receiver replica may call it.
func Ensure(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	return queue.EnsureStream(ctx, js, o.config())
}

// trimMargin is how much earlier than the oldest request kept an attempt
// may be stored and still be left by Trim: a request record is written
// asynchronously, and its first attempt may land just before it. (A
// variable for the tests.)
var trimMargin = time.Minute

// Trim keeps the newest keep request records of the endpoint with UID
// uid (keep <= 0 keeps none) and removes the attempt records stored
// before the oldest request kept.
//
// The requests are purged with the subject filter
// hookgate.history.<uid>.req.* and Keep, which the server applies to the
// filter as a whole (every request has its own subject; the tests check
// that). An attempt is stored after its request (or, racing it, just
// before), so the attempts stored more than trimMargin before the oldest
// request left belong to removed (or expired) requests: one more purge,
// by sequence, removes them. Attempts of removed requests stored later
// (an old event retried late) are left to their TTL. Records written
// while Trim runs may survive it; the next Trim catches them.
func Trim(ctx context.Context, js jetstream.JetStream, uid string, keep int64) error {
	if !validToken(uid) {
		return fmt.Errorf("history: invalid endpoint uid %q", uid)
	}
	s, err := js.Stream(ctx, Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening stream %s: %w", Stream, err)
	}
	opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(requestFilter(uid))}
	if keep > 0 {
		opts = append(opts, jetstream.WithPurgeKeep(uint64(keep)))
	}
	if err := s.Purge(ctx, opts...); err != nil {
		return fmt.Errorf("trimming the history of %s: %w", uid, err)
	}
	first, err := s.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(requestFilter(uid)))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		// No request left: no attempt has one.
		err = s.Purge(ctx, jetstream.WithPurgeSubject(attemptFilter(uid)))
	case err != nil:
		return fmt.Errorf("finding the oldest request of %s: %w", uid, err)
	default:
		cut := first.Sequence
		// The first attempt stored since a margin before it, if earlier.
		since := first.Time.Add(-trimMargin)
		r := &Reader{js: js}
		_, _ = r.direct(ctx, directRequest{StartTime: &since, NextFor: attemptFilter(uid)}, func(m storedMsg) error {
			cut = min(cut, m.Seq)
			return nil
		})
		err = s.Purge(ctx, jetstream.WithPurgeSubject(attemptFilter(uid)), jetstream.WithPurgeSequence(cut))
	}
	if err != nil {
		return fmt.Errorf("trimming the attempts of %s: %w", uid, err)
	}
	return nil
}

// Purge removes every record of the endpoint with UID uid (it was
// deleted). A missing stream has nothing to remove.
func Purge(ctx context.Context, js jetstream.JetStream, uid string) error {
	if !validToken(uid) {
		return fmt.Errorf("history: invalid endpoint uid %q", uid)
	}
	s, err := js.Stream(ctx, Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening stream %s: %w", Stream, err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(endpointFilter(uid))); err != nil {
		return fmt.Errorf("purging the history of %s: %w", uid, err)
	}
	return nil
}
