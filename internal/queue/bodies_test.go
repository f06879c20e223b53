package queue_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

func randomBody(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func bodyEvent(uid, id string, body []byte) *queue.Event {
	return &queue.Event{EndpointUID: uid, Endpoint: "ns/big", Provider: "github", DeliveryID: id, ReceivedAt: time.Now(),
		Header: map[string][]string{"X-Github-Event": {"push"}}, Body: body}
}

// pullEvent takes the next event of uid from the events stream, as a
// dispatcher does, and acknowledges it.
func pullEvent(t *testing.T, q *queue.Queue, uid string) jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := q.JS.CreateConsumer(ctx, queue.EventsStream, jetstream.ConsumerConfig{
		FilterSubject: queue.EventsSubject(uid), AckPolicy: jetstream.AckExplicitPolicy, InactiveThreshold: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.JS.DeleteConsumer(context.Background(), queue.EventsStream, c.CachedInfo().Name) }()
	msg, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("pulling an event of %s: %v", uid, err)
	}
	if err := msg.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	return msg
}

// objectNames lists the bucket's objects of uid.
func objectNames(t *testing.T, q *queue.Queue, uid string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	obs, err := q.JS.ObjectStore(ctx, queue.BodiesBucket)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		if strings.HasPrefix(o.Name, uid+"/") {
			names = append(names, o.Name)
		}
	}
	return names
}

// bucketMessages is how many messages (chunks, meta records, markers) the
// bucket's stream holds.
func bucketMessages(t *testing.T, q *queue.Queue) uint64 {
	t.Helper()
	s, err := q.JS.Stream(context.Background(), "OBJ_"+queue.BodiesBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestABodyAboveTheInlineLimitIsStoredByReferenceAndComesBackByteForByte(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	ctx := context.Background()
	body := randomBody(t, 20<<20)
	if r, err := q.Enqueue(ctx, bodyEvent("u-big", "d-1", body), time.Hour); err != nil || r.Duplicate {
		t.Fatalf("Enqueue = %+v, %v", r, err)
	}
	msg := pullEvent(t, q, "u-big")
	h := msg.Headers()
	if len(msg.Data()) != 0 || h.Get(queue.HeaderBodyRef) == "" {
		t.Fatalf("stored event holds %d bytes of data and ref %q; want none and a ref", len(msg.Data()), h.Get(queue.HeaderBodyRef))
	}
	if !strings.HasPrefix(h.Get(queue.HeaderBodyRef), "u-big/") {
		t.Fatalf("object %q is not named after its endpoint", h.Get(queue.HeaderBodyRef))
	}
	if h.Get(queue.HeaderBodySize) != strconv.Itoa(len(body)) || len(h.Get(queue.HeaderBodySHA256)) != 64 {
		t.Fatalf("size %q, sha256 %q", h.Get(queue.HeaderBodySize), h.Get(queue.HeaderBodySHA256))
	}
	if h.Get(queue.HeaderOrigPrefix+"X-Github-Event") != "push" {
		t.Fatal("the request's headers were lost")
	}
	got, err := q.EventBody(ctx, h, msg.Data())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("body read back differs (%d bytes, want %d)", len(got), len(body))
	}
	if n := queue.BodySize(h, msg.Data()); n != int64(len(body)) {
		t.Fatalf("BodySize = %d, want %d", n, len(body))
	}
	// The quota counts the body, not the reference.
	if err := q.FlushCounters(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Counter(ctx, "u-big", queue.CounterQueuedBytes); err != nil || n != int64(len(body)) {
		t.Fatalf("queued bytes = %d, %v; want %d", n, err, len(body))
	}
}

func TestTheEventsStreamHoldsNoBodyAboveTheInlineLimit(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	ctx := context.Background()
	for i, n := range []int{queue.DefaultInlineBodyMax + 1, 1 << 20, 7 << 20, 30 << 20} {
		if _, err := q.Enqueue(ctx, bodyEvent("u-small", "d-"+strconv.Itoa(i), randomBody(t, n)), time.Hour); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
	s, err := q.JS.Stream(ctx, queue.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); ; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m.Subject, "hookgate.events.") {
			continue // a dedupe marker
		}
		var hb int
		for k, vs := range m.Header {
			for _, v := range vs {
				hb += len(k) + len(v) + 4
			}
		}
		if len(m.Data) != 0 || hb > 4<<10 {
			t.Fatalf("event %d holds %d bytes of data and %d of headers", seq, len(m.Data), hb)
		}
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Bytes > 64<<10 {
		t.Fatalf("the events stream holds %d bytes for four events by reference", info.State.Bytes)
	}
}

func TestABodyAtTheInlineLimitStaysInTheEvent(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{InlineBodyMax: 64 << 10})
	ctx := context.Background()
	body := randomBody(t, 64<<10)
	if _, err := q.Enqueue(ctx, bodyEvent("u-in", "d-1", body), time.Hour); err != nil {
		t.Fatal(err)
	}
	msg := pullEvent(t, q, "u-in")
	if !bytes.Equal(msg.Data(), body) || msg.Headers().Get(queue.HeaderBodyRef) != "" {
		t.Fatalf("an inline body was stored by reference (%d bytes of data, ref %q)", len(msg.Data()), msg.Headers().Get(queue.HeaderBodyRef))
	}
	got, err := q.EventBody(ctx, msg.Headers(), msg.Data())
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("EventBody of an inline body: %d bytes, %v", len(got), err)
	}
	if queue.BodySize(msg.Headers(), msg.Data()) != int64(len(body)) {
		t.Fatal("BodySize of an inline body is not its length")
	}
	if err := q.ReleaseBody(ctx, msg.Headers()); err != nil {
		t.Fatalf("ReleaseBody of an inline body: %v", err)
	}
	if n := bucketMessages(t, q); n != 0 {
		t.Fatalf("the bucket holds %d messages for an inline body", n)
	}
	// One byte more goes to the bucket.
	if _, err := q.Enqueue(ctx, bodyEvent("u-in", "d-2", randomBody(t, 64<<10+1)), time.Hour); err != nil {
		t.Fatal(err)
	}
	if names := objectNames(t, q, "u-in"); len(names) != 1 {
		t.Fatalf("objects after a body one byte over the limit: %v", names)
	}
}

