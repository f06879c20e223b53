package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Large bodies by reference. A body longer than Options.InlineBodyMax is
// written to the object store BodiesBucket before its event is published,
// and the event carries a reference (HeaderBodyRef, with the body's size and
// SHA-256) instead of the body. A body can then be far larger than one NATS
// message: the object store splits it into chunks that fit any server's
// max_payload. The reference travels with the event's headers, into the
// dead-letter stream and back on a replay, and the object is removed when
// the event is finished (ReleaseBody), when its endpoint is purged, or at
// the latest when the bucket's MaxAge (Options.BodyMaxAge) passes.

// BodiesBucket is the object store of bodies stored by reference.
const BodiesBucket = "hookgate-bodies"

// Headers of an event whose body is stored by reference. The event's data
// is then empty.
const (
	// HeaderBodyRef names the object holding the body: <uid>/<unique id>.
	HeaderBodyRef = "Hookgate-Body-Ref"
	// HeaderBodySize is the body's length in bytes, in decimal.
	HeaderBodySize = "Hookgate-Body-Size"
	// HeaderBodySHA256 is the body's SHA-256, in lower-case hex.
	HeaderBodySHA256 = "Hookgate-Body-Sha256"
)

const (
	// DefaultInlineBodyMax is the largest body stored inside its event.
	// Most webhooks are a few KiB, so nearly every event stays one
	// publish; above it, the object store's extra round trips (a lookup,
	// the chunks, the meta record) cost little beside moving the body
	// itself. It is far below the 1 MB max_payload an external NATS server
	// has by default, headers included.
	DefaultInlineBodyMax = 256 << 10
	// MaxBodyBytes is the largest body a receiver accepts when bodies above
	// the inline limit go to the object store (spec.limits.maxBodyBytes'
	// ceiling). A receiver holds a body in memory while it verifies and
	// stores it, and a dispatcher while it delivers it.
	MaxBodyBytes = 64 << 20
	// MessageHeadroom is what a stored event needs beside its body: the
	// provider's headers (at most 64 KiB) and ours. An inline body must fit
	// in max_payload less this.
	MessageHeadroom = 80 << 10
	// DefaultBodyRetentionMargin is how much longer than a dead letter a
	// body object is kept at most, for the time its event waited in the
	// queue before it died (see Options.BodyMaxAge).
	DefaultBodyRetentionMargin = 30 * 24 * time.Hour
)

// bodyChunkSize is the object store's chunk size: one chunk plus its
// subject fits the smallest max_payload a receiver accepts.
const bodyChunkSize = 128 << 10

// ErrBodyMissing: the event refers to a body the object store does not hold
// (removed, aged out, or corrupt). It does not come back by retrying;
// every other EventBody error is the store being unavailable, which does.
var ErrBodyMissing = errors.New("event body missing from the object store")

// errBodyCorrupt is a read that did not give back the stored bytes; it
// becomes ErrBodyMissing once retries did not help.
var errBodyCorrupt = errors.New("object does not match the event's size and digest")

// bodyStore is the opened bucket: the object store for puts and gets, and
// its stream for removals. It is opened lazily when the layout did not have
// it yet (a controller or edge receiver attached to receivers of an older
// version).
type bodyStore struct {
	mu     sync.Mutex
	obs    jetstream.ObjectStore
	stream jetstream.Stream
}

func (b *bodyStore) get(ctx context.Context, js jetstream.JetStream) (jetstream.ObjectStore, jetstream.Stream, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.obs != nil {
		return b.obs, b.stream, nil
	}
	if err := b.open(ctx, js); err != nil {
		return nil, nil, err
	}
	return b.obs, b.stream, nil
}

// open binds the bucket; b.mu is held or b is not shared yet.
func (b *bodyStore) open(ctx context.Context, js jetstream.JetStream) error {
	s, err := js.Stream(ctx, bodiesStreamName)
	if err != nil {
		return fmt.Errorf("opening bucket %s: %w", BodiesBucket, err)
	}
	obs, err := js.ObjectStore(ctx, BodiesBucket)
	if err != nil {
		return fmt.Errorf("opening bucket %s: %w", BodiesBucket, err)
	}
	b.obs, b.stream = obs, s
	return nil
}

