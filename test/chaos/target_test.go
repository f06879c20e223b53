package chaos

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hookgate/hookgate/ingress/dispatch"
	"github.com/hookgate/hookgate/ingress/verify"
)

// Target behaviours.
const (
	targetUp   = "up"
	targetSlow = "slow" // answers 204 after a delay
	targetFail = "fail" // answers 503: up but refusing
	targetDown = "down" // no listener: connection refused
)

// target is a real HTTP server standing in for a team's Service. It records
// every delivery it accepted by provider delivery id and by the stream
// sequence of the stored event, so a tally can tell an event stored twice
// from one event delivered twice.
type target struct {
	port int

	mu    sync.Mutex
	mode  string
	delay time.Duration
	srv   *http.Server
	// seqs[id] lists the event sequence of each accepted delivery of id.
	seqs  map[string][]uint64
	total int
}

func newTarget() (*target, error) {
	t := &target{mode: targetUp, seqs: map[string][]uint64{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t.port = ln.Addr().(*net.TCPAddr).Port
	t.serve(ln)
	return t, nil
}

func (t *target) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(t.handle), ReadHeaderTimeout: 5 * time.Second}
	t.srv = srv
	go func() { _ = srv.Serve(ln) }()
}

func (t *target) handle(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	t.mu.Lock()
	mode, delay := t.mode, t.delay
	t.mu.Unlock()
	switch mode {
	case targetFail:
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	case targetSlow:
		time.Sleep(delay)
	}
	id := r.Header.Get(verify.GitHubDeliveryHeader)
	seq, _ := strconv.ParseUint(r.Header.Get(dispatch.HeaderEventSeq), 10, 64)
	t.mu.Lock()
	t.seqs[id] = append(t.seqs[id], seq)
	t.total++
	t.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// set switches the behaviour; down closes the listener and every
// connection, up listens again on the same port.
func (t *target) set(mode string, delay time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	wasDown := t.mode == targetDown
	t.mode, t.delay = mode, delay
	switch {
	case mode == targetDown && !wasDown:
		return t.srv.Close()
	case mode != targetDown && wasDown:
		var ln net.Listener
		var err error
		// The port was ours a moment ago; retry briefly if the kernel
		// still holds it.
		for range 50 {
			if ln, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(t.port)); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return errors.Join(errors.New("target could not listen again on its port"), err)
		}
		t.serve(ln)
	}
	return nil
}

func (t *target) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mode != targetDown {
		_ = t.srv.Close()
	}
	t.mode = targetDown
}

// deliveries is what the target accepted: id -> sequence of each delivery.
func (t *target) deliveries() (map[string][]uint64, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string][]uint64, len(t.seqs))
	for id, s := range t.seqs {
		out[id] = append([]uint64(nil), s...)
	}
	return out, t.total
}