func TestADuplicateTakesItsObjectWithIt(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	ctx := context.Background()
	ev := bodyEvent("u-dup", "d-1", randomBody(t, 1<<20))
	if r, err := q.Enqueue(ctx, ev, time.Hour); err != nil || r.Duplicate {
		t.Fatalf("first Enqueue = %+v, %v", r, err)
	}
	first := objectNames(t, q, "u-dup")
	if len(first) != 1 {
		t.Fatalf("objects after one event: %v", first)
	}
	// Caught by the marker (the server refuses the event).
	waitForMarker(t, q, "u-dup", "d-1")
	if r, err := q.Enqueue(ctx, ev, time.Hour); err != nil || !r.Duplicate {
		t.Fatalf("redelivery = %+v, %v; want a duplicate", r, err)
	}
	// Caught by the stream's Nats-Msg-Id window (the marker lost).
	s, err := q.JS.Stream(ctx, queue.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(queue.SeenSubject("u-dup", "d-1"))); err != nil {
		t.Fatal(err)
	}
	if r, err := q.Enqueue(ctx, ev, time.Hour); err != nil || !r.Duplicate {
		t.Fatalf("redelivery in the race window = %+v, %v; want a duplicate", r, err)
	}
	if names := objectNames(t, q, "u-dup"); len(names) != 1 || names[0] != first[0] {
		t.Fatalf("objects after two duplicates: %v, want only %v", names, first)
	}
	msg := pullEvent(t, q, "u-dup")
	if msg.Headers().Get(queue.HeaderBodyRef) != first[0] {
		t.Fatal("the stored event does not refer to the first object")
	}
	if _, err := q.EventBody(ctx, msg.Headers(), msg.Data()); err != nil {
		t.Fatalf("the stored event's body: %v", err)
	}
}

