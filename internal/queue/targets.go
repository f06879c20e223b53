package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// An endpoint with one target keeps its events, counters, tally, attempts,
// dead letters and state under its UID, as it always has. An endpoint that
// fans out to several targets stores each event once under its UID, and the
// dispatcher copies it to each target's own key, TargetKey(uid, name):
// every subject and bucket key built from a UID takes a target key as well,
// so each target has its own queue, consumer, attempts, dead letters and
// counters. Kubernetes UIDs never contain targetSep, and target names are
// DNS labels, so a key splits back unambiguously.
const targetSep = "_"

// TargetKey is the queue key of target name of a fanning-out endpoint.
func TargetKey(uid, name string) string { return uid + targetSep + name }

// SplitTargetKey returns the endpoint UID and target name of a queue key;
// name is empty for an endpoint's own key.
func SplitTargetKey(key string) (uid, name string) {
	key, _, _ = SplitPartition(key)
	uid, name, _ = strings.Cut(key, targetSep)
	return uid, name
}

// A target whose events keep their order by key has one queue per
// partition, PartitionKey(its key, p): each is delivered one event at a
// time. '=' is in no UID and no target name.
const partitionSep = "="

// MaxPartitions bounds a target's partitions (spec ordering.partitions).
const MaxPartitions = 16

// PartitionKey is the queue key of partition p of the queue key key.
func PartitionKey(key string, p int) string { return key + partitionSep + strconv.Itoa(p) }

// SplitPartition returns the queue key a partition key belongs to and the
// partition; ok is false for a key that is no partition's.
func SplitPartition(key string) (base string, p int, ok bool) {
	base, ps, found := strings.Cut(key, partitionSep)
	if !found {
		return key, 0, false
	}
	p, err := strconv.Atoi(ps)
	return base, p, err == nil && p >= 0
}

// Circuit states kept in TargetState.Circuit ("" is closed).
const (
	CircuitOpen     = "Open"
	CircuitHalfOpen = "HalfOpen"
)

// TargetState is what every receiver replica must agree on about one
// target: its circuit and how long it asked to be left alone. It lives in
// the state bucket under <key>.target, written with compare-and-set.
type TargetState struct {
	// Circuit is "" (closed), CircuitOpen or CircuitHalfOpen.
	Circuit string `json:"circuit,omitempty"`
	// Since is when the circuit last changed.
	Since time.Time `json:"since"`
	// ProbeAt is when an open circuit may be probed.
	ProbeAt time.Time `json:"probeAt,omitempty"`
	// Reason and Message say what opened the circuit.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Prober is the receiver replica sending the half-open probe.
	Prober string `json:"prober,omitempty"`
	// ThrottledUntil is set by a 429 or 503: no attempt before it.
	ThrottledUntil time.Time `json:"throttledUntil,omitempty"`
}

const targetStateSuffix = ".target"

// TargetState reads a target's shared state and its revision (0: none yet).
func (q *Queue) TargetState(ctx context.Context, key string) (TargetState, uint64, error) {
	var st TargetState
	e, err := q.state.Get(ctx, key+targetStateSuffix)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return st, 0, nil
	}
	if err != nil {
		return st, 0, fmt.Errorf("reading target state: %w", err)
	}
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return st, 0, fmt.Errorf("decoding target state: %w", err)
	}
	return st, e.Revision(), nil
}

// ErrStateChanged is a compare-and-set that lost: another replica wrote
// the state since it was read.
var ErrStateChanged = errors.New("target state changed concurrently")

// SetTargetState writes a target's state if it is still at revision rev (0:
// if it has none) and returns the new revision.
func (q *Queue) SetTargetState(ctx context.Context, key string, st TargetState, rev uint64) (uint64, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return 0, err
	}
	if rev == 0 {
		rev, err = q.state.Create(ctx, key+targetStateSuffix, b)
	} else {
		rev, err = q.state.Update(ctx, key+targetStateSuffix, b, rev)
	}
	var apiErr *jetstream.APIError
	if errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
		return 0, ErrStateChanged
	}
	return rev, err
}

// TargetStateUpdate is one change seen by WatchTargetStates.
type TargetStateUpdate struct {
	Key   string
	State TargetState
	Rev   uint64
	// Deleted: the endpoint's state was purged.
	Deleted bool
}

// WatchTargetStates calls fn for every target state, current ones first,
// then each change, until ctx ends. It returns once the current ones were
// delivered (or with the error that kept it from watching).
func (q *Queue) WatchTargetStates(ctx context.Context, fn func(TargetStateUpdate)) error {
	// A watch first delivers each key's current value, then nil, then
	// every change.
	w, err := q.state.Watch(ctx, "*"+targetStateSuffix)
	if err != nil {
		return fmt.Errorf("watching target states: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		defer func() { _ = w.Stop() }()
		initial := true
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil { // the current values are all delivered
					if initial {
						initial = false
						close(ready)
					}
					continue
				}
				u := TargetStateUpdate{Key: strings.TrimSuffix(e.Key(), targetStateSuffix), Rev: e.Revision()}
				if e.Operation() != jetstream.KeyValuePut {
					u.Deleted = true
				} else if json.Unmarshal(e.Value(), &u.State) != nil {
					continue
				}
				fn(u)
			}
		}
	}()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Receiver replicas announce themselves in the members bucket so that a
