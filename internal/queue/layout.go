package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// attemptTimeout bounds one JetStream API call while the layout is made.
// Creating a new replicated stream from several clients at once can leave
// some create calls unanswered (the stream is created all the same), so
// every step is a short call that is retried after looking again, never
// one long wait.
const attemptTimeout = 3 * time.Second

// ensureStream makes the stream exist with cfg: created once by whichever
// caller gets there first, updated only when its settings differ, and
// waited for by the others.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	return retryLayout(ctx, "stream "+cfg.Name, func(actx context.Context) (bool, error) {
		s, err := js.Stream(actx, cfg.Name)
		switch {
		case err == nil:
			if streamConfigMatches(s.CachedInfo().Config, cfg) {
				return true, nil
			}
			_, err = js.UpdateStream(actx, cfg)
			return err == nil, err
		case errors.Is(err, jetstream.ErrStreamNotFound):
			_, err = js.CreateStream(actx, cfg)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				return false, nil // another caller made it: look again
			}
			return err == nil, err
		default:
			return false, err
		}
	})
}

// ensureKeyValue is ensureStream for a KV bucket.
func ensureKeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := retryLayout(ctx, "bucket "+cfg.Bucket, func(actx context.Context) (bool, error) {
		var err error
		kv, err = js.KeyValue(actx, cfg.Bucket)
		switch {
		case err == nil:
			st, serr := kv.Status(actx)
			if serr != nil {
				return false, serr
			}
			if kvMatches(st, cfg) {
				return true, nil
			}
			kv, err = js.UpdateKeyValue(actx, cfg)
			return err == nil, err
		case errors.Is(err, jetstream.ErrBucketNotFound):
			kv, err = js.CreateKeyValue(actx, cfg)
			if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				return false, nil
			}
			return err == nil, err
		default:
			return false, err
		}
	})
	return kv, err
}

// retryLayout runs step with a short timeout until it reports done or ctx
// ends, with a jittered pause between tries.
func retryLayout(ctx context.Context, what string, step func(context.Context) (bool, error)) error {
	var last error
	for pause := 100 * time.Millisecond; ; pause = min(pause*2, 2*time.Second) {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		done, err := step(actx)
		cancel()
		if done {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return fmt.Errorf("ensuring %s: %w", what, last)
		case <-time.After(pause/2 + time.Duration(rand.Int64N(int64(pause)))):
		}
	}
}

// streamConfigMatches reports whether the server's config already has
// every setting Hookgate sets (the server fills in others).
func streamConfigMatches(have, want jetstream.StreamConfig) bool {
	return reflect.DeepEqual(have.Subjects, want.Subjects) &&
		have.Retention == want.Retention && have.Storage == want.Storage &&
		have.Replicas == want.Replicas && have.MaxMsgSize == want.MaxMsgSize &&
		have.Duplicates == want.Duplicates && have.Discard == want.Discard &&
		have.MaxAge == want.MaxAge && have.MaxMsgsPerSubject == want.MaxMsgsPerSubject &&
		have.DiscardNewPerSubject == want.DiscardNewPerSubject &&
		have.AllowMsgCounter == want.AllowMsgCounter && have.AllowMsgTTL == want.AllowMsgTTL && have.AllowDirect == want.AllowDirect &&
		(want.MaxBytes == 0 && have.MaxBytes <= 0 || have.MaxBytes == want.MaxBytes) &&
		have.Description == want.Description
}

func kvMatches(st jetstream.KeyValueStatus, want jetstream.KeyValueConfig) bool {
	info := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
	return info.Config.Replicas == max(want.Replicas, 1) && info.Config.MaxAge == want.TTL &&
		info.Config.Description == want.Description
}

// ensureBucketBesideEvents is ensureKeyValue for a bucket a manager makes
// after the receivers made the layout: it takes as many replicas as the
// events stream (the manager never decides replicas).
func ensureBucketBesideEvents(ctx context.Context, nc *nats.Conn, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("creating JetStream context: %w", err)
	}
	s, err := js.Stream(ctx, EventsStream)
	if err != nil {
		return nil, fmt.Errorf("opening stream %s (has a receiver started?): %w", EventsStream, err)
	}
	cfg.Replicas = s.CachedInfo().Config.Replicas
	return ensureKeyValue(ctx, js, cfg)
}

// EnsureStream makes a stream exist with cfg, as the layout's own streams
// are made: for packages that keep their own stream beside the queue
// (internal/history).
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	return ensureStream(ctx, js, cfg)
}
