package chaos

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

// scenario is one fault with its own endpoint, target and provider, so
// its tally counts only its own events.
type scenario struct {
	num   int
	title string
	ns    string
	uid   string
	path  string

	secret []byte
	tgt    *target
	load   *load
	// settleBy is when the drain must be complete.
	settleBy time.Time
	// exactAnswers: no process died while this scenario's provider was
	// sending, so every 2xx answer was counted exactly once as received
	// or duplicate.
	exactAnswers bool
	// check adds the scenario's own criteria to the common ones.
	check func(*tally) []string

	mu    sync.Mutex
	notes []string
	tally *tally
}

func (sc *scenario) key() string { return fmt.Sprintf("%d-%s", sc.num, slug(sc.title)) }

func (sc *scenario) note(format string, args ...any) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.notes = append(sc.notes, fmt.Sprintf(format, args...))
}

// delivery is the policy every scenario's endpoint gets: short attempts
// (AckWait is 2×timeout+30s) and at least span of retries before an event
// is dead-lettered, so no outage shorter than span dead-letters anything.
func delivery(span time.Duration) hookv1.DeliverySpec {
	const attempts = 100
	// Full jitter waits at least half the ceiling: (attempts-5) waits of
	// max/2 cover the span twice over.
	maxBackoff := max(time.Second, (4 * span / (attempts - 5)).Round(time.Second))
	return hookv1.DeliverySpec{
		MaxAttempts: ptr.To[int32](attempts),
		Timeout:     &metav1.Duration{Duration: 2 * time.Second},
		Backoff: hookv1.BackoffSpec{
			Initial: &metav1.Duration{Duration: 100 * time.Millisecond},
			Max:     &metav1.Duration{Duration: maxBackoff},
		},
	}
}

// newScenario creates a namespace with a signing Secret, a target reached
// through an ExternalName Service, and a GitHub WebhookEndpoint, and waits
// until every running receiver routes its path.
func (s *suite) newScenario(t *testing.T, num int, title string, mutate func(*hookv1.WebhookEndpoint)) *scenario {
	t.Helper()
	ctx := context.Background()
	tgt, err := newTarget()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tgt.close)
	sc := &scenario{num: num, title: title, ns: "chaos-" + strconv.Itoa(num), tgt: tgt, secret: []byte(randomHex(20))}
	must(t, s.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sc.ns}}))
	must(t, s.k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sc.ns, Name: "signing"},
		Data: map[string][]byte{"secret": sc.secret}}))
	must(t, s.k8s.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: sc.ns, Name: "target"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "127.0.0.1"}}))
	ep := &hookv1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: sc.ns, Name: "hook"},
		Spec: hookv1.WebhookEndpointSpec{
			Provider:  hookv1.ProviderGitHub,
			SecretRef: &hookv1.SecretKeyRef{Name: "signing"},
			Target:    &hookv1.TargetSpec{Service: hookv1.ServiceTarget{Name: "target", Port: int32(tgt.port), Path: "/events"}},
			Delivery:  delivery(10 * time.Second),
		},
	}
	if mutate != nil {
		mutate(ep)
	}
	must(t, s.k8s.Create(ctx, ep))
	if !waitFor(60*time.Second, 200*time.Millisecond, func() bool {
		var cur hookv1.WebhookEndpoint
		if s.k8s.Get(ctx, client.ObjectKeyFromObject(ep), &cur) != nil {
			return false
		}
		sc.uid, sc.path = string(cur.UID), cur.Status.WebhookPath
		return meta.IsStatusConditionTrue(cur.Status.Conditions, hookv1.ConditionReady) && sc.path != ""
	}) {
		t.Fatalf("scenario %d: WebhookEndpoint not Ready within 60s", num)
	}
	// A GET is answered 405 by a routed path, and not counted.
	for _, r := range s.receivers {
		if !r.running() {
			continue
		}
		if !waitFor(60*time.Second, 100*time.Millisecond, func() bool { return httpStatus(r.be.url+sc.path) == 405 }) {
			t.Fatalf("scenario %d: %s does not route %s within 60s", num, r.name, sc.path)
		}
	}
	return sc
}