// limit counted across replicas (a target's requests per second or
// concurrency) can be split between the live ones: each takes an equal
// share. A replica that stops announcing drops out after membersTTL.
const (
	MembersBucket  = "hookgate-receivers"
	membersTTL     = 15 * time.Second
	membersRefresh = 5 * time.Second
)

// Members is this replica's view of the live receiver replicas.
type Members struct {
	id string
	kv jetstream.KeyValue
	mu sync.Mutex
	// seen is when each replica last announced itself, as watched.
	seen map[string]time.Time
	ids  []string
	// count and rank (this replica's place among the sorted ids) are what
	// Share reads on every delivery.
	count, rank atomic.Int32
	changed     chan struct{}
}

// JoinMembers announces this replica under id (unique per process) and
// keeps its view of the others fresh until ctx ends.
//
// The view is the watched announcements: a replica that joins is seen at
// once (its first announcement), so the others lower their shares as it
// takes its own; one that leaves cleanly deletes its entry and is gone at
// once; one that dies is gone once it has not announced itself for
// membersTTL, which errs on the safe side: shares too small for a while.
func (q *Queue) JoinMembers(ctx context.Context, id string) (*Members, error) {
	kv, err := ensureKeyValue(ctx, q.JS, jetstream.KeyValueConfig{
		Bucket:      MembersBucket,
		Description: "Live receiver replicas, for limits shared between them",
		Storage:     jetstream.MemoryStorage,
		Replicas:    q.opts.Replicas,
		TTL:         membersTTL,
	})
	if err != nil {
		return nil, err
	}
	m := &Members{id: id, kv: kv, seen: map[string]time.Time{id: time.Now()}, changed: make(chan struct{}, 1)}
	m.update()
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watching receiver replicas: %w", err)
	}
	m.announce(ctx)
	// The current entries, then nil: the view is complete before the
	// caller reads a share.
	for e := range w.Updates() {
		if e == nil {
			break
		}
		m.saw(e)
	}
	go func() {
		t := time.NewTicker(membersRefresh)
		defer t.Stop()
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
				_ = kv.Delete(dctx, id)
				cancel()
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil {
					m.saw(e)
				}
			case <-t.C:
				m.announce(ctx)
				m.update()
			}
		}
	}()
	return m, nil
}

// announce says this replica is live. A failed write is retried at the
// next tick; meanwhile the others may drop this replica, which only makes
// their shares larger for a while (and this one's is unchanged).
func (m *Members) announce(ctx context.Context) {
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, _ = m.kv.Put(actx, m.id, []byte(time.Now().UTC().Format(time.RFC3339)))
}

func (m *Members) saw(e jetstream.KeyValueEntry) {
	m.mu.Lock()
	if e.Operation() == jetstream.KeyValuePut {
		m.seen[e.Key()] = time.Now()
	} else if e.Key() != m.id {
		delete(m.seen, e.Key())
	}
	m.mu.Unlock()
	m.update()
}

// update recomputes the live replicas: those seen within membersTTL, and
// always this one.
func (m *Members) update() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	m.seen[m.id] = now
	ids := make([]string, 0, len(m.seen))
	for id, at := range m.seen {
		if now.Sub(at) > membersTTL {
			delete(m.seen, id)
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if slices.Equal(ids, m.ids) {
		return
	}
	m.ids = ids
	m.count.Store(int32(len(ids)))
	m.rank.Store(int32(slices.Index(ids, m.id)))
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// Count is how many receiver replicas are live (at least this one).
func (m *Members) Count() int {
	if m == nil {
		return 1
	}
	return int(m.count.Load())
}

// Changed is signalled when the live replicas change. A nil Members (no
// membership: one replica) never changes.
func (m *Members) Changed() <-chan struct{} {
	if m == nil {
		return nil
	}
	return m.changed
}

// Share is this replica's part of total (a concurrency limit): total split
// between the live replicas, the remainder to the first ones, so that the
// shares add up to total. It can be 0 when total is below the replica count.
func (m *Members) Share(total int) int {
	if m == nil {
		return total
	}
	n, r := int(m.count.Load()), int(m.rank.Load())
	if n <= 1 {
		return total
	}
	s := total / n
	if r < total%n {
		s++
	}
	return s
}

// RateShare is this replica's part of a rate: an equal split.
func (m *Members) RateShare(total float64) float64 {
	return total / float64(m.Count())
}

// EndpointKeys is every queue key the endpoint may have used: its UID and
// the key of each target it has or had (status.targets) as one of several,
// with their partitions. Whoever purges, replays or searches an endpoint's
// queues and dead letters goes through these.
func EndpointKeys(obj *hookv1.WebhookEndpoint) []string {
	uid := string(obj.UID)
	keys := []string{uid}
	parts := map[string]int{}
	for _, t := range obj.Spec.DeliveryTargets() {
		parts[t.Name] = t.Ordering.GetPartitions()
	}
	for _, t := range obj.Status.Targets {
		parts[t.Name] = max(parts[t.Name], int(t.Partitions))
	}
	names := make([]string, 0, len(parts))
	for name := range parts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		key := TargetKey(uid, name)
		keys = append(keys, key)
		for p := range parts[name] {
			keys = append(keys, PartitionKey(key, p))
		}
	}
	return keys
}