func waitForMarker(t *testing.T, q *queue.Queue, uid, id string) {
	t.Helper()
	s, err := q.JS.Stream(context.Background(), queue.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := s.GetLastMsgForSubject(context.Background(), queue.SeenSubject(uid, id)); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the dedupe marker was not written")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAnEventTheStreamRefusesTakesItsObjectWithIt(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{MaxEventsPerEndpoint: 1})
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, bodyEvent("u-full", "", randomBody(t, 1<<20)), time.Hour); err != nil {
		t.Fatal(err)
	}
	_, err := q.Enqueue(ctx, bodyEvent("u-full", "", randomBody(t, 1<<20)), time.Hour)
	if !errors.Is(queue.StoreError(err), queue.ErrQuotaExceeded) {
		t.Fatalf("second event: %v, want the endpoint's ceiling", err)
	}
	if names := objectNames(t, q, "u-full"); len(names) != 1 {
		t.Fatalf("objects after a refused event: %v, want the stored one's only", names)
	}
}

func TestAFullBodiesBucketIsAFullStore(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{MaxStoreBytes: 10 << 20}) // the bucket gets 3 MiB
	ctx := context.Background()
	_, err := q.Enqueue(ctx, bodyEvent("u-fat", "d-1", randomBody(t, 4<<20)), time.Hour)
	if !errors.Is(err, queue.ErrUnavailable) || !errors.Is(queue.StoreError(err), queue.ErrStoreFull) {
		t.Fatalf("a body larger than the bucket: %v, want a full store", err)
	}
	if n, err := q.ReadCounters(ctx, "u-fat"); err != nil || n.Pending != 0 {
		t.Fatalf("pending %d, %v: an event was stored without its body", n.Pending, err)
	}
}

func TestReleaseBodyRemovesTheObjectAndLeavesNothingBehind(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, bodyEvent("u-rel", "d-1", randomBody(t, 3<<20)), time.Hour); err != nil {
		t.Fatal(err)
	}
	msg := pullEvent(t, q, "u-rel")
	if err := q.ReleaseBody(ctx, msg.Headers()); err != nil {
		t.Fatal(err)
	}
	if names := objectNames(t, q, "u-rel"); len(names) != 0 {
		t.Fatalf("objects after ReleaseBody: %v", names)
	}
	if n := bucketMessages(t, q); n != 0 {
		t.Fatalf("the bucket still holds %d messages (chunks or a deleted-marker)", n)
	}
	// Twice (an event delivered again after a lost ack) is no error.
	if err := q.ReleaseBody(ctx, msg.Headers()); err != nil {
		t.Fatalf("second ReleaseBody: %v", err)
	}
	_, err := q.EventBody(ctx, msg.Headers(), msg.Data())
	if !errors.Is(err, queue.ErrBodyMissing) {
		t.Fatalf("EventBody after ReleaseBody: %v, want ErrBodyMissing", err)
	}
}

func TestACopiedBodyIsReleasedOnItsOwn(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	ctx := context.Background()
	body := randomBody(t, 2<<20)
	if _, err := q.Enqueue(ctx, bodyEvent("u-fan", "d-1", body), time.Hour); err != nil {
		t.Fatal(err)
	}
	msg := pullEvent(t, q, "u-fan")
	c, err := q.CopyBody(ctx, msg.Headers())
	if err != nil {
		t.Fatal(err)
	}
	if c.Get(queue.HeaderBodyRef) == msg.Headers().Get(queue.HeaderBodyRef) || !strings.HasPrefix(c.Get(queue.HeaderBodyRef), "u-fan/") {
		t.Fatalf("copy refers to %q, the original to %q", c.Get(queue.HeaderBodyRef), msg.Headers().Get(queue.HeaderBodyRef))
	}
	if c.Get(queue.HeaderOrigPrefix+"X-Github-Event") != "push" {
		t.Fatal("the copy lost the event's headers")
	}
	if err := q.ReleaseBody(ctx, msg.Headers()); err != nil {
		t.Fatal(err)
	}
	got, err := q.EventBody(ctx, c, nil)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("the copy's body after the original's release: %d bytes, %v", len(got), err)
	}
	if err := q.ReleaseBody(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := bucketMessages(t, q); n != 0 {
		t.Fatalf("the bucket holds %d messages after both releases", n)
	}
	inline := nats.Header{"A": {"b"}}
	if h, err := q.CopyBody(ctx, inline); err != nil || h.Get("A") != "b" {
		t.Fatalf("CopyBody of an inline event: %v, %v", h, err)
	}
}

