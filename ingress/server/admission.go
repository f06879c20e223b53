package server

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Admission bounds what unauthenticated senders can make the receiver hold
// in memory: requests in flight, and bytes of bodies in flight. A request
// that would pass either bound is answered 503 with Retry-After before its
// body is read, so no input can push the process past its memory limit.
//
// Bytes are reserved before reading, at the most the body can take: its
// Content-Length, or the endpoint's body limit when the length is unknown
// (chunked), times bodyCopies for the copies a stored event needs (the
// body and the encoded message handed to NATS).
type Admission struct {
	// MaxRequests bounds concurrent requests; 0 is unlimited.
	MaxRequests int64
	// MaxBytes bounds the bytes reserved by bodies in flight; 0 is unlimited.
	MaxBytes int64

	requests atomic.Int64
	bytes    atomic.Int64
}

// bodyCopies is how many copies of a body exist while it is stored.
const bodyCopies = 2

// DefaultMaxInflightRequests and DefaultMaxInflightBytes fit the chart's
// 1 GiB receiver: 256 MiB of bodies, reserved twice over, is half of it.
const (
	DefaultMaxInflightRequests = 1024
	DefaultMaxInflightBytes    = 256 << 20
)

// enter admits one more request, or reports false at the bound.
func (a *Admission) enter() bool {
	if a == nil {
		return true
	}
	if n := a.requests.Add(1); a.MaxRequests > 0 && n > a.MaxRequests {
		a.requests.Add(-1)
		return false
	}
	return true
}

func (a *Admission) leave() {
	if a != nil {
		a.requests.Add(-1)
	}
}

// reserve sets aside n body bytes; release gives them back.
func (a *Admission) reserve(n int64) (release func(), ok bool) {
	if a == nil {
		return func() {}, true
	}
	n *= bodyCopies
	if v := a.bytes.Add(n); a.MaxBytes > 0 && v > a.MaxBytes {
		a.bytes.Add(-n)
		return nil, false
	}
	return func() { a.bytes.Add(-n) }, true
}

// InflightBytes is what bodies in flight have reserved now.
func (a *Admission) InflightBytes() int64 { return a.bytes.Load() }

// InflightRequests is how many requests are being handled now.
func (a *Admission) InflightRequests() int64 { return a.requests.Load() }

// SourceLimiter answers 429 to a client address that keeps sending
// requests that fail verification, so a flood of forged requests costs a
// map lookup rather than a body read and a MAC, while the provider's own
// requests (from other addresses) go through. Endpoint rate limits count
// verified requests only: a sender without the key cannot spend them.
type SourceLimiter struct {
	// Rate and Burst of refused requests allowed per address.
	Rate  rate.Limit
	Burst int
	// MaxSources bounds memory: beyond it, the table starts over.
	MaxSources int

	mu sync.Mutex
	m  map[netip.Addr]*rate.Limiter
}

// Blocked reports whether addr used up its budget of refused requests.
func (s *SourceLimiter) Blocked(addr netip.Addr, now time.Time) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.m[addr.Unmap()]
	return l != nil && l.TokensAt(now) < 1
}

// Refused charges one refused request to addr.
func (s *SourceLimiter) Refused(addr netip.Addr, now time.Time) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || (s.MaxSources > 0 && len(s.m) >= s.MaxSources) {
		s.m = map[netip.Addr]*rate.Limiter{}
	}
	a := addr.Unmap()
	l := s.m[a]
	if l == nil {
		l = rate.NewLimiter(s.Rate, s.Burst)
		s.m[a] = l
	}
	l.AllowN(now, 1)
}