// The object store's stream and subjects, as nats.go's object store names
// them (ADR-20): chunks on $O.<bucket>.C.<nuid>, each object's meta record
// on $O.<bucket>.M.<base64url(name)>.
const (
	bodiesStreamName = "OBJ_" + BodiesBucket
	bodyChunksPrefix = "$O." + BodiesBucket + ".C."
	bodyMetaPrefix   = "$O." + BodiesBucket + ".M."
)

func bodyMetaSubject(name string) string {
	return bodyMetaPrefix + base64.URLEncoding.EncodeToString([]byte(name))
}

// bodiesStream is the bucket's stream. It is made as ensureStream makes the
// others, rather than by CreateObjectStore, for one setting: no direct
// gets. A direct get may be answered by a replica that has not applied the
// latest writes, and a dispatcher reads an object moments after it was
// acknowledged.
//
// Its MaxAge (Options.BodyMaxAge) exceeds the dead-letter stream's: an
// object is normally removed with its event (ReleaseBody, Purge), but
// nothing removes the object of a dead letter that ages out, of an event
// whose ReleaseBody failed, or of a put whose event was never stored; those
// go with the bucket's MaxAge.
func (o *Options) bodiesStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        bodiesStreamName,
		Description: "Webhook bodies above the inline limit, referred to by their events and dead letters",
		Subjects:    []string{bodyChunksPrefix + ">", bodyMetaPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		MaxAge:      o.BodyMaxAge,
		// The server's default, set so that the config compares equal.
		Duplicates:  2 * time.Minute,
		Discard:     jetstream.DiscardNew,
		AllowRollup: true,
		AllowDirect: false,
	}
}

// bodyLimits splits MaxStoreBytes between the events and dead-letter
// streams and the bodies bucket: JetStream bounds each stream on its own,
// and together they must stay below the store's size, keeping a tenth for
// dedupe markers, counters and state. The events stream keeps half (most
// events are inline), the bucket takes three tenths (large bodies, queued
// or dead), dead letters, now inline only, one tenth.
func (o *Options) bodyLimits(events, dlq, bodies *jetstream.StreamConfig) {
	if o.MaxStoreBytes <= 0 {
		return
	}
	events.MaxBytes = o.MaxStoreBytes * 5 / 10
	dlq.MaxBytes = o.MaxStoreBytes * 1 / 10
	bodies.MaxBytes = o.MaxStoreBytes * 3 / 10
}

// inlineMax is the longest body stored inside its event: InlineBodyMax, or
// less if the server's max_payload is smaller.
func (q *Queue) inlineMax() int64 {
	if p := q.NC.MaxPayload(); p > 0 {
		return min(q.opts.InlineBodyMax, max(p-MessageHeadroom, 0))
	}
	return q.opts.InlineBodyMax
}

// bodyTimeout bounds moving n bytes to or from the store: the publish
// timeout, plus a second per 4 MiB (64 MiB in 21 s).
func (q *Queue) bodyTimeout(n int64) time.Duration {
	return q.opts.PublishTimeout + time.Duration(n/(4<<20))*time.Second
}

// bodyRef is a reference to a body in the object store.
type bodyRef struct {
	name   string
	size   int64
	sha256 string
}

// setOn puts r on an event's headers.
func (r *bodyRef) setOn(h nats.Header) {
	h[HeaderBodyRef] = []string{r.name}
	h[HeaderBodySize] = []string{strconv.FormatInt(r.size, 10)}
	h[HeaderBodySHA256] = []string{r.sha256}
}

// parseBodyRef reads the reference on an event's headers: nil when its body
// is inline.
func parseBodyRef(h nats.Header) (*bodyRef, error) {
	name := h.Get(HeaderBodyRef)
	if name == "" {
		return nil, nil
	}
	size, err := strconv.ParseInt(h.Get(HeaderBodySize), 10, 64)
	if err != nil || size < 0 {
		return nil, fmt.Errorf("%w: %s has a malformed %s", ErrBodyMissing, name, HeaderBodySize)
	}
	sum := h.Get(HeaderBodySHA256)
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%w: %s has a malformed %s", ErrBodyMissing, name, HeaderBodySHA256)
	}
	return &bodyRef{name: name, size: size, sha256: strings.ToLower(sum)}, nil
}

