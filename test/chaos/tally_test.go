package chaos

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

// tally is what one scenario's provider, target and endpoint status say.
type tally struct {
	res result
	// From the provider: distinct ids sent and answered 2xx.
	sent, acked, answers2xx int
	// From the target: distinct ids delivered; distinct stored events
	// (each delivery carries its event's stream sequence); deliveries in all.
	deliveredIDs, stored, deliveries int
	// lost: acknowledged but never delivered. dupForwarded: deliveries of
	// an id beyond its first, split into storedTwice (ids stored as more
	// than one event) and redelivered (one event delivered again, the
	// at-least-once case when a receiver dies before its ack).
	lost, dupForwarded, storedTwice, redelivered int
	lostIDs                                      []string
	// From the WebhookEndpoint's status and the dead-letter stream.
	ctr       hookv1.DeliveryCounters
	ctrErr    error
	deadInDLQ uint64
}

func (s *suite) tally(sc *scenario) *tally {
	tl := &tally{res: sc.load.result()}
	tl.sent, tl.acked, tl.answers2xx = len(tl.res.sent), len(tl.res.acked), tl.res.answers2xx
	dels, total := sc.tgt.deliveries()
	tl.deliveredIDs, tl.deliveries = len(dels), total
	for _, seqs := range dels {
		distinct := map[uint64]bool{}
		for _, q := range seqs {
			distinct[q] = true
		}
		tl.stored += len(distinct)
		if len(distinct) > 1 {
			tl.storedTwice++
		}
		tl.redelivered += len(seqs) - len(distinct)
	}
	tl.dupForwarded = total - tl.deliveredIDs
	for id := range tl.res.acked {
		if _, ok := dels[id]; !ok {
			tl.lost++
			if len(tl.lostIDs) < 5 {
				tl.lostIDs = append(tl.lostIDs, id)
			}
		}
	}
	sort.Strings(tl.lostIDs)
	var ep hookv1.WebhookEndpoint
	if tl.ctrErr = s.k8s.Get(context.Background(), client.ObjectKey{Namespace: sc.ns, Name: "hook"}, &ep); tl.ctrErr == nil {
		tl.ctr = ep.Status.GetDeliveries()
	}
	if n, err := s.nats.subjectCount(queue.DLQStream, queue.DLQSubject(sc.uid)); err == nil {
		tl.deadInDLQ = n
	} else if tl.ctrErr == nil {
		tl.ctrErr = err
	}
	return tl
}

// settled: everything acknowledged arrived, nothing waits, and the
// counters have caught up with the target.
func (tl *tally) settled() bool {
	return tl.ctrErr == nil && tl.lost == 0 && tl.ctr.Pending == 0 &&
		tl.ctr.Received == int64(tl.stored) && tl.ctr.Delivered == int64(tl.stored)
}

// violations are the pass criteria every scenario shares.
func (tl *tally) violations(sc *scenario) []string {
	var errs []string
	switch {
	case tl.sent == 0:
		errs = append(errs, "the provider sent nothing")
	case sc.load.spec.events < unbounded && tl.sent != sc.load.spec.events:
		errs = append(errs, fmt.Sprintf("the provider sent %d ids, want all %d", tl.sent, sc.load.spec.events))
	}
	if tl.ctrErr != nil {
		errs = append(errs, "reading status: "+tl.ctrErr.Error())
	}
	if tl.lost > 0 {
		errs = append(errs, fmt.Sprintf("%d acknowledged events never delivered, e.g. %v", tl.lost, tl.lostIDs))
	}
	if bad := tl.badCodes(); bad != "" {
		errs = append(errs, "answers other than 2xx/503: "+bad+"; first: "+strings.Join(tl.res.samples, "; "))
	}
	if n := len(tl.res.gaveUp); n > 0 {
		errs = append(errs, fmt.Sprintf("the provider gave up on %d ids (%d attempts or %s each)", n, sc.load.spec.maxAttempts, sc.load.spec.maxSendTime))
	}
	if tl.ctr.Received != int64(tl.stored) {
		errs = append(errs, fmt.Sprintf("status.deliveries.received %d, but %d distinct events were stored (and delivered)", tl.ctr.Received, tl.stored))
	}
	if tl.ctr.Delivered != int64(tl.stored) {
		errs = append(errs, fmt.Sprintf("status.deliveries.delivered %d, but the target accepted %d distinct events (%d deliveries)", tl.ctr.Delivered, tl.stored, tl.deliveries))
	}
	if tl.ctr.Pending != 0 {
		errs = append(errs, fmt.Sprintf("status.deliveries.pending %d after the drain", tl.ctr.Pending))
	}
	if tl.ctr.DeadLettered != 0 || tl.deadInDLQ != 0 {
		errs = append(errs, fmt.Sprintf("dead-lettered: status %d, stream %d", tl.ctr.DeadLettered, tl.deadInDLQ))
	}
	if sc.exactAnswers && tl.ctr.Received+tl.ctr.Duplicates != int64(tl.answers2xx) {
		errs = append(errs, fmt.Sprintf("received %d + duplicates %d ≠ %d 2xx answers", tl.ctr.Received, tl.ctr.Duplicates, tl.answers2xx))
	}
	if sc.check != nil {
		errs = append(errs, sc.check(tl)...)
	}
	return errs
}