func (s *suite) loadSpec(events int, maxDuration time.Duration) loadSpec {
	return loadSpec{events: events, rate: s.prof.rate, concurrency: s.prof.concurrency, maxDuration: maxDuration,
		maxAttempts: 200, maxSendTime: s.prof.maxSendTime, maxRetryDelay: s.prof.maxRetryDelay}
}

// unbounded is the event count of a load that the scenario stops when its
// faults are done; maxDuration still bounds it.
const unbounded = 1_000_000

func (s *suite) startLoad(sc *scenario, spec loadSpec) {
	sc.load = startLoad(s.lb, sc.path, sc.secret, fmt.Sprintf("s%d", sc.num), spec)
}

// finishLoad stops new sends and waits for the retries in progress.
func (s *suite) finishLoad(t *testing.T, sc *scenario) {
	sc.load.stop()
	s.drainLoad(t, sc)
}

// drainLoad waits for a bounded load to send all its events.
func (s *suite) drainLoad(t *testing.T, sc *scenario) {
	if !sc.load.wait(sc.load.spec.maxDuration + s.prof.maxSendTime + 30*time.Second) {
		t.Errorf("scenario %d: provider sends did not end within their bound", sc.num)
	}
	sc.settleBy = time.Now().Add(s.prof.converge)
}

// 1. Receivers SIGKILLed during load, each restarted at once.
func (s *suite) receiverKills(t *testing.T) *scenario {
	sc := s.newScenario(t, 1, "receiver SIGKILL and restart", nil)
	// Deliveries take a moment, so some are in flight at every kill.
	must(t, sc.tgt.set(targetSlow, 20*time.Millisecond))
	s.startLoad(sc, s.loadSpec(unbounded, 30*time.Minute))
	time.Sleep(2 * time.Second)
	for k := range s.prof.receiverKills {
		r := s.receivers[k%len(s.receivers)]
		r.kill()
		time.Sleep(300 * time.Millisecond)
		must(t, r.start())
		if !r.waitReady(90 * time.Second) {
			t.Fatalf("%s not ready within 90s of its restart", r.name)
		}
		time.Sleep(time.Second)
	}
	sc.note("%d SIGKILLs over 3 receivers, each restarted", s.prof.receiverKills)
	time.Sleep(2 * time.Second)
	s.finishLoad(t, sc)
	return sc
}

// 2. NATS nodes SIGKILLed during load: first a follower of the events
// stream (the leader of the counters stream when that is elsewhere, since
// the counters are part of the tally), then the events stream's leader,
// each restarted on its store.
func (s *suite) natsKills(t *testing.T) *scenario {
	sc := s.newScenario(t, 2, "NATS node SIGKILL, then the stream leader", nil)
	s.startLoad(sc, s.loadSpec(unbounded, 30*time.Minute))
	time.Sleep(2 * time.Second)
	leader := func(stream string) string {
		var l string
		if !waitFor(60*time.Second, 250*time.Millisecond, func() bool {
			var err error
			l, err = s.nats.streamLeader(stream)
			return err == nil && l != ""
		}) {
			t.Fatalf("%s has no leader for 60s", stream)
		}
		return l
	}
	for range s.prof.natsRounds {
		events, counters := leader(queue.EventsStream), leader(queue.CountersStream)
		var first *natsNode
		for _, n := range s.nats.nodes {
			if n.name != events && (first == nil || n.name == counters) {
				first = n
			}
		}
		must(t, s.nats.killAndRestart(first, time.Second, nil))
		what := "a follower"
		if first.name == counters {
			what += ", leading " + queue.CountersStream
		}
		sc.note("killed %s (%s; %s led by %s)", first.name, what, queue.EventsStream, events)
		time.Sleep(2 * time.Second)
		events = leader(queue.EventsStream)
		killed := time.Now()
		must(t, s.nats.killAndRestart(s.nats.node(events), 0, func() {
			// The new leader, elected while the old one is down.
			var next string
			waitFor(60*time.Second, 100*time.Millisecond, func() bool {
				next, _ = s.nats.streamLeader(queue.EventsStream)
				return next != "" && next != events
			})
			sc.note("killed %s leader %s, %s elected after %s", queue.EventsStream, events, next, time.Since(killed).Round(100*time.Millisecond))
			time.Sleep(time.Second)
		}))
		time.Sleep(2 * time.Second)
	}
	s.finishLoad(t, sc)
	return sc
}

