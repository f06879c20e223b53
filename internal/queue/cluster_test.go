package queue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

// Receivers and managers started together on a new 3-node cluster must all
// open the layout: concurrent creates of a new R3 stream used to block
// until every caller timed out.
func TestReceiversStartingTogetherOnAFreshClusterAllOpenTheLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts JetStream clusters")
	}
	for round := 0; round < 2; round++ {
		c := queuetest.StartCluster(t, 3)
		var wg sync.WaitGroup
		errs := make([]error, 3)
		took := make([]time.Duration, 3)
		for i := 0; i < 3; i++ {
			nc := c.Connect(t, i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Start a few milliseconds apart, as pods do.
				time.Sleep(time.Duration(i*7) * time.Millisecond)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				start := time.Now()
				_, errs[i] = queue.Open(ctx, nc, queue.Options{Replicas: 3})
				took[i] = time.Since(start)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, receiver %d: %v (after %s)", round, i, err, took[i])
			}
		}
		t.Logf("round %d: opened in %v", round, took)
		c.Shutdown()
	}
}
