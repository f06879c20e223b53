package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hookgate/hookgate/ingress/dispatch"
	"github.com/hookgate/hookgate/ingress/verify"
)

// sink is the receiver's delivery target: a local HTTP server in the
// benchmark process that answers 204 and counts, per run tag, the distinct
// delivery ids it was given and the repeats (at-least-once delivery may
// repeat one). It checks each delivery carries the body and signature that
// were sent, so a count is also a count of intact events.
type sink struct {
	srv  *http.Server
	port int
	body []byte
	sig  string

	mu   sync.Mutex
	runs map[uint32]*sinkRun
	// deliveries that are not the workload's: no run tag, or a body or
	// signature other than the one sent.
	foreign, corrupt int64
}

type sinkRun struct {
	ids         map[string]time.Time // first delivery of each id
	repeats     int64
	first, last time.Time
}

// sinkCounts is what a run's deliveries looked like.
type sinkCounts struct {
	Distinct    int
	Repeats     int64
	First, Last time.Time
}

func startSink(wl *workload) (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the delivery target: %w", err)
	}
	s := &sink{port: ln.Addr().(*net.TCPAddr).Port, body: wl.body, sig: wl.signature, runs: map[uint32]*sinkRun{}}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			progress("delivery target stopped: %v", err)
		}
	}()
	return s, nil
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(len(s.body))+1))
	now := time.Now()
	id := r.Header.Get(dispatch.HeaderDeliveryID)
	tag, tagged := tagOf(id)
	s.mu.Lock()
	switch {
	case !tagged:
		s.foreign++
	case err != nil || !bytes.Equal(body, s.body) || r.Header.Get(verify.GitHubSignature256Header) != s.sig:
		s.corrupt++
	default:
		run := s.runs[tag]
		if run == nil {
			run = &sinkRun{ids: map[string]time.Time{}, first: now}
			s.runs[tag] = run
		}
		if _, seen := run.ids[id]; seen {
			run.repeats++
		} else {
			run.ids[id] = now
			run.last = now
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// counts returns what was delivered for tag so far.
func (s *sink) counts(tag uint32) sinkCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.runs[tag]
	if run == nil {
		return sinkCounts{}
	}
	return sinkCounts{Distinct: len(run.ids), Repeats: run.repeats, First: run.first, Last: run.last}
}

// distinct is counts(tag).Distinct, cheap enough to poll.
func (s *sink) distinct(tag uint32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if run := s.runs[tag]; run != nil {
		return len(run.ids)
	}
	return 0
}

// deliveredAt returns when id of run tag was first delivered.
func (s *sink) deliveredAt(tag uint32, id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.runs[tag]
	if run == nil {
		return time.Time{}, false
	}
	t, ok := run.ids[id]
	return t, ok
}

// strays returns the deliveries that were not intact workload events.
func (s *sink) strays() (foreign, corrupt int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.foreign, s.corrupt
}

// waitDistinct waits until n distinct ids of tag were delivered, for at
// most d.
func (s *sink) waitDistinct(ctx context.Context, tag uint32, n int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		got := s.distinct(tag)
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d events delivered after %s", got, n, d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *sink) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
