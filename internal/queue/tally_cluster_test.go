package queue_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

// Three receivers on a 3-node cluster each finish the same 600 events (as
// redeliveries would have them do), concurrently, while the tally stream's
// leader is moved again and again: every event is counted exactly once.
func TestTheTallyIsExactUnderRedeliveriesAndLeaderChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JetStream cluster")
	}
	c := queuetest.StartCluster(t, 3)
	ctx := context.Background()
	var qs []*queue.Queue
	for i := 0; i < 3; i++ {
		q, err := queue.Open(ctx, c.Connect(t, i), queue.Options{Replicas: 3})
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
	}
	const uid, events = "uid-exact", 600
	stop := make(chan struct{})
	var stepdowns atomic.Int64
	go func() {
		nc := c.Connect(t, 0)
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+queue.TallyStream, nil, 2*time.Second); err == nil {
				stepdowns.Add(1)
			}
		}
	}()
	var wg sync.WaitGroup
	var firsts, failures atomic.Int64
	for i, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(1); seq <= events; seq++ {
				// Each event by two of the three receivers.
				if int(seq)%3 == i {
					continue
				}
				for {
					cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					first, err := q.CountFinished(cctx, uid, queue.CounterDelivered, seq)
					cancel()
					if err != nil {
						failures.Add(1)
						continue // the dispatcher would not ack: redelivered, counted again
					}
					if first {
						firsts.Add(1)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	v, err := qs[0].ReadCounters(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d leader changes, %d failed calls retried, %d reported first", stepdowns.Load(), failures.Load(), firsts.Load())
	if v.Delivered != events {
		t.Fatalf("delivered %d, want %d", v.Delivered, events)
	}
	if stepdowns.Load() == 0 {
		t.Fatal("the leader never moved: the test proved nothing about failover")
	}
}
