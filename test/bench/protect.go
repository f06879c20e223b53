package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

// Target protection across receiver replicas (ingress/dispatch/protect.go):
// a second `hookgate receiver` joins the first one's embedded JetStream, so
// both pull from the same consumers and split each target's limits. Two
// figures: what a rate-limited target receives from both together while
// they drain a backlog, and what a failing target receives while its
// circuit is open, set against the attempts counted.

const (
	protectRateName    = "protect-rate"
	protectCircuitName = "protect-circuit"
	// protectSenders send the events; counts are rounded up to a multiple
	// of it (generate gives each sender the same number).
	protectSenders = 8
	// membersSettle follows both replicas' announcements in the members
	// bucket: one more refresh round (every 5s) before measuring.
	membersSettle = 6 * time.Second
	// The failing target's breaker. 502 counts towards the circuit and asks
	// for no pause: 503 and 429 would also pause the target
	// (throttledUntil), which holds events the same way and would blur
	// what the circuit alone does.
	circuitFailures = 5
	circuitOpenFor  = 5 * time.Second
	failingStatus   = http.StatusBadGateway
	// quietAfterOpen and quietBeforeProbe bound the instants at which the
	// circuit window starts and ends: the last probe's failure is counted
	// (counters are published every 100ms) and the next probe is not due.
	quietAfterOpen   = 500 * time.Millisecond
	quietBeforeProbe = time.Second
)

// replica is the second receiver: its own HTTP, probe, metrics and pprof
// ports, the first one's JetStream.
type replica struct {
	p                            *proc
	http, probe, metrics, pprofP int
}

func (r *replica) url() string { return "http://127.0.0.1:" + strconv.Itoa(r.http) }
func (r *replica) metricsURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(r.metrics) + "/metrics"
}
func (c *cluster) metricsURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(c.ports.metrics) + "/metrics"
}

// startReplica starts a second `hookgate receiver` on the first one's
// JetStream (--nats-url, the same token), with the same keys namespace,
// quotas and ExternalName rule, and waits until it serves.
func (c *cluster) startReplica(ctx context.Context) (*replica, error) {
	r := &replica{}
	for _, p := range []*int{&r.http, &r.probe, &r.metrics, &r.pprofP} {
		var err error
		if *p, err = freePort(); err != nil {
			return nil, err
		}
	}
	var err error
	r.p, _, err = startProc("receiver-2", filepath.Join(c.work, "receiver-2.log"), c.bin, append([]string{"receiver",
		"--listen", "127.0.0.1:" + strconv.Itoa(r.http),
		"--metrics-bind-address", "127.0.0.1:" + strconv.Itoa(r.metrics),
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(r.probe),
		"--pprof-bind-address", c.pprofAddr(r.pprofP),
		"--nats-url", c.natsURL(),
	}, c.receiverPolicy()...), c.procEnv(), false)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, "http://127.0.0.1:"+strconv.Itoa(r.probe)+"/readyz", http.StatusOK, 2*time.Minute); err != nil {
		r.p.stop()
		return nil, fmt.Errorf("second receiver not ready (log: %s): %w", r.p.log, err)
	}
	return r, nil
}

// liveReplicas is how many receivers announce themselves in the members
// bucket.
func (c *cluster) liveReplicas(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	kv, err := c.q.JS.KeyValue(ctx, queue.MembersBucket)
	if err != nil {
		return 0, fmt.Errorf("opening bucket %s: %w", queue.MembersBucket, err)
	}
	keys, err := kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return 0, nil
	}
	return len(keys), err
}

