package dispatch

import (
	"context"
	"sync"
)

// highShare is how many delivery slots in a row go to high-priority
// attempts while normal ones wait: then one goes to a normal attempt, so
// under a backlog high-priority endpoints get at least 80 % of the slots and
// normal ones at least 20 %: first, without starving.
const highShare = 4

// scheduler hands out this replica's delivery slots (--delivery-slots),
// high-priority attempts first. Only attempts at a target take a slot;
// copies to targets and held events do not.
type scheduler struct {
	mu           sync.Mutex
	free         int
	high, normal []*waiter
	// highRun is the slots given to high-priority attempts in a row while
	// normal ones waited.
	highRun int
}

type waiter struct {
	ready   chan struct{}
	granted bool
}

func newScheduler(slots int) *scheduler { return &scheduler{free: slots} }

// acquire takes a slot, waiting for one until ctx ends (false).
func (s *scheduler) acquire(ctx context.Context, high bool) bool {
	s.mu.Lock()
	if s.free > 0 && len(s.high) == 0 && len(s.normal) == 0 {
		s.free--
		s.mu.Unlock()
		return true
	}
	w := &waiter{ready: make(chan struct{})}
	if high {
		s.high = append(s.high, w)
	} else {
		s.normal = append(s.normal, w)
	}
	s.grantLocked()
	s.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if w.granted {
			// Granted as it gave up: hand the slot on.
			s.free++
			s.grantLocked()
			return false
		}
		s.high = remove(s.high, w)
		s.normal = remove(s.normal, w)
		return false
	}
}

func (s *scheduler) release() {
	s.mu.Lock()
	s.free++
	s.grantLocked()
	s.mu.Unlock()
}

// grantLocked gives free slots to waiters: high first, but one in
// highShare+1 to a normal waiter while both wait.
func (s *scheduler) grantLocked() {
	for s.free > 0 && (len(s.high) > 0 || len(s.normal) > 0) {
		var w *waiter
		if len(s.high) > 0 && (len(s.normal) == 0 || s.highRun < highShare) {
			w, s.high = s.high[0], s.high[1:]
			if len(s.normal) > 0 {
				s.highRun++
			}
		} else {
			w, s.normal = s.normal[0], s.normal[1:]
			s.highRun = 0
		}
		s.free--
		w.granted = true
		close(w.ready)
	}
}

func remove(ws []*waiter, w *waiter) []*waiter {
	for i, x := range ws {
		if x == w {
			return append(ws[:i], ws[i+1:]...)
		}
	}
	return ws
}