// 3. A receiver killed for good: the others take its traffic and the
// events it held once AckWait passes.
func (s *suite) receiverLost(t *testing.T) *scenario {
	sc := s.newScenario(t, 3, "receiver lost for good", nil)
	must(t, sc.tgt.set(targetSlow, 20*time.Millisecond))
	s.startLoad(sc, s.loadSpec(unbounded, 30*time.Minute))
	time.Sleep(2 * time.Second)
	victim := s.receivers[len(s.receivers)-1]
	victim.kill()
	sc.note("SIGKILLed %s, not restarted", victim.name)
	time.Sleep(s.prof.survivorLoad)
	s.finishLoad(t, sc)
	return sc
}

// 4. The target down (connection refused) for the outage: everything is
// delivered once it is back, nothing dead-lettered.
func (s *suite) targetOutage(t *testing.T) *scenario {
	outage := s.prof.outage
	sc := s.newScenario(t, 4, "target down "+outage.String(), func(ep *hookv1.WebhookEndpoint) {
		ep.Spec.Delivery = delivery(outage)
	})
	must(t, sc.tgt.set(targetDown, 0))
	down := time.Now()
	spec := s.loadSpec(s.prof.outageEvents, outage/2)
	spec.rate = max(spec.rate, 2*float64(s.prof.outageEvents)/outage.Seconds())
	s.startLoad(sc, spec)
	sc.exactAnswers = true
	sc.note("delivery policy: 100 attempts, backoff up to %s", delivery(outage).Backoff.Max.Duration)
	up := make(chan struct{})
	time.AfterFunc(outage, func() {
		if err := sc.tgt.set(targetUp, 0); err != nil {
			sc.note("ERROR bringing the target back: %v", err)
		}
		sc.note("target back after %s", time.Since(down).Round(time.Second))
		close(up)
	})
	// Ingest completes now; the drain runs on beside the next scenarios.
	if !sc.load.wait(outage/2 + s.prof.maxSendTime) {
		t.Errorf("scenario 4: provider sends did not end within their bound")
	}
	if _, n := sc.tgt.deliveries(); n != 0 {
		t.Errorf("scenario 4: the target is down but accepted %d deliveries", n)
	}
	sc.settleBy = down.Add(outage + s.prof.converge)
	sc.check = func(tl *tally) []string {
		select {
		case <-up:
		default:
			return []string{"the target never came back"}
		}
		if tl.ctr.Retries == 0 {
			return []string{"no retries counted while the target was down"}
		}
		return nil
	}
	return sc
}

// 5. A duplicate storm: each id sent many times at once through several
// receivers is stored once and forwarded once.
func (s *suite) duplicateStorm(t *testing.T) *scenario {
	sc := s.newScenario(t, 5, "duplicate storm", nil)
	spec := s.loadSpec(s.prof.stormIDs, 10*time.Minute)
	spec.copies, spec.rate, spec.concurrency = s.prof.stormCopies, 20*s.prof.rate, s.prof.stormCopies
	s.startLoad(sc, spec)
	sc.exactAnswers = true
	sc.note("%d ids × %d concurrent copies", s.prof.stormIDs, s.prof.stormCopies)
	s.drainLoad(t, sc)
	sc.check = func(tl *tally) []string {
		var errs []string
		if tl.storedTwice != 0 {
			errs = append(errs, fmt.Sprintf("%d ids stored more than once", tl.storedTwice))
		}
		if want := int64(tl.answers2xx - tl.acked); tl.ctr.Duplicates != want {
			errs = append(errs, fmt.Sprintf("status.deliveries.duplicates %d, want %d (2xx answers %d − ids %d)", tl.ctr.Duplicates, want, tl.answers2xx, tl.acked))
		}
		return errs
	}
	return sc
}

