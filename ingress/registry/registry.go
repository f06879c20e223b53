// Package registry holds the receiver's view of every WebhookEndpoint: the
// compiled verifier, the current signing keys, the allowlist and the
// delivery policy. The HTTP server reads it by path on every request; the
// dispatcher reads it by UID.
package registry

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/verify"
	"github.com/hookgate/hookgate/internal/filter"
	"github.com/hookgate/hookgate/internal/history"
)

// Endpoint is one WebhookEndpoint as the data plane needs it. Values are
// immutable once published: updates replace the pointer.
type Endpoint struct {
	UID        string
	Key        types.NamespacedName
	Generation int64
	Path       string
	Provider   string
	// HandshakeMethod is the method other than POST the provider uses for
	// its verification handshake (Okta's and Mailchimp's GET); empty: none.
	HandshakeMethod string
	// CapturesSecret: the provider hands over its signing secret in a
	// handshake (Asana's X-Hook-Secret), accepted only before ArmedUntil
	// (hookgate.io/arm-handshake, whose value Arm is); zero: not armed.
	CapturesSecret bool
	ArmedUntil     time.Time
	Arm            string

	Verifier verify.Verifier
	// Keys are the signing keys, current first. Empty when the Secret or
	// key is missing; KeysError then says why. For providers that sign with
	// a private key they are the endpoint's public keys.
	Keys      [][]byte
	KeysError string
	// KeysInVerifier: the verifier holds or fetches its own keys (an
	// issuer's JWKS, SNS certificates), so no Keys are needed.
	KeysInVerifier bool
	// PreviousKey is the key being rotated out, valid until
	// PreviousExpires; never without one (internal/keyring's rule).
	PreviousKey     []byte
	PreviousExpires time.Time

	// Limiter bounds the ingest rate; nil when unlimited.
	Limiter *rate.Limiter

	// SourceRanges is the client allowlist; empty allows every address.
	SourceRanges []netip.Prefix
	DedupeWindow time.Duration
	MaxBodyBytes int64
	// MaxQueuedEvents and MaxQueuedBytes are the endpoint's storage quota.
	MaxQueuedEvents, MaxQueuedBytes int64

	// EventType says where the provider names an event's type.
	EventType hookv1.EventTypeInfo

	// History is what the endpoint's history keeps (spec.history).
	History *history.Policy

	// Targets receive the endpoint's events: one, delivered from the
	// endpoint's own queue, or several, each fed a copy (Fanout).
	Targets   []*Target
	Suspended bool

	// name is Key.String(), made once by Upsert: every request logs it.
	name string
}

// Name is the endpoint's namespace/name.
func (e *Endpoint) Name() string {
	if e.name == "" {
		return e.Key.String()
	}
	return e.name
}

// ValidKeys returns every key valid at now: the current keys, then the
// previous key until its overlap window ends.
func (e *Endpoint) ValidKeys(now time.Time) [][]byte {
	if len(e.PreviousKey) == 0 || e.PreviousExpires.IsZero() || !now.Before(e.PreviousExpires) {
		return e.Keys
	}
	out := make([][]byte, 0, len(e.Keys)+1)
	return append(append(out, e.Keys...), e.PreviousKey)
}

// Target is a Service an endpoint delivers to, and its delivery policy.
type Target struct {
	// Name is the target's name (spec.targets[].name).
	Name string
	// Key is the target's queue key: the endpoint's UID for its only
	// target, queue.TargetKey(uid, name) for one of several.
	Key     string
	Service string
	Port    int32
	Path    string

	// MaxAttempts bounds the attempts at an event (0: only RetryFor does);
	// RetryFor is how long after it was stored an event is retried.
	MaxAttempts    int
	RetryFor       time.Duration
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	Timeout        time.Duration

	// RequestsPerSecond and MaxConcurrency (0: unlimited) are counted
	// across all receiver replicas.
	RequestsPerSecond int
	MaxConcurrency    int
	Breaker           Breaker

	// Filter, when set, decides which events the target gets.
	Filter *filter.Filter
	// CloudEvents sends events in CloudEvents binary mode.
	CloudEvents bool
	// HighPriority attempts get the receiver's free delivery slots first.
	HighPriority bool

	// Ordered: the target's events are delivered one at a time, in order
	// (per OrderKey, over Partitions queues, when it has one).
	Ordered    bool
	OrderKey   *filter.Key
	Partitions int
}

