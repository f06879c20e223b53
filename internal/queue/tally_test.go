package queue

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// An event counted and not acknowledged (the dispatcher died before its
// ack, or the ack was lost) is not counted again when it is redelivered,
// by this process or another; once its ack is confirmed it leaves the
// open list.
func TestAFinishedEventIsCountedOnceAcrossRedeliveries(t *testing.T) {
	q := startQueue(t)
	ctx := context.Background()
	nc2, err := nats.Connect(q.NC.ConnectedUrl(), nats.Token(testToken))
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	other, err := Attach(ctx, nc2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const uid = "uid-t"
	if first, err := q.CountFinished(ctx, uid, CounterDelivered, 7); err != nil || !first {
		t.Fatalf("first count: %v %v", first, err)
	}
	// Redelivered after a crash before the ack: to the same process and to
	// another one.
	for i, qq := range []*Queue{q, other} {
		if first, err := qq.CountFinished(ctx, uid, CounterDelivered, 7); err != nil || first {
			t.Fatalf("redelivery %d: counted again (%v, %v)", i, first, err)
		}
	}
	if first, err := other.CountFinished(ctx, uid, CounterDeadLettered, 8); err != nil || !first {
		t.Fatalf("another event: %v %v", first, err)
	}
	q.Acked(uid, 7)
	if _, err := q.CountFinished(ctx, uid, CounterDelivered, 9); err != nil {
		t.Fatal(err)
	}
	v, err := q.readTally(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if v.Delivered != 2 || v.DeadLettered != 1 {
		t.Fatalf("tally %+v, want delivered 2, dead-lettered 1", v)
	}
	for _, ev := range v.Open[q.tally.writer] {
		if ev.Seq == 7 {
			t.Fatalf("event 7 still open after its ack was confirmed: %+v", v.Open)
		}
	}
	c, err := q.ReadCounters(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if c.Delivered != 2 || c.DeadLettered != 1 {
		t.Fatalf("counters %+v", c)
	}
}

// Entries older than tallyKeep are dropped, those of every process alike;
// recent ones of other processes are kept.
func TestTheTallyForgetsStaleOpenEvents(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	tl := &tally{writer: "me", now: func() time.Time { return now }}
	cur := tallyValue{Delivered: 3, Open: map[string][]openEvent{
		"me":   {{Seq: 1, At: now.Add(-2 * tallyKeep).Unix()}, {Seq: 2, At: now.Unix()}, {Seq: 3, At: now.Unix()}},
		"dead": {{Seq: 4, At: now.Add(-2 * tallyKeep).Unix()}},
		"peer": {{Seq: 5, At: now.Add(-time.Minute).Unix()}},
	}}
	v, results := tl.apply(cur, []*tallyRequest{{counter: CounterDelivered, seq: 1}, {counter: CounterDelivered, seq: 5}, {counter: CounterDeadLettered, seq: 6}}, []uint64{3}, nil)
	if want := []bool{true, false, true}; results[0] != want[0] || results[1] != want[1] || results[2] != want[2] {
		t.Fatalf("results %v, want %v (1 forgotten, so counted; 5 open at peer; 6 new)", results, want)
	}
	if v.Delivered != 4 || v.DeadLettered != 1 {
		t.Fatalf("totals %+v", v)
	}
	if _, ok := v.Open["dead"]; ok {
		t.Fatalf("a process gone for two hours is still listed: %+v", v.Open)
	}
	got := map[uint64]bool{}
	for _, ev := range v.Open["me"] {
		got[ev.Seq] = true
	}
	if !got[1] || !got[2] || got[3] || !got[6] || len(v.Open["peer"]) != 1 {
		t.Fatalf("open lists %+v: want me {1,2,6} (3 acked), peer {5}", v.Open)
	}
}
