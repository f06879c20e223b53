package queue

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestReplayMatchingMovesOnlyTheChosenDeadLetters(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	// Two queue keys of one endpoint, as with two targets.
	for i, dl := range []struct{ key, id, body string }{
		{"u_a", "e1", `{"n":1}`}, {"u_a", "e2", `{"n":2,"secret":"needle"}`}, {"u_b", "e3", `{"n":3}`}, {"u_b", "e4", `{"n":4}`},
	} {
		h := nats.Header{}
		h.Set(HeaderEventID, dl.id)
		h.Set(HeaderDelivery, "d-"+dl.id)
		h.Set(HeaderProvider, "github")
		h.Set(HeaderReceivedAt, at.Add(time.Duration(i)*time.Minute).Format(time.RFC3339Nano))
		h.Set(HeaderOrigPrefix+"X-Github-Event", "push")
		if err := q.DeadLetter(ctx, dl.key, []byte(dl.body), h, 2, "HTTP500: boom"); err != nil {
			t.Fatal(err)
		}
	}
	keys := []string{"u", "u_a", "u_b"}
	want := map[string]bool{"e1": true, "e4": true}
	var seen []*DeadLetter
	ids, err := q.ReplayMatching(ctx, keys, func(dl *DeadLetter) bool {
		seen = append(seen, dl)
		return want[dl.EventID]
	}, false, 10, true)
	if err != nil || !slices.Equal(ids, []string{"e1", "e4"}) {
		t.Fatalf("dry run = %v, %v; want [e1 e4]", ids, err)
	}
	if len(seen) != 4 || seen[1].DeliveryID != "d-e2" || seen[1].Provider != "github" || !seen[1].ReceivedAt.Equal(at.Add(time.Minute)) ||
		seen[1].Header["X-Github-Event"][0] != "push" || seen[1].Body != nil {
		t.Fatalf("matcher saw %d dead letters, second %+v", len(seen), seen[1])
	}
	if n := subjects(t, q, DLQStream, DLQSubject("u_a")) + subjects(t, q, DLQStream, DLQSubject("u_b")); n != 4 {
		t.Fatalf("a dry run moved dead letters: %d left of 4", n)
	}
	ids, err = q.ReplayMatching(ctx, keys, func(dl *DeadLetter) bool { return want[dl.EventID] }, false, 10, false)
	if err != nil || !slices.Equal(ids, []string{"e1", "e4"}) {
		t.Fatalf("ReplayMatching = %v, %v", ids, err)
	}
	if a, b := subjects(t, q, EventsStream, EventsSubject("u_a")), subjects(t, q, EventsStream, EventsSubject("u_b")); a != 1 || b != 1 {
		t.Fatalf("requeued %d to u_a and %d to u_b; want 1 each, into their own queues", a, b)
	}
	if a, b := subjects(t, q, DLQStream, DLQSubject("u_a")), subjects(t, q, DLQStream, DLQSubject("u_b")); a != 1 || b != 1 {
		t.Fatalf("dead letters left: %d and %d; want the two not chosen", a, b)
	}
	// Bodies on request, and the limit.
	ids, err = q.ReplayMatching(ctx, keys, func(dl *DeadLetter) bool { return strings.Contains(string(dl.Body), "needle") }, true, 10, false)
	if err != nil || !slices.Equal(ids, []string{"e2"}) {
		t.Fatalf("matching on the body = %v, %v", ids, err)
	}
	ids, err = q.ReplayMatching(ctx, keys, func(*DeadLetter) bool { return true }, false, 0+1, false)
	if err != nil || !slices.Equal(ids, []string{"e3"}) {
		t.Fatalf("limit 1 = %v, %v", ids, err)
	}
}

func subjects(t *testing.T, q *Queue, stream, subject string) uint64 {
	t.Helper()
	s, err := q.JS.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}
