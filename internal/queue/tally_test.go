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
	// A copy offered to another receiver after the first one's ack was
	// confirmed (a consumer leader that had not learnt of the delivery)
	// finds it on the confirmed list.
	if first, err := other.CountFinished(ctx, uid, CounterDelivered, 7); err != nil || first {
		t.Fatalf("copy after the confirmed ack: counted again (%v, %v)", first, err)
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

// Confirmed events stay counted while their process keeps confirming, at
// most its newest tallyMaxConfirmed; a process that confirmed nothing for
// tallyAckGrace has its list dropped.
func TestTheTallyRemembersConfirmedEvents(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	tl := &tally{writer: "me", now: func() time.Time { return now }}
	cur := tallyValue{Delivered: 1, Open: map[string][]openEvent{"me": {{Seq: 5, At: now.Unix()}}}}
	v, _ := tl.apply(cur, nil, []uint64{5}, nil)
	if len(v.Open) != 0 || v.Done["me"] == "" {
		t.Fatalf("after the ack of 5: %+v, want 5 moved to the confirmed list", v)
	}
	// The same batch and a later one: a copy of 5 is not counted, a new
	// event is.
	v, results := tl.apply(v, []*tallyRequest{{counter: CounterDelivered, seq: 5}, {counter: CounterDelivered, seq: 6}}, nil, nil)
	if results[0] || !results[1] || v.Delivered != 2 {
		t.Fatalf("results %v delivered %d: want the copy of 5 not counted, 6 counted", results, v.Delivered)
	}
	// Another process's list is kept and honoured within the grace.
	peer := &tally{writer: "peer", now: tl.now}
	if _, results := peer.apply(v, []*tallyRequest{{counter: CounterDelivered, seq: 5}}, nil, nil); results[0] {
		t.Fatal("another process counted a copy of 5 confirmed by me")
	}
	// After the grace the list is gone and a copy would be counted.
	now = now.Add(tallyAckGrace + time.Second)
	v2, results := peer.apply(v, []*tallyRequest{{counter: CounterDelivered, seq: 5}}, nil, nil)
	if !results[0] || v2.Done != nil {
		t.Fatalf("after the grace: results %v, done %v", results, v2.Done)
	}

	// At most the newest tallyMaxConfirmed.
	var open []openEvent
	var acked []uint64
	for i := range tallyMaxConfirmed + 10 {
		open = append(open, openEvent{Seq: uint64(1000 + 2*i), At: now.Unix()})
		acked = append(acked, uint64(1000+2*i))
	}
	v, _ = tl.apply(tallyValue{Open: map[string][]openEvent{"me": open}}, nil, acked, nil)
	seqs, err := decodeSeqs(v.Done["me"])
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != tallyMaxConfirmed || seqs[0] != 1020 || seqs[len(seqs)-1] != uint64(1000+2*(tallyMaxConfirmed+9)) {
		t.Fatalf("kept %d confirmed, %d to %d: want the newest %d", len(seqs), seqs[0], seqs[len(seqs)-1], tallyMaxConfirmed)
	}
	if n := len(v.Done["me"]); n > 2*tallyMaxConfirmed {
		t.Fatalf("confirmed list is %d bytes, want about 2 per event", n)
	}
}

func TestSequenceListsRoundTrip(t *testing.T) {
	in := []uint64{7, 9, 8, 1 << 40, 3}
	out, err := decodeSeqs(encodeSeqs(in))
	if err != nil || len(out) != len(in) {
		t.Fatalf("%v %v", out, err)
	}
	for i := range in {
		if out[i] != in[i] {
			t.Fatalf("%v, want %v", out, in)
		}
	}
	if _, err := decodeSeqs("!!"); err == nil {
		t.Fatal("malformed list accepted")
	}
}
