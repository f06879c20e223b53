package queue

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
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

// markerOf is the dedupe marker of a delivery (nil when there is none),
// waiting a moment for one written asynchronously.
func markerOf(t *testing.T, q *Queue, uid, deliveryID string) *jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := q.JS.Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		m, err := s.GetLastMsgForSubject(ctx, SeenSubject(uid, deliveryID))
		if err == nil {
			return m
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			return nil
		}
	}
}

// After the stream's Nats-Msg-Id window, only the marker refuses a
// redelivery; without it (purged here) the same delivery is stored again,
// which is what shows the marker, not the window, caught it.
func TestTheMarkerRefusesARedeliveryAfterTheRaceWindow(t *testing.T) {
	q := startQueueWith(t, Options{RaceWindow: 500 * time.Millisecond})
	ctx := context.Background()
	const uid = "uid-late"
	ev := &Event{EndpointUID: uid, DeliveryID: "d-1", ReceivedAt: time.Now(), Body: []byte("{}")}
	first, err := q.Enqueue(ctx, ev, time.Hour)
	if err != nil || first.Duplicate {
		t.Fatalf("first: %+v %v", first, err)
	}
	m := markerOf(t, q, uid, "d-1")
	if m == nil {
		t.Fatal("no marker written")
	}
	if got, want := string(m.Data), strconv.FormatUint(first.Sequence, 10); got != want {
		t.Fatalf("marker = %q, want the event's sequence %s", got, want)
	}
	time.Sleep(time.Second)
	if r, err := q.Enqueue(ctx, ev, time.Hour); err != nil || !r.Duplicate {
		t.Fatalf("redelivery after the race window: %+v %v, want a duplicate", r, err)
	}
	if n := storedFor(t, q, uid); n != 1 {
		t.Fatalf("%d stored, want 1", n)
	}
	s, _ := q.JS.Stream(ctx, EventsStream)
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(SeenSubject(uid, "d-1"))); err != nil {
		t.Fatal(err)
	}
	if r, err := q.Enqueue(ctx, ev, time.Hour); err != nil || r.Duplicate {
		t.Fatalf("without its marker: %+v %v, want stored again", r, err)
	}
	if n := storedFor(t, q, uid); n != 2 {
		t.Fatalf("%d stored, want 2", n)
	}
}

// Copies of one delivery racing through many receivers at once are stored
// once: the Nats-Msg-Id window catches those that arrive before the first
// copy's marker.
func TestConcurrentCopiesAreStoredOnce(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	const uid, copies = "uid-race", 50
	var wg sync.WaitGroup
	var stored atomic.Int64
	for i := 0; i < copies; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := q.Enqueue(ctx, &Event{EndpointUID: uid, DeliveryID: "same", ReceivedAt: time.Now(), Body: []byte("{}")}, time.Hour)
			if err != nil {
				t.Error(err)
			}
			if !r.Duplicate {
				stored.Add(1)
			}
		}()
	}
	wg.Wait()
	if stored.Load() != 1 || storedFor(t, q, uid) != 1 {
		t.Fatalf("%d answered stored, %d in the stream; want 1", stored.Load(), storedFor(t, q, uid))
	}
}

// A guarded event (Mailgun's single-use token) is accepted only once its
// marker is written: it exists when Enqueue returns.
func TestAGuardedEventIsAcceptedWithItsMarkerWritten(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, mailgunEvent("uid-g", "tok-1", "{}"), time.Hour); err != nil {
		t.Fatal(err)
	}
	s, _ := q.JS.Stream(ctx, EventsStream)
	if _, err := s.GetLastMsgForSubject(ctx, SeenSubject("uid-g", "tok-1")); err != nil {
		t.Fatalf("guarded marker not there when Enqueue returned: %v", err)
	}
	if r, err := q.Enqueue(ctx, mailgunEvent("uid-g", "tok-1", `{"forged":1}`), time.Hour); err != nil || !r.Duplicate {
		t.Fatalf("replay: %+v %v, want a duplicate", r, err)
	}
}

// TestAnEventStoredWithoutItsMarkerGetsOneOnItsRetry covers an event in the
// stream whose marker was lost (a crash between the two writes): the
// stream's Nats-Msg-Id window answers the retry as a duplicate, and that
// retry writes the marker, or a replay after the window would be stored
// again.
func TestAnEventStoredWithoutItsMarkerGetsOneOnItsRetry(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	const uid = "uid-lost"
	first, err := q.Enqueue(ctx, mailgunEvent(uid, "tok-3", "{}"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := q.JS.Stream(ctx, EventsStream)
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(SeenSubject(uid, "tok-3"))); err != nil {
		t.Fatal(err)
	}
	r, err := q.Enqueue(ctx, mailgunEvent(uid, "tok-3", "{}"), time.Hour)
	if err != nil || !r.Duplicate {
		t.Fatalf("retry inside the stream's window: %+v, %v; want a duplicate", r, err)
	}
	m := markerOf(t, q, uid, "tok-3")
	if m == nil {
		t.Fatal("the retry answered duplicate without writing the marker")
	}
	if got, want := string(m.Data), strconv.FormatUint(first.Sequence, 10); got != want {
		t.Fatalf("marker = %q, want the stored event's sequence %s", got, want)
	}
	if n := storedFor(t, q, uid); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
}

// A full store refuses the event and its marker alike; the provider's
// retry after recovery is stored, once.
func TestAnEventRefusedByAFullStoreIsStoredByTheRetry(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	const uid = "uid-full"
	restore := refuseWrites(t, q, EventsStream)
	if _, err := q.Enqueue(ctx, mailgunEvent(uid, "tok-2", "{}"), time.Hour); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Enqueue with the events stream full = %v, want ErrUnavailable", err)
	}
	restore()
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

// A marker keeps the endpoint's window as its TTL, or markers would pile
// up for MaxDedupeWindow.
func TestAGuardedMarkerKeepsItsWindow(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, mailgunEvent("uid-ttl", "tok-4", "{}"), time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	s, _ := q.JS.Stream(ctx, EventsStream)
	for {
		if _, err := s.GetLastMsgForSubject(ctx, SeenSubject("uid-ttl", "tok-4")); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("guarded marker outlived its 1s window by 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