// Breaker is a target's circuit breaker policy.
type Breaker struct {
	Enabled             bool
	ConsecutiveFailures int
	// FailureRatio over the last Window attempts (0: not used).
	FailureRatio float64
	Window       int
	OpenFor      time.Duration
}

// Fanout reports whether the endpoint's events are copied to its targets'
// own queues (several targets, or one whose events are ordered by key)
// rather than delivered from the endpoint's queue.
func (e *Endpoint) Fanout() bool {
	return len(e.Targets) > 1 || (len(e.Targets) == 1 && e.Targets[0].OrderKey != nil)
}

// OrderedCopies reports whether the copy to the targets must keep the
// events' order: some target is ordered.
func (e *Endpoint) OrderedCopies() bool {
	for _, t := range e.Targets {
		if t.Ordered {
			return true
		}
	}
	return false
}

// TargetByKey returns the endpoint's target with queue key key.
func (e *Endpoint) TargetByKey(key string) (*Target, bool) {
	for _, t := range e.Targets {
		if t.Key == key {
			return t, true
		}
	}
	return nil, false
}

// Allowed reports whether addr may call this endpoint.
func (e *Endpoint) Allowed(addr netip.Addr) bool {
	if len(e.SourceRanges) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range e.SourceRanges {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Registry is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	byPath  map[string]*Endpoint
	byUID   map[string]*Endpoint
	byKey   map[types.NamespacedName]*Endpoint
	changed []chan struct{}
}

// New returns an empty Registry.
func New() *Registry {
	return &Registry{
		byPath: map[string]*Endpoint{},
		byUID:  map[string]*Endpoint{},
		byKey:  map[types.NamespacedName]*Endpoint{},
	}
}

// ByPath returns the endpoint served at path.
func (r *Registry) ByPath(path string) (*Endpoint, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.byPath[path]
	return e, ok
}

// ByUID returns the endpoint with the given UID.
func (r *Registry) ByUID(uid string) (*Endpoint, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.byUID[uid]
	return e, ok
}

// List returns every endpoint.
func (r *Registry) List() []*Endpoint {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Endpoint, 0, len(r.byUID))
	for _, e := range r.byUID {
		out = append(out, e)
	}
	return out
}

// Upsert publishes e, replacing any endpoint with the same name.
func (r *Registry) Upsert(e *Endpoint) {
	r.mu.Lock()
	if e.name == "" { // set once, before e is published
		e.name = e.Key.String()
	}
	r.removeLocked(e.Key)
	r.byKey[e.Key] = e
	r.byUID[e.UID] = e
	if e.Path != "" {
		r.byPath[e.Path] = e
	}
	r.mu.Unlock()
	r.notify()
}

// Delete removes the endpoint with the given name.
func (r *Registry) Delete(key types.NamespacedName) {
	r.mu.Lock()
	removed := r.removeLocked(key)
	r.mu.Unlock()
	if removed {
		r.notify()
	}
}

func (r *Registry) removeLocked(key types.NamespacedName) bool {
	old, ok := r.byKey[key]
	if !ok {
		return false
	}
	delete(r.byKey, key)
	delete(r.byUID, old.UID)
	if cur, ok := r.byPath[old.Path]; ok && cur == old {
		delete(r.byPath, old.Path)
	}
	return true
}

// Changes returns a channel that receives a value (coalesced) after every change.
func (r *Registry) Changes() <-chan struct{} {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	r.changed = append(r.changed, ch)
	r.mu.Unlock()
	return ch
}

func (r *Registry) notify() {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, ch := range r.changed {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