func TestPurgeRemovesTheEndpointsBodiesOnly(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	ctx := context.Background()
	keep := randomBody(t, 2<<20)
	for i := 0; i < 3; i++ {
		if _, err := q.Enqueue(ctx, bodyEvent("u-gone", "d-"+strconv.Itoa(i), randomBody(t, 1<<20)), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Enqueue(ctx, bodyEvent("u-kept", "d-0", keep), time.Hour); err != nil {
		t.Fatal(err)
	}
	// One of the purged endpoint's bodies belongs to a dead letter.
	dead := pullEvent(t, q, "u-gone")
	if err := q.DeadLetter(ctx, "u-gone", dead.Data(), dead.Headers(), 3, "HTTP500: boom"); err != nil {
		t.Fatal(err)
	}
	if err := q.Purge(ctx, "u-gone"); err != nil {
		t.Fatal(err)
	}
	if names := objectNames(t, q, "u-gone"); len(names) != 0 {
		t.Fatalf("purged endpoint's objects left: %v", names)
	}
	if names := objectNames(t, q, "u-kept"); len(names) != 1 {
		t.Fatalf("other endpoint's objects: %v", names)
	}
	msg := pullEvent(t, q, "u-kept")
	got, err := q.EventBody(ctx, msg.Headers(), msg.Data())
	if err != nil || !bytes.Equal(got, keep) {
		t.Fatalf("other endpoint's body after the purge: %d bytes, %v", len(got), err)
	}
	// An endpoint without bodies purges too.
	if err := q.Purge(ctx, "u-none"); err != nil {
		t.Fatal(err)
	}
}

func TestAMissingOrCorruptBodyIsErrBodyMissing(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, bodyEvent("u-bad", "d-1", randomBody(t, 1<<20)), time.Hour); err != nil {
		t.Fatal(err)
	}
	msg := pullEvent(t, q, "u-bad")
	name := msg.Headers().Get(queue.HeaderBodyRef)
	obs, err := q.JS.ObjectStore(ctx, queue.BodiesBucket)
	if err != nil {
		t.Fatal(err)
	}
	with := func(k, v string) nats.Header {
		h := nats.Header{}
		for hk, vs := range msg.Headers() {
			h[hk] = vs
		}
		h.Set(k, v)
		return h
	}
	cases := []struct {
		name string
		h    nats.Header
	}{
		{"a body of another size", with(queue.HeaderBodySize, strconv.Itoa(1<<20-1))},
		{"a body with another digest", with(queue.HeaderBodySHA256, strings.Repeat("ab", 32))},
		{"a malformed size", with(queue.HeaderBodySize, "big")},
		{"a malformed digest", with(queue.HeaderBodySHA256, "xyz")},
		{"an object that was never stored", with(queue.HeaderBodyRef, "u-bad/never")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := q.EventBody(ctx, c.h, nil); !errors.Is(err, queue.ErrBodyMissing) {
				t.Fatalf("EventBody: %v, want ErrBodyMissing", err)
			}
		})
	}
	t.Run("an object whose content was replaced", func(t *testing.T) {
		if _, err := obs.PutBytes(ctx, name, randomBody(t, 1<<20)); err != nil {
			t.Fatal(err)
		}
		if _, err := q.EventBody(ctx, msg.Headers(), nil); !errors.Is(err, queue.ErrBodyMissing) {
			t.Fatalf("EventBody: %v, want ErrBodyMissing", err)
		}
	})
	t.Run("an object whose chunks are gone", func(t *testing.T) {
		s, err := q.JS.Stream(ctx, "OBJ_"+queue.BodiesBucket)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Purge(ctx, jetstream.WithPurgeSubject("$O."+queue.BodiesBucket+".C.>")); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := q.EventBody(rctx, msg.Headers(), nil); !errors.Is(err, queue.ErrBodyMissing) {
			t.Fatalf("EventBody: %v, want ErrBodyMissing", err)
		}
	})
	t.Run("an unreachable store is not ErrBodyMissing", func(t *testing.T) {
		q.NC.Close()
		_, err := q.EventBody(ctx, msg.Headers(), nil)
		if err == nil || errors.Is(err, queue.ErrBodyMissing) {
			t.Fatalf("EventBody without a connection: %v, want an outage", err)
		}
	})
}

