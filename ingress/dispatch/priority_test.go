package dispatch

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/queue"
)

func TestSchedulerServesHighFirstWithoutStarvingNormal(t *testing.T) {
	s := newScheduler(1)
	ctx := context.Background()
	if !s.acquire(ctx, false) {
		t.Fatal("a free slot was refused")
	}
	// Ten high and ten normal attempts wait for the one slot.
	order := make(chan string, 20)
	for i := range 10 {
		for _, high := range []bool{true, false} {
			go func() {
				if s.acquire(ctx, high) {
					name := "normal"
					if high {
						name = "high"
					}
					order <- name + strconv.Itoa(i)
					s.release()
				}
			}()
		}
	}
	time.Sleep(100 * time.Millisecond) // all twenty are waiting
	s.release()
	var got []string
	for range 20 {
		got = append(got, <-order)
	}
	highs := 0
	for _, g := range got[:10] {
		if g[:4] == "high" {
			highs++
		}
	}
	if highs != 8 {
		t.Errorf("of the first ten slots %d went to high-priority waiters, want 8 (four in five): %v", highs, got)
	}
	if got[4][:4] == "high" {
		t.Errorf("the fifth slot went to a high-priority waiter while normal ones waited: %v", got)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if !s.acquire(ctx, true) || s.acquire(short, false) {
		t.Error("the one slot was not free, or a second one was granted")
	}
}

func TestHighPriorityEndpointsAreDeliveredFirstUnderABacklog(t *testing.T) {
	q := startQueue(t)
	tg := newTarget(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		time.Sleep(10 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	reg := registry.New()
	urgent, bulk := testEndpoint("urgent"), testEndpoint("bulk")
	urgent.Targets[0].HighPriority = true
	reg.Upsert(urgent)
	reg.Upsert(bulk)
	const n = 40
	for i := range n {
		enqueue(t, q, event(bulk.UID, "b-"+strconv.Itoa(i)))
		enqueue(t, q, event(urgent.UID, "u-"+strconv.Itoa(i)))
	}
	startDispatcher(t, q, reg, tg, func(d *Dispatcher) { d.Slots = 2 })
	countersReach(t, q, urgent.UID, queue.Counters{Received: n, Delivered: n})
	countersReach(t, q, bulk.UID, queue.Counters{Received: n, Delivered: n})
	// Until the urgent endpoint's last request, the bulk one had about
	// its fifth of the slots (one in five while both wait), give or take
	// the start: some, and far fewer.
	seq := ""
	for _, c := range tg.received() {
		if c.header.Get(HeaderEndpoint) == urgent.Name() {
			seq += "U"
		} else {
			seq += "b"
		}
	}
	before := strings.Count(seq[:strings.LastIndex(seq, "U")], "b")
	if before == 0 || before > n/3 {
		t.Errorf("bulk had %d requests before urgent's last (order %s); want about one in five", before, seq)
	}
}
