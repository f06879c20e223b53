package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookgate/hookgate/ingress/dispatch"
	"github.com/hookgate/hookgate/ingress/verify"
)

// sink is the receiver's delivery target: a local HTTP server in the
// benchmark process that answers 204 and counts, per run tag, the distinct
// delivery ids it was given and the repeats (at-least-once delivery may
// repeat one). It checks each delivery carries the body and signature that
// were sent, so a count is also a count of intact events. More ports
// (addPort) serve the same counts with an answer that can be switched to an
// error, for a failing target; a run can also keep every request's arrival
// (timeRun), for a rate.
type sink struct {
	srv  *http.Server
	port int
	body []byte
	sig  string

	mu    sync.Mutex
	runs  map[uint32]*sinkRun
	ports []*sinkPort
	// deliveries that are not the workload's: no run tag, or a body or
	// signature other than the one sent.
	foreign, corrupt int64
}

type sinkRun struct {
	ids         map[string]time.Time // first 2xx delivery of each id
	repeats     int64
	first, last time.Time
	// timed: arrivals holds every intact request of the run, answered 2xx
	// or not, in the order they were handled.
	timed    bool
	arrivals []sinkArrival
}

// sinkArrival is one request the sink was sent.
type sinkArrival struct {
	At     time.Time
	Status int
}

// sinkCounts is what a run's deliveries looked like.
type sinkCounts struct {
	Distinct    int
	Repeats     int64
	First, Last time.Time
}

// sinkPort is one more listener of the sink, whose answer can be switched
// between 204 and an error status (setStatus).
type sinkPort struct {
	srv    *http.Server
	port   int
	status atomic.Int32
}

func (p *sinkPort) setStatus(code int) { p.status.Store(int32(code)) }

func startSink(wl *workload) (*sink, error) {
	s := &sink{body: wl.body, sig: wl.signature, runs: map[uint32]*sinkRun{}}
	var err error
	s.srv, s.port, err = s.listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, http.StatusNoContent) }))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// addPort starts another listener that answers status (204 once set so).
func (s *sink) addPort(status int) (*sinkPort, error) {
	p := &sinkPort{}
	p.setStatus(status)
	var err error
	p.srv, p.port, err = s.listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, int(p.status.Load())) }))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.ports = append(s.ports, p)
	s.mu.Unlock()
	return p, nil
}

func (s *sink) listen(h http.Handler) (*http.Server, int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, 0, fmt.Errorf("listening for the delivery target: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			progress("delivery target stopped: %v", err)
		}
	}()
	return srv, ln.Addr().(*net.TCPAddr).Port, nil
}

// serve counts one request and answers it status; only a 2xx answer
// counts as a delivery.
func (s *sink) serve(w http.ResponseWriter, r *http.Request, status int) {
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
		run := s.runLocked(tag)
		if run.timed {
			run.arrivals = append(run.arrivals, sinkArrival{At: now, Status: status})
		}
		if status/100 != 2 {
			break
		}
		if run.first.IsZero() {
			run.first = now
		}
		if _, seen := run.ids[id]; seen {
			run.repeats++
		} else {
			run.ids[id] = now
			run.last = now
		}
	}
	s.mu.Unlock()
	w.WriteHeader(status)
}

func (s *sink) runLocked(tag uint32) *sinkRun {
	run := s.runs[tag]
	if run == nil {
		run = &sinkRun{ids: map[string]time.Time{}}
		s.runs[tag] = run
	}
	return run
}

// timeRun makes the sink keep the arrival of every request of run tag,
// from now on.
func (s *sink) timeRun(tag uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runLocked(tag).timed = true
}

// arrivals returns the requests of a timed run so far, by arrival time.
func (s *sink) arrivals(tag uint32) []sinkArrival {
	s.mu.Lock()
	var out []sinkArrival
	if run := s.runs[tag]; run != nil {
		out = slices.Clone(run.arrivals)
	}
	s.mu.Unlock()
	slices.SortStableFunc(out, func(a, b sinkArrival) int { return a.At.Compare(b.At) })
	return out
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
	s.mu.Lock()
	ports := slices.Clone(s.ports)
	s.mu.Unlock()
	for _, p := range ports {
		_ = p.srv.Shutdown(ctx)
	}
	_ = s.srv.Shutdown(ctx)
}