// 6. The endpoint's storage quota reached while its target refuses: new
// events are answered 503 with Retry-After, nothing is lost, and ingest
// resumes as the target drains the queue.
func (s *suite) quotaFull(t *testing.T) *scenario {
	const quota = 40
	sc := s.newScenario(t, 6, "store full (quota)", func(ep *hookv1.WebhookEndpoint) {
		ep.Spec.Limits.MaxQueuedEvents = ptr.To[int64](quota)
		ep.Spec.Delivery = delivery(s.prof.quotaOutage)
	})
	must(t, sc.tgt.set(targetFail, 0))
	s.startLoad(sc, s.loadSpec(s.prof.quotaEvents, 10*time.Minute))
	sc.exactAnswers = true
	var peak uint64
	poll := func() {
		if n, err := s.nats.subjectCount(queue.EventsStream, queue.EventsSubject(sc.uid)); err == nil {
			peak = max(peak, n)
		}
	}
	end := time.Now().Add(s.prof.quotaOutage)
	for time.Now().Before(end) {
		poll()
		time.Sleep(200 * time.Millisecond)
	}
	// Stay down until the quota has certainly refused something.
	waitFor(30*time.Second, 200*time.Millisecond, func() bool {
		poll()
		return sc.load.result().reasons["503 QuotaExceeded"] > 0
	})
	must(t, sc.tgt.set(targetUp, 0))
	sc.note("target answered 503 for %s; quota %d events, peak stored %d", time.Since(end.Add(-s.prof.quotaOutage)).Round(time.Second), quota, peak)
	s.drainLoad(t, sc)
	sc.check = func(tl *tally) []string {
		var errs []string
		if n := tl.res.reasons["503 QuotaExceeded"]; n == 0 {
			errs = append(errs, "the quota never answered 503 QuotaExceeded")
		}
		// Replicas share what is stored once a second and add their own
		// since: together they may overshoot by about a second of load.
		if slack := uint64(quota + 2*s.prof.rate); peak > slack {
			errs = append(errs, fmt.Sprintf("peak %d events stored, quota %d (allowed overshoot up to %d)", peak, quota, slack))
		}
		return errs
	}
	return sc
}

// 7. A rolling restart of every receiver under load: SIGTERM, wait for the
// exit within the grace period, start, wait ready, next.
func (s *suite) rollingRestart(t *testing.T) *scenario {
	sc := s.newScenario(t, 7, "rolling restart (SIGTERM)", nil)
	must(t, sc.tgt.set(targetSlow, 50*time.Millisecond))
	s.startLoad(sc, s.loadSpec(unbounded, 30*time.Minute))
	time.Sleep(2 * time.Second)
	slow, restarts := 0, 0
	var exits, readies []time.Duration
	for range s.prof.rollRounds {
		for _, r := range s.receivers {
			if !r.running() {
				continue
			}
			began := time.Now()
			// The chart's terminationGracePeriodSeconds.
			if !r.term(30 * time.Second) {
				slow++
			}
			stopped := time.Since(began)
			must(t, r.start())
			if !r.waitReady(90 * time.Second) {
				t.Fatalf("%s not ready within 90s of its restart", r.name)
			}
			restarts++
			exits, readies = append(exits, stopped), append(readies, time.Since(began)-stopped)
			time.Sleep(time.Second)
		}
	}
	sc.note("%d SIGTERM restarts: exited after %s, ready again after %s", restarts, spread(exits), spread(readies))
	time.Sleep(2 * time.Second)
	s.finishLoad(t, sc)
	sc.check = func(tl *tally) []string {
		var errs []string
		if slow > 0 {
			errs = append(errs, fmt.Sprintf("%d receivers needed SIGKILL after the grace period", slow))
		}
		// --shutdown-delay keeps a stopping receiver accepting until the
		// load balancer has seen it not ready.
		if n := tl.res.codes[0]; n > 0 {
			errs = append(errs, fmt.Sprintf("%d connection errors during a graceful rolling restart", n))
		}
		return errs
	}
	return sc
}

// spread is "min–max" of durations.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	lo, hi := ds[0], ds[0]
	for _, d := range ds {
		lo, hi = min(lo, d), max(hi, d)
	}
	return lo.Round(100*time.Millisecond).String() + "–" + hi.Round(100*time.Millisecond).String()
}