// BodySize is the length of an event's body, whether inline (data) or by
// reference: what the endpoint's queued bytes count.
func BodySize(h nats.Header, data []byte) int64 {
	if h.Get(HeaderBodyRef) != "" {
		if n, err := strconv.ParseInt(h.Get(HeaderBodySize), 10, 64); err == nil && n >= 0 {
			return n
		}
	}
	return int64(len(data))
}

// putBody writes the body of an event of endpoint uid to the object store,
// under a name of its own, and returns once the store acknowledged every
// chunk and the meta record.
func (q *Queue) putBody(ctx context.Context, uid string, body []byte) (*bodyRef, error) {
	obs, _, err := q.bodies.get(ctx, q.JS)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, q.bodyTimeout(int64(len(body))))
	defer cancel()
	name := uid + "/" + nuid.Next()
	info, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: bodyChunkSize}},
		bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("storing body in %s: %w", BodiesBucket, err)
	}
	// The object store hashed the body as it sent it: no second pass.
	sum, err := jetstream.DecodeObjectDigest(info.Digest)
	if err != nil || len(sum) != sha256.Size || info.Size != uint64(len(body)) {
		q.removeBody(ctx, name)
		return nil, fmt.Errorf("storing body in %s: unexpected object info (size %d, digest %q)", BodiesBucket, info.Size, info.Digest)
	}
	return &bodyRef{name: name, size: int64(len(body)), sha256: hex.EncodeToString(sum)}, nil
}

// dropUnstoredBody removes the object of an event that was not stored: best
// effort, the bucket's MaxAge is the backstop.
func (q *Queue) dropUnstoredBody(ctx context.Context, ref *bodyRef) {
	if ref == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.opts.PublishTimeout)
	defer cancel()
	q.removeBody(ctx, ref.name)
}

func (q *Queue) removeBody(ctx context.Context, name string) {
	if obs, s, err := q.bodies.get(ctx, q.JS); err == nil {
		_ = deleteBody(ctx, obs, s, name)
	}
}

// notStored reports whether a failed publish was certainly not stored: the
// stream refused it, or no stream heard it. After a timeout or a lost
// connection the event may be stored all the same, and its body must stay.
func notStored(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) || errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}