func TestADeadLetteredBodyIsFoundAgainAfterAReplay(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{})
	ctx := context.Background()
	body := randomBody(t, 5<<20)
	if _, err := q.Enqueue(ctx, bodyEvent("u-dlq", "d-1", body), time.Hour); err != nil {
		t.Fatal(err)
	}
	msg := pullEvent(t, q, "u-dlq")
	if err := q.DeadLetter(ctx, "u-dlq", msg.Data(), msg.Headers(), 5, "HTTP500: boom"); err != nil {
		t.Fatal(err)
	}
	// As a dispatcher does: the dead letter leaves the queue's quota.
	q.Incr("u-dlq", queue.CounterQueuedBytes, -queue.BodySize(msg.Headers(), msg.Data()))
	dlq, err := q.JS.Stream(ctx, queue.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := dlq.GetLastMsgForSubject(ctx, queue.DLQSubject("u-dlq"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := q.EventBody(ctx, dl.Header, dl.Data); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("the dead letter's body: %d bytes, %v", len(got), err)
	}
	if n, err := q.Replay(ctx, "u-dlq"); err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v", n, err)
	}
	again := pullEvent(t, q, "u-dlq")
	got, err := q.EventBody(ctx, again.Headers(), again.Data())
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("the replayed event's body: %d bytes, %v", len(got), err)
	}
	if err := q.FlushCounters(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Counter(ctx, "u-dlq", queue.CounterQueuedBytes); err != nil || n != int64(len(body)) {
		t.Fatalf("queued bytes after the replay = %d, %v; want the body's %d", n, err, len(body))
	}
}

func TestBodiesBucketOutlivesDeadLetters(t *testing.T) {
	q, _ := queuetest.Start(t, queue.Options{DeadLetterMaxAge: 48 * time.Hour, MaxStoreBytes: 1 << 30})
	ctx := context.Background()
	obs, err := q.JS.ObjectStore(ctx, queue.BodiesBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := obs.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := 48*time.Hour + queue.DefaultBodyRetentionMargin; st.TTL() != want || st.Replicas() != 1 || st.Storage() != jetstream.FileStorage {
		t.Fatalf("bucket TTL %s, replicas %d, storage %v; want %s, 1, file", st.TTL(), st.Replicas(), st.Storage(), want)
	}
	var total int64
	for _, name := range []string{queue.EventsStream, queue.DLQStream, "OBJ_" + queue.BodiesBucket} {
		s, err := q.JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if mb := s.CachedInfo().Config.MaxBytes; mb <= 0 {
			t.Fatalf("%s has no byte limit", name)
		} else {
			total += mb
		}
	}
	if total > (1<<30)*9/10 {
		t.Fatalf("events, dead letters and bodies may use %d bytes, more than nine tenths of the store", total)
	}
}

func TestAnEdgeQueueStoresALargeBodyInTheHubBucket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JetStream cluster and an edge server")
	}
	_, hub, edge := startEdgeQueues(t)
	ctx := context.Background()
	body := randomBody(t, 6<<20)
	if r, err := edge.Enqueue(ctx, bodyEvent("u-edge", "d-1", body), time.Hour); err != nil || r.Duplicate {
		t.Fatalf("edge Enqueue = %+v, %v", r, err)
	}
	// A retry of the same delivery from the edge leaves no second object.
	if r, err := edge.Enqueue(ctx, bodyEvent("u-edge", "d-1", body), time.Hour); err != nil || !r.Duplicate {
		t.Fatalf("edge redelivery = %+v, %v", r, err)
	}
	if names := objectNames(t, hub, "u-edge"); len(names) != 1 {
		t.Fatalf("hub objects: %v", names)
	}
	msg := pullEvent(t, hub, "u-edge")
	if len(msg.Data()) != 0 {
		t.Fatal("the edge stored the body inline")
	}
	got, err := hub.EventBody(ctx, msg.Headers(), msg.Data())
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("body read on the hub: %d bytes, %v", len(got), err)
	}
	if err := hub.ReleaseBody(ctx, msg.Headers()); err != nil {
		t.Fatal(err)
	}
	if names := objectNames(t, hub, "u-edge"); len(names) != 0 {
		t.Fatalf("hub objects after ReleaseBody: %v", names)
	}
}