// runProtect adds the second receiver, measures the rate limit and the
// circuit, and stops it again.
func (b *bench) runProtect(ctx context.Context) error {
	cl, pc := b.cl, b.cfg.protect
	progress("protection: creating the rate-limited and the failing target's endpoints")
	failing, err := b.sink.addPort(failingStatus)
	if err != nil {
		return err
	}
	rateWE := cl.newEndpoint(benchNS, protectRateName, true)
	rateWE.Spec.Target.Limits = &hookv1.TargetLimits{RequestsPerSecond: ptr.To(int32(pc.rps))}
	rateEP, err := cl.createEndpointFrom(ctx, rateWE)
	if err != nil {
		return err
	}
	circWE := cl.newEndpoint(benchNS, protectCircuitName, true)
	circWE.Spec.Target.Service.Port = int32(failing.port)
	circWE.Spec.Target.CircuitBreaker = &hookv1.CircuitBreakerSpec{
		ConsecutiveFailures: ptr.To(int32(circuitFailures)),
		OpenFor:             &metav1.Duration{Duration: circuitOpenFor},
	}
	circWE.Spec.Delivery.Backoff = hookv1.BackoffSpec{
		Initial: &metav1.Duration{Duration: 200 * time.Millisecond},
		Max:     &metav1.Duration{Duration: time.Second},
	}
	circEP, err := cl.createEndpointFrom(ctx, circWE)
	if err != nil {
		return err
	}

	progress("protection: starting a second receiver on the first one's JetStream")
	r2, err := cl.startReplica(ctx)
	if err != nil {
		return err
	}
	defer func() {
		progress("protection: stopping the second receiver")
		r2.p.stop()
	}()
	for _, ep := range []endpoint{rateEP, circEP} {
		if err := waitHTTP(ctx, r2.url()+ep.path, http.StatusMethodNotAllowed, time.Minute); err != nil {
			return fmt.Errorf("second receiver does not route %s (log: %s): %w", ep.key, r2.p.log, err)
		}
	}
	live, err := b.waitReplicas(ctx, 2, 30*time.Second)
	if err != nil {
		return err
	}
	b.rep.check("protect: receiver replicas announced in "+queue.MembersBucket, 2, int64(live))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(membersSettle):
	}
	b.rep.Protect = &protectRow{Replicas: live}
	if err := b.protectRate(ctx, r2, rateEP); err != nil {
		return fmt.Errorf("protection (rate limit): %w", err)
	}
	if err := b.protectCircuit(ctx, r2, circEP, failing); err != nil {
		return fmt.Errorf("protection (circuit): %w", err)
	}
	if done, err := r2.p.exited(); done {
		return fmt.Errorf("second receiver exited (%v); log: %s", err, r2.p.log)
	}
	return nil
}