// badCodes lists answers that are neither 2xx nor 503 nor a failed
// connection, e.g. "404×3".
func (tl *tally) badCodes() string {
	var out []string
	for c, n := range tl.res.codes {
		if c != 0 && c != 503 && (c < 200 || c > 299) {
			out = append(out, fmt.Sprintf("%d×%d", c, n))
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// converge waits, bounded, for the scenario to settle, then judges it.
func (s *suite) converge(t *testing.T, sc *scenario) {
	var tl *tally
	for {
		tl = s.tally(sc)
		if tl.settled() || time.Now().After(sc.settleBy) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	// A late duplicate or counter would show within a few status intervals.
	time.Sleep(2 * time.Second)
	tl = s.tally(sc)
	sc.mu.Lock()
	sc.tally = tl
	sc.mu.Unlock()
	for _, e := range tl.violations(sc) {
		t.Errorf("scenario %d (%s): %s", sc.num, sc.title, e)
	}
}

const tableHeader = `| # | scenario | sent | acked | delivered | lost | dup fwd (stored twice / redelivered) | 503 | conn err | other | received | delivered ctr | duplicates ctr | retries ctr | dead | ingest time |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`

func (tl *tally) row(sc *scenario) string {
	other := tl.badCodes()
	if other == "" {
		other = "0"
	}
	return fmt.Sprintf("| %d | %s | %d | %d | %d | %d | %d (%d / %d) | %d | %d | %s | %d | %d | %d | %d | %d | %s |",
		sc.num, sc.title, tl.sent, tl.acked, tl.deliveredIDs, tl.lost, tl.dupForwarded, tl.storedTwice, tl.redelivered,
		tl.res.codes[503], tl.res.codes[0], other, tl.ctr.Received, tl.ctr.Delivered, tl.ctr.Duplicates, tl.ctr.Retries,
		tl.ctr.DeadLettered, tl.res.elapsed.Round(time.Second))
}

// report prints every scenario's tally as a table, in scenario order, and
// writes it to $HOOKGATE_CHAOS_REPORT when set.
func (s *suite) report(t *testing.T, began time.Time) {
	s.mu.Lock()
	scs := append([]*scenario(nil), s.scenarios...)
	s.mu.Unlock()
	sort.Slice(scs, func(i, j int) bool { return scs[i].num < scs[j].num })
	var b strings.Builder
	fmt.Fprintf(&b, "Fault suite, %s profile, %s in all (%s):\n\n%s\n", s.prof.name, time.Since(began).Round(time.Second), time.Now().UTC().Format("2006-01-02"), tableHeader)
	for _, sc := range scs {
		sc.mu.Lock()
		if sc.tally != nil {
			b.WriteString(sc.tally.row(sc) + "\n")
		}
		sc.mu.Unlock()
	}
	b.WriteString("\n")
	for _, sc := range scs {
		sc.mu.Lock()
		var reasons []string
		if sc.tally != nil {
			for k, n := range sc.tally.res.reasons {
				reasons = append(reasons, fmt.Sprintf("%s×%d", k, n))
			}
			sort.Strings(reasons)
		}
		notes := strings.Join(sc.notes, "; ")
		if sc.tally != nil {
			notes += fmt.Sprintf("; %d attempts, %d answered 2xx", sc.tally.res.attempts, sc.tally.answers2xx)
		}
		if len(reasons) > 0 {
			notes += "; refusals: " + strings.Join(reasons, ", ")
		}
		fmt.Fprintf(&b, "- %d: %s\n", sc.num, notes)
		sc.mu.Unlock()
	}
	fmt.Print("\n" + b.String())
	if p := os.Getenv("HOOKGATE_CHAOS_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Errorf("writing the report: %v", err)
		}
	}
}

// slug turns a title into a subtest name.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
