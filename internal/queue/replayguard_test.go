package queue

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// These tests break the store the way a full disk or a full JetStream
// account does: the server refuses new messages on one stream while reads
// keep working. No fake stands in for the server.

// refuseWrites caps stream name at one byte, so the server refuses every
// new message on it (its streams discard new messages when full), until
// the returned function restores the limit.
func refuseWrites(t *testing.T, q *Queue, name string) (restore func()) {
	t.Helper()
	ctx := context.Background()
	s, err := q.JS.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.Discard != jetstream.DiscardNew {
		t.Fatalf("stream %s discards old messages when full; capping it would not refuse writes", name)
	}
	limited := cfg
	limited.MaxBytes = 1
	if _, err := q.JS.UpdateStream(ctx, limited); err != nil {
		t.Fatalf("capping stream %s: %v", name, err)
	}
	return func() {
		t.Helper()
		if _, err := q.JS.UpdateStream(ctx, cfg); err != nil {
			t.Fatalf("restoring stream %s: %v", name, err)
		}
	}
}

const dedupeStream = "KV_" + DedupeBucket

// storedFor is how many events of uid the events stream holds.
func storedFor(t *testing.T, q *Queue, uid string) uint64 {
	t.Helper()
	ctx := context.Background()
	s, err := q.JS.Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(EventsSubject(uid)))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[EventsSubject(uid)]
}

// mailgunEvent is a delivery whose token is single-use: the marker is the
// only thing that refuses a replay of its signature.
func mailgunEvent(uid, token, body string) *Event {
	return &Event{EndpointUID: uid, Endpoint: "ns/mailgun", Provider: "mailgun", DeliveryID: token,
		ReceivedAt: time.Now(), Body: []byte(body), ReplayGuard: true}
}

func TestAGuardedEventIsNotStoredWhileItsMarkerCannotBeWritten(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	const uid = "uid-guard"
	restore := refuseWrites(t, q, dedupeStream)

	// The provider's delivery, then an attacker replaying its token with
	// another body: neither may be stored without a marker.
	for i, body := range []string{`{"event":"delivered"}`, `{"event":"forged"}`} {
		r, err := q.Enqueue(ctx, mailgunEvent(uid, "tok-1", body), time.Hour)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("request %d: Enqueue = %+v, %v; want ErrUnavailable while the marker cannot be written", i+1, r, err)
		}
	}
	if n := storedFor(t, q, uid); n != 0 {
		t.Fatalf("%d events stored although their replay guard was never written", n)
	}
	// An event whose dedupe is only a convenience is still stored.
	plain := mailgunEvent(uid, "gh-1", "{}")
	plain.ReplayGuard = false
	if _, err := q.Enqueue(ctx, plain, time.Hour); err != nil {
		t.Fatalf("an unguarded event was refused over its marker: %v", err)
	}

	restore()
	r, err := q.Enqueue(ctx, mailgunEvent(uid, "tok-1", `{"event":"delivered"}`), time.Hour)
	if err != nil || r.Duplicate {
		t.Fatalf("provider's retry after recovery: %+v, %v; want it stored", r, err)
	}
	r, err = q.Enqueue(ctx, mailgunEvent(uid, "tok-1", `{"event":"forged"}`), time.Hour)
	if err != nil || !r.Duplicate {
		t.Fatalf("replay after recovery: %+v, %v; want a duplicate", r, err)
	}
	if n := storedFor(t, q, uid); n != 2 {
		t.Fatalf("%d events stored, want the unguarded one and the token's once", n)
	}
}

func TestAGuardedEventWhoseStoreFailedIsStoredByTheRetry(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	const uid = "uid-claim"
	restore := refuseWrites(t, q, EventsStream)
	if _, err := q.Enqueue(ctx, mailgunEvent(uid, "tok-2", "{}"), time.Hour); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Enqueue with the events stream full = %v, want ErrUnavailable", err)
	}
	restore()

	// The marker was claimed before the store failed; the retry must not
	// mistake the claim for a stored event, or the event would be lost.
	r, err := q.Enqueue(ctx, mailgunEvent(uid, "tok-2", "{}"), time.Hour)
	if err != nil || r.Duplicate {
		t.Fatalf("retry: %+v, %v; want the event stored", r, err)
	}
	if r, err := q.Enqueue(ctx, mailgunEvent(uid, "tok-2", "{}"), time.Hour); err != nil || !r.Duplicate {
		t.Fatalf("second retry: %+v, %v; want a duplicate", r, err)
	}
	if n := storedFor(t, q, uid); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
}

// TestAGuardedEventStoredWithoutItsMarkerGetsOneOnItsRetry covers an event
// already in the stream whose marker was lost (written by a receiver that
// ignored the failure, or a crash between the two writes): the stream's
// Nats-Msg-Id window answers the retry as a duplicate, and that retry must
// write the marker, or a replay after the window would be stored again.
func TestAGuardedEventStoredWithoutItsMarkerGetsOneOnItsRetry(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	const uid = "uid-lost"
	restore := refuseWrites(t, q, dedupeStream)
	unguarded := mailgunEvent(uid, "tok-3", "{}")
	unguarded.ReplayGuard = false
	first, err := q.Enqueue(ctx, unguarded, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	restore()

	r, err := q.Enqueue(ctx, mailgunEvent(uid, "tok-3", "{}"), time.Hour)
	if err != nil || !r.Duplicate {
		t.Fatalf("retry inside the stream's window: %+v, %v; want a duplicate", r, err)
	}
	entry, err := q.dedupe.Get(ctx, dedupeKey(uid, "tok-3"))
	if err != nil {
		t.Fatalf("the retry answered duplicate without writing the marker: %v", err)
	}
	if got, want := string(entry.Value()), strconv.FormatUint(first.Sequence, 10); got != want {
		t.Fatalf("marker = %q, want the stored event's sequence %s", got, want)
	}
	if n := storedFor(t, q, uid); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
}

// TestAGuardedMarkerKeepsItsWindow: marking the claim as stored must not
// drop the per-key TTL, or markers would pile up for MaxDedupeWindow.
func TestAGuardedMarkerKeepsItsWindow(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, mailgunEvent("uid-ttl", "tok-4", "{}"), time.Second); err != nil {
		t.Fatal(err)
	}
	key := dedupeKey("uid-ttl", "tok-4")
	entry, err := q.dedupe.Get(ctx, key)
	if err != nil || string(entry.Value()) == markerClaimed {
		t.Fatalf("marker after a stored event: %v, %v; want the sequence", entry, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := q.dedupe.Get(ctx, key); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("guarded marker outlived its 1s window by 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