// waitReplicas waits until want receivers announce themselves, and
// returns how many do.
func (b *bench) waitReplicas(ctx context.Context, want int, d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	for {
		n, err := b.cl.liveReplicas(ctx)
		if err != nil || n == want || time.Now().After(deadline) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// roundUp is n rounded up to a multiple of m.
func roundUp(n, m int) int { return (n + m - 1) / m * m }

// sendEvents sends n events (a multiple of protectSenders) to ep's path on
// the first receiver, each a new delivery id of a new run tag that the
// sink times, and checks they were all stored.
func (b *bench) sendEvents(ctx context.Context, name string, ep endpoint, n int) (uint32, error) {
	spec := loadSpec{concurrency: protectSenders, duration: 2 * time.Minute, maxRequests: int64(n), url: b.cl.receiverURL() + ep.path, tag: b.wl.nextTag()}
	b.sink.timeRun(spec.tag)
	stored0, err := b.cl.storedEvents(ctx, ep)
	if err != nil {
		return 0, err
	}
	res := generate(ctx, spec, b.wl, progReceiver)
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if res.Errors > 0 || res.Non2xx > 0 {
		b.rep.fail(fmt.Sprintf("%s: %d errors and %d non-2xx answers sending the events; first: %s", name, res.Errors, res.Non2xx, res.FirstFailure))
	}
	stored, err := b.cl.storedEvents(ctx, ep)
	if err != nil {
		return 0, err
	}
	b.rep.check(name+": events stored while suspended = events sent", int64(n), int64(stored)-int64(stored0))
	return spec.tag, nil
}

// rateFigures are what a target's request times say about its rate.
type rateFigures struct {
	// Steady is the rate from edge after the first request to edge before
	// the last; MaxInSecond the most in any window of one second, starting
	// PeakAt after the first; LongestGap the longest time without one
	// (a stall of the target's process bunches requests after it).
	Steady      float64
	MaxInSecond int
	PeakAt      time.Duration
	LongestGap  time.Duration
	Span        time.Duration
}

// rateOf reads request times, sorted.
func rateOf(at []time.Time, edge time.Duration) rateFigures {
	var f rateFigures
	if len(at) == 0 {
		return f
	}
	first, last := at[0], at[len(at)-1]
	f.Span = last.Sub(first)
	from, to := first.Add(edge), last.Add(-edge)
	if to.After(from) {
		inside := 0
		for _, t := range at {
			if !t.Before(from) && !t.After(to) {
				inside++
			}
		}
		f.Steady = float64(inside) / to.Sub(from).Seconds()
	}
	// Every window that holds the most starts at a request.
	j := 0
	for i, t := range at {
		for j < len(at) && at[j].Before(t.Add(time.Second)) {
			j++
		}
		if j-i > f.MaxInSecond {
			f.MaxInSecond, f.PeakAt = j-i, t.Sub(first)
		}
		if i > 0 {
			f.LongestGap = max(f.LongestGap, t.Sub(at[i-1]))
		}
	}
	return f
}

// protectRate queues a backlog for the rate-limited target, resumes it and
// records when each request reached the target.
func (b *bench) protectRate(ctx context.Context, r2 *replica, ep endpoint) error {
	cl, limit := b.cl, b.cfg.protect.rps
	k := roundUp(int(float64(limit)*b.cfg.protect.drain.Seconds()), protectSenders)
	progress("protection: rate limit %d/s: %d events queued while suspended, then drained by both receivers (about %s)", limit, k, b.cfg.protect.drain)
	const name = "protect rate"
	if err := b.aliveBoth(r2); err != nil {
		return err
	}
	deliv0, err := cl.counter(ctx, ep, queue.CounterDelivered)
	if err != nil {
		return err
	}
	labels := map[string]string{"endpoint": ep.key.String(), "outcome": "delivered"}
	before := b.perReplica(ctx, r2, "hookgate_dispatch_attempts_total", labels)
	tag, err := b.sendEvents(ctx, name, ep, k)
	if err != nil {
		return err
	}
	resumed := time.Now()
	if err := cl.setSuspend(ctx, ep, false); err != nil {
		return err
	}
	werr := b.sink.waitDistinct(ctx, tag, k, 2*b.cfg.protect.drain+time.Minute)
	if werr != nil {
		b.rep.fail(name + ": " + werr.Error())
	}
	arr := b.sink.arrivals(tag)
	at := make([]time.Time, len(arr))
	for i, a := range arr {
		at[i] = a.At
	}
	got := b.sink.counts(tag)
	row := &protectRateRow{LimitPerSec: limit, Events: k, Requests: len(arr), Delivered: int64(got.Distinct), Repeats: got.Repeats}
	rf := rateOf(at, time.Second)
	row.SteadyPerSec, row.MaxInOneSecond, row.PeakAtS, row.LongestGapMs, row.DrainS = rf.Steady, rf.MaxInSecond, rf.PeakAt.Seconds(), ms(rf.LongestGap), rf.Span.Seconds()
	if len(at) > 0 {
		row.ResumeToFirstMs = ms(at[0].Sub(resumed))
	}
	if after := b.perReplica(ctx, r2, "hookgate_dispatch_attempts_total", labels); before != nil && after != nil {
		for i := range after {
			row.PerReplica = append(row.PerReplica, after[i]-before[i])
		}
	}
	b.rep.Protect.Rate = row

	lo, hi := int64(math.Ceil(0.9*float64(limit))), int64(math.Floor(1.1*float64(limit)))
	b.rep.checkRange(fmt.Sprintf("%s: steady requests/s within 10 %% of the limit %d", name, limit), lo, hi, int64(math.Round(row.SteadyPerSec)))
	b.rep.checkRange(fmt.Sprintf("%s: most requests in any second, at most 110 %% of the limit %d (+1)", name, limit), 0, hi+1, int64(row.MaxInOneSecond))
	b.rep.check(name+": distinct events delivered = events sent", int64(k), int64(got.Distinct))
	b.rep.check(name+": events delivered more than once", 0, got.Repeats)
	b.rep.check(name+": requests the target received = events sent", int64(k), int64(len(arr)))
	deliv, err := cl.waitCounter(ctx, ep, queue.CounterDelivered, deliv0+int64(k), 30*time.Second)
	if err != nil {
		return err
	}
	b.rep.check(name+": delivered counter = events sent", int64(k), deliv-deliv0)
	return b.checkEmpty(ctx, ep, name)
}

// protectCircuit sends events to a target that fails, waits until its
// circuit is open, counts what the target receives and the attempts
// counted over a window, then heals the target and checks every event
// arrives once.
func (b *bench) protectCircuit(ctx context.Context, r2 *replica, ep endpoint, failing *sinkPort) error {
	cl, pc := b.cl, b.cfg.protect
	e := roundUp(pc.events, protectSenders)
	progress("protection: circuit: %d events to a target answering %d, then a %s window with the circuit open, then the target healed", e, failingStatus, pc.window)
	const name = "protect circuit"
	if err := b.aliveBoth(r2); err != nil {
		return err
	}
	c0, err := b.readCounters(ctx, ep)
	if err != nil {
		return err
	}
	tag, err := b.sendEvents(ctx, name, ep, e)
	if err != nil {
		return err
	}
	row := &protectBreakRow{Events: e, Status: failingStatus, ConsecutiveFailures: circuitFailures, OpenForS: circuitOpenFor.Seconds(), HeldInWin: -1}
	b.rep.Protect.Circuit = row
	resumed := time.Now()
	if err := cl.setSuspend(ctx, ep, false); err != nil {
		return err
	}
	// The circuit opens in the shared state; status shows it at the
	// manager's next read of the endpoint's counters.
	st, err := b.waitCircuitOpen(ctx, ep, 30*time.Second)
	if err != nil {
		return err
	}
	opened := st.Since
	row.ResumeToOpenMs = ms(opened.Sub(resumed))
	statusAt, err := b.waitStatusCircuit(ctx, ep, hookv1.CircuitOpen, 30*time.Second)
	if err != nil {
		return err
	}
	row.StatusLagMs = ms(statusAt.Sub(opened))

	start, err := b.quietPoint(ctx, ep, time.Now())
	if err != nil {
		return err
	}
	cStart, err := b.readCounters(ctx, ep)
	if err != nil {
		return err
	}
	heldLabels := map[string]string{"endpoint": ep.key.String()}
	hStart := b.perReplica(ctx, r2, "hookgate_target_held_total", heldLabels)
	end, err := b.quietPoint(ctx, ep, start.Add(pc.window))
	if err != nil {
		return err
	}
	cEnd, err := b.readCounters(ctx, ep)
	if err != nil {
		return err
	}
	hEnd := b.perReplica(ctx, r2, "hookgate_target_held_total", heldLabels)
	for _, a := range b.sink.arrivals(tag) {
		switch {
		case a.At.Before(opened):
			row.RequestsBeforeOpen++
		case a.At.Before(start):
			row.RequestsOpenToWindow++
		case a.At.Before(end):
			row.RequestsInWin++
		}
	}
	window := end.Sub(start)
	row.WindowS = window.Seconds()
	row.RetriesInWin = cEnd.Retries - cStart.Retries
	row.ProbesAllowed = int(math.Ceil(window.Seconds()/circuitOpenFor.Seconds())) + 2
	if hStart != nil && hEnd != nil {
		row.HeldInWin = 0
		for i := range hEnd {
			row.HeldInWin += hEnd[i] - hStart[i]
		}
	}
	b.rep.check(name+": retries counter = requests the failing target received, up to the window", int64(row.RequestsBeforeOpen+row.RequestsOpenToWindow), cStart.Retries-c0.Retries)
	b.rep.checkRange(name+": requests while open (probes only), 1 to ceil(window/openFor)+2", 1, int64(row.ProbesAllowed), int64(row.RequestsInWin))
	b.rep.check(name+": retries counted while open = requests the target received (held events use no attempt)", int64(row.RequestsInWin), row.RetriesInWin)

	progress("protection: circuit: target healed, waiting for the next probe and the held events")
	failing.setStatus(http.StatusNoContent)
	healed := time.Now()
	werr := b.sink.waitDistinct(ctx, tag, e, time.Minute)
	if werr != nil {
		b.rep.fail(name + ": after healing: " + werr.Error())
	}
	got := b.sink.counts(tag)
	row.Delivered, row.Repeats = int64(got.Distinct), got.Repeats
	if got.Distinct > 0 {
		row.HealToAllMs = ms(got.Last.Sub(healed))
	}
	row.RequestsInTotal = len(b.sink.arrivals(tag))
	b.rep.check(name+": distinct events delivered after healing = events sent", int64(e), int64(got.Distinct))
	b.rep.check(name+": events delivered more than once", 0, got.Repeats)
	deliv, err := cl.waitCounter(ctx, ep, queue.CounterDelivered, c0.Delivered+int64(e), 30*time.Second)
	if err != nil {
		return err
	}
	b.rep.check(name+": delivered counter = events sent", int64(e), deliv-c0.Delivered)
	dead, err := cl.counter(ctx, ep, queue.CounterDeadLettered)
	if err != nil {
		return err
	}
	b.rep.check(name+": events dead-lettered", 0, dead)
	if _, err := b.waitStatusCircuit(ctx, ep, hookv1.CircuitClosed, 30*time.Second); err != nil {
		b.rep.fail(name + ": after healing: " + err.Error())
	}
	return b.checkEmpty(ctx, ep, name)
}

// aliveBoth fails when a receiver or the manager has exited.
func (b *bench) aliveBoth(r2 *replica) error {
	if err := b.cl.alive(); err != nil {
		return err
	}
	if done, err := r2.p.exited(); done {
		return fmt.Errorf("second receiver exited (%v); log: %s", err, r2.p.log)
	}
	return nil
}

func (b *bench) readCounters(ctx context.Context, ep endpoint) (queue.Counters, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return b.cl.q.ReadCounters(ctx, ep.uid)
}

// targetState is ep's single target's shared circuit state.
func (b *bench) targetState(ctx context.Context, ep endpoint) (queue.TargetState, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, _, err := b.cl.q.TargetState(ctx, ep.uid)
	return st, err
}

// waitCircuitOpen waits until ep's target's circuit is open in the state
// every replica shares.
func (b *bench) waitCircuitOpen(ctx context.Context, ep endpoint, d time.Duration) (queue.TargetState, error) {
	deadline := time.Now().Add(d)
	for {
		st, err := b.targetState(ctx, ep)
		if err != nil {
			return st, err
		}
		if st.Circuit == queue.CircuitOpen {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("circuit of %s not open within %s (state %+v; receiver logs: %s, receiver-2.log)", ep.key, d, st, b.cl.receiver.log)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitStatusCircuit waits until status.targets[0].circuit says want and
// returns when it did.
func (b *bench) waitStatusCircuit(ctx context.Context, ep endpoint, want hookv1.CircuitState, d time.Duration) (time.Time, error) {
	deadline := time.Now().Add(d)
	for {
		var we hookv1.WebhookEndpoint
		if err := b.cl.k8s.Get(ctx, ep.key, &we); err != nil {
			return time.Time{}, err
		}
		var got hookv1.CircuitState
		if len(we.Status.Targets) > 0 {
			got = we.Status.Targets[0].Circuit
		}
		if got == want {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("status.targets[0].circuit of %s is %q, not %s, after %s (manager log: %s)", ep.key, got, want, d, b.cl.manager.log)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// quietPoint waits, from notBefore on, for an instant at which nothing is
// under way at ep's target: its circuit open for at least quietAfterOpen
// (the last probe's failure is counted) and its next probe at least
// quietBeforeProbe away, so the readings taken there split the probes
// cleanly.
func (b *bench) quietPoint(ctx context.Context, ep endpoint, notBefore time.Time) (time.Time, error) {
	deadline := notBefore.Add(3 * circuitOpenFor)
	for {
		st, err := b.targetState(ctx, ep)
		if err != nil {
			return time.Time{}, err
		}
		now := time.Now()
		if !now.Before(notBefore) && st.Circuit == queue.CircuitOpen && now.Sub(st.Since) >= quietAfterOpen && st.ProbeAt.Sub(now) >= quietBeforeProbe {
			return now, nil
		}
		if now.After(deadline) {
			return time.Time{}, fmt.Errorf("circuit of %s not open between probes within %s (state %+v)", ep.key, deadline.Sub(notBefore), st)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// perReplica reads a counter metric, summed over the series with labels,
// from the first receiver and the second; nil when a metrics endpoint
// cannot be read (the figure is then left out, nothing fails).
func (b *bench) perReplica(ctx context.Context, r2 *replica, metric string, labels map[string]string) []int64 {
	var out []int64
	for _, url := range []string{b.cl.metricsURL(), r2.metricsURL()} {
		v, err := scrapeSum(ctx, url, metric, labels)
		if err != nil {
			progress("protection: reading %s: %v", url, err)
			return nil
		}
		out = append(out, int64(math.Round(v)))
	}
	return out
}

func scrapeSum(ctx context.Context, url, metric string, labels map[string]string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, errors.New(resp.Status)
	}
	return metricSum(resp.Body, metric, labels)
}

// metricSum adds up the samples of metric whose labels include labels, in
// the Prometheus text format. It reads what controller-runtime serves:
// label values without escaped quotes or commas.
func metricSum(r io.Reader, metric string, labels map[string]string) (float64, error) {
	var sum float64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, metric)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue // a comment, another metric, or one that starts with this name
		}
		have := map[string]string{}
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return 0, fmt.Errorf("malformed sample %q", line)
			}
			for kv := range strings.SplitSeq(rest[1:end], ",") {
				k, v, ok := strings.Cut(kv, "=")
				if ok {
					have[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
				}
			}
			rest = rest[end+1:]
		}
		match := true
		for k, v := range labels {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, fmt.Errorf("malformed sample %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("malformed sample %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}