// EventBody returns the body of a stored event (or dead letter) from its
// headers and data: data itself when the body is inline, else the object
// it refers to, checked against the size and SHA-256 the event carries.
// The error wraps ErrBodyMissing when the object is gone or does not match
// (it will not come back); any other error is the store being unavailable.
func (q *Queue) EventBody(ctx context.Context, h nats.Header, data []byte) ([]byte, error) {
	ref, err := parseBodyRef(h)
	if err != nil || ref == nil {
		return data, err
	}
	obs, s, err := q.bodies.get(ctx, q.JS)
	if err != nil {
		return nil, fmt.Errorf("reading body %s: %w", ref.name, err)
	}
	// A mismatch is read again: the chunks come through a consumer that may
	// sit on a replica still applying the latest writes.
	for pause := 100 * time.Millisecond; ; pause *= 2 {
		body, err := q.readBody(ctx, obs, s, ref)
		if !errors.Is(err, errBodyCorrupt) {
			return body, err
		}
		if pause > 400*time.Millisecond {
			return nil, fmt.Errorf("%w: %s: %v", ErrBodyMissing, ref.name, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("reading body %s: %w", ref.name, err)
		case <-time.After(pause):
		}
	}
}

func (q *Queue) readBody(parent context.Context, obs jetstream.ObjectStore, s jetstream.Stream, ref *bodyRef) ([]byte, error) {
	ctx, cancel := context.WithTimeout(parent, q.bodyTimeout(ref.size))
	defer cancel()
	res, err := obs.Get(ctx, ref.name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s not in %s", ErrBodyMissing, ref.name, BodiesBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("reading body %s: %w", ref.name, err)
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return nil, fmt.Errorf("reading body %s: %w", ref.name, err)
	}
	if info.Size != uint64(ref.size) {
		return nil, fmt.Errorf("%w: %s holds %d bytes, the event says %d", errBodyCorrupt, ref.name, info.Size, ref.size)
	}
	body := make([]byte, ref.size)
	_, err = io.ReadFull(res, body)
	if err == nil {
		// Read on to the end, where the object store checks its digest.
		var rest []byte
		if rest, err = io.ReadAll(io.LimitReader(res, 1)); err == nil && len(rest) > 0 {
			return nil, fmt.Errorf("%w: %s is longer than the event says", errBodyCorrupt, ref.name)
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrDigestMismatch), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: %s: %v", errBodyCorrupt, ref.name, err)
	case err != nil && parent.Err() == nil && chunksGone(parent, s, info.NUID, q.opts.PublishTimeout):
		// The meta record without its chunks (the bucket's MaxAge takes
		// the chunks a moment before it): the read waited in vain.
		return nil, fmt.Errorf("%w: the chunks of %s are gone", ErrBodyMissing, ref.name)
	case err != nil:
		return nil, fmt.Errorf("reading body %s: %w", ref.name, err)
	}
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != ref.sha256 {
		return nil, fmt.Errorf("%w: %s has another SHA-256", errBodyCorrupt, ref.name)
	}
	return body, nil
}

// CopyBody gives a copy of an event (the fan-out of an event to one of its
// endpoint's targets) a body object of its own, so that each copy's object
// is released on its own: it returns h with a reference to a new object
// holding the same bytes, or h itself when the body is inline. A copy that
// is then not stored (a duplicate) must be released by the caller.
func (q *Queue) CopyBody(ctx context.Context, h nats.Header) (nats.Header, error) {
	ref, err := parseBodyRef(h)
	if err != nil || ref == nil {
		return h, err
	}
	body, err := q.EventBody(ctx, h, nil)
	if err != nil {
		return nil, err
	}
	uid, _, _ := strings.Cut(ref.name, "/")
	c, err := q.putBody(ctx, uid, body)
	if err != nil {
		return nil, err
	}
	out := make(nats.Header, len(h))
	for k, vs := range h {
		out[k] = vs
	}
	c.setOn(out)
	return out, nil
}

// chunksGone reports whether the stream certainly holds no chunk of the
// object with this NUID.
func chunksGone(ctx context.Context, s jetstream.Stream, nuid string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := s.GetLastMsgForSubject(ctx, bodyChunksPrefix+nuid)
	return errors.Is(err, jetstream.ErrMsgNotFound)
}

// ReleaseBody removes the body object of a finished event, once the event
// has left the queue (acknowledged after delivery); it does nothing for an
// inline body or an object already gone. A dead-lettered event keeps its
// object: the dead letter carries the reference, and a replay needs it.
func (q *Queue) ReleaseBody(ctx context.Context, h nats.Header) error {
	name := h.Get(HeaderBodyRef)
	if name == "" {
		return nil
	}
	obs, s, err := q.bodies.get(ctx, q.JS)
	if err != nil {
		return fmt.Errorf("removing body %s: %w", name, err)
	}
	return deleteBody(ctx, obs, s, name)
}

// deleteBody removes an object and its chunks. Unlike ObjectStore.Delete it
// leaves no deleted-marker behind (one per finished event, until MaxAge):
// the meta record goes first, so the object is not found from then on, and
// chunks a crash leaves behind are only space, which MaxAge returns.
func deleteBody(ctx context.Context, obs jetstream.ObjectStore, s jetstream.Stream, name string) error {
	info, err := obs.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing body %s: %w", name, err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(bodyMetaSubject(name))); err != nil {
		return fmt.Errorf("removing body %s: %w", name, err)
	}
	if info.NUID == "" {
		return nil
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(bodyChunksPrefix+info.NUID)); err != nil {
		return fmt.Errorf("removing the chunks of body %s: %w", name, err)
	}
	return nil
}

// purgeBodies removes every object of an endpoint. Object names are
// <uid>/<id>, but meta subjects are their base64, which no subject filter
// can select by prefix: the bucket's objects are listed.
func (q *Queue) purgeBodies(ctx context.Context, uid string) error {
	obs, s, err := q.bodies.get(ctx, q.JS)
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil // no bucket, no bodies
	}
	if err != nil {
		return fmt.Errorf("purging bodies: %w", err)
	}
	objs, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing bodies: %w", err)
	}
	prefix := uid + "/"
	for _, o := range objs {
		if strings.HasPrefix(o.Name, prefix) {
			if err := deleteBody(ctx, obs, s, o.Name); err != nil {
				return err
			}
		}
	}
	return nil
}
