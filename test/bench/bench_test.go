package main

import (
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookgate/hookgate/ingress/dispatch"
)

// These tests cover the arithmetic the figures rest on; they run in
// milliseconds, so `go test ./...` never starts the benchmark itself.

func TestParseStatCPUCountsFieldsAfterTheCommandName(t *testing.T) {
	// A command name with spaces and parentheses must not shift the
	// fields: utime 1234 and stime 56 ticks.
	line := "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 56 7 8 20 0 12 0 100 1000 200\n"
	got, err := parseStatCPU([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := (1234 + 56) * clockTick; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Fatal("a short line must be an error")
	}
}

func TestProcCPUOfThisProcessGrowsWithWork(t *testing.T) {
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel has charged at least two ticks.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		now, err := procCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now-before >= 2*clockTick {
			return
		}
	}
	t.Fatal("CPU time did not grow while spinning")
}

func TestParseStatusRSSReadsKilobytes(t *testing.T) {
	got, err := parseStatusRSS([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got != 1024<<10 {
		t.Fatalf("got %d", got)
	}
	if _, err := procRSS(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

func TestDeliveryIDsCarryTheirRunTagToTheTarget(t *testing.T) {
	id := deliveryID(0xdeadbeef, 3, 7)
	tag, ok := tagOf(benchHookID + ":" + id)
	if !ok || tag != 0xdeadbeef {
		t.Fatalf("tagOf(%q) = %x, %t", id, tag, ok)
	}
	if _, ok := tagOf("something-else"); ok {
		t.Fatal("an id without a hook prefix has no tag")
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 99: 99, 100: 100, 1: 1} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%g = %d, want %d", p, got, want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("no samples must give 0")
	}
}

func TestPoolingSumsRoundsBeforeDividing(t *testing.T) {
	r := &report{}
	for _, n := range []int{100, 300} {
		res := &runResult{Program: progFloor, Window: time.Second, OK: int64(n),
			CPU: []procCPUUse{{Name: progFloor, CPU: time.Duration(n) * 10 * time.Microsecond}}}
		for range n {
			res.latencies = append(res.latencies, time.Millisecond)
		}
		row := ingestRow{Section: sectionIngest, Concurrency: 1, Program: progFloor, Fsync: "off"}
		row.fill(res)
		r.addIngest(row, res)
	}
	r.pool()
	if len(r.Pooled) != 1 {
		t.Fatalf("pooled %d rows", len(r.Pooled))
	}
	p := r.Pooled[0]
	if p.ReqPerSec != 200 || p.CPUPerReqUs != 10 || p.Measured != 400 {
		t.Fatalf("pooled %+v", p)
	}
}

func TestAFailedRequestOrCountMismatchFailsTheReport(t *testing.T) {
	r := &report{}
	r.check("stored = accepted", 10, 10)
	if !r.OK() {
		t.Fatal("matching counts must pass")
	}
	r.check("delivered = accepted", 10, 9)
	if r.OK() || len(r.failures()) != 1 {
		t.Fatalf("a mismatch must fail: %v", r.failures())
	}
	r = &report{}
	res := &runResult{Program: progBare, Window: time.Second, OK: 1, Non2xx: 1, FirstFailure: "HTTP 503", latencies: []time.Duration{1}}
	r.addIngest(ingestRow{Section: sectionIngest, Program: progBare}, res)
	if r.OK() {
		t.Fatal("a non-2xx answer must fail")
	}
}

func TestReadySetCountsEachNameOnce(t *testing.T) {
	var r readySet
	for _, step := range []struct {
		name  string
		ready bool
		want  int
	}{{"a", true, 1}, {"a", true, 1}, {"b", false, 1}, {"b", true, 2}, {"a", false, 1}, {"a", false, 1}, {"b", true, 1}} {
		r.set(step.name, step.ready)
		if r.n != step.want {
			t.Fatalf("after %s=%v: %d ready, want %d", step.name, step.ready, r.n, step.want)
		}
	}
}

func TestRateFiguresDropTheEdgesAndFindTheBusiestSecond(t *testing.T) {
	// 10 requests a second for 10 s, and 5 more in one burst at 4.5 s.
	t0 := time.Unix(1000, 0)
	var at []time.Time
	for i := range 100 {
		at = append(at, t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	for range 5 {
		at = append(at, t0.Add(4500*time.Millisecond))
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	f := rateOf(at, time.Second)
	if f.Span != 9900*time.Millisecond || f.LongestGap != 100*time.Millisecond {
		t.Fatalf("span %s, longest gap %s", f.Span, f.LongestGap)
	}
	// From 1.0 s to 8.9 s: 80 paced requests and the burst, over 7.9 s.
	if want := 85 / 7.9; math.Abs(f.Steady-want) > 1e-9 {
		t.Fatalf("steady %g, want %g", f.Steady, want)
	}
	// The first second that holds the burst and ten paced requests.
	if f.MaxInSecond != 15 || f.PeakAt != 3600*time.Millisecond {
		t.Fatalf("busiest second %d at %s, want 15 at 3.6s", f.MaxInSecond, f.PeakAt)
	}
	if e := rateOf(nil, time.Second); e.Steady != 0 || e.MaxInSecond != 0 {
		t.Fatal("no requests must give 0")
	}
}

func TestMetricSumAddsTheMatchingSeriesOnly(t *testing.T) {
	text := `# HELP hookgate_target_held_total Events handed back unsent.
# TYPE hookgate_target_held_total counter
hookgate_target_held_total{endpoint="bench/protect-circuit",reason="open",target="sink"} 412
hookgate_target_held_total{endpoint="bench/protect-circuit",reason="probing",target="sink"} 17
hookgate_target_held_total{endpoint="bench/other",reason="open",target="sink"} 5
hookgate_target_held_total_extra{endpoint="bench/protect-circuit"} 1000
`
	got, err := metricSum(strings.NewReader(text), "hookgate_target_held_total", map[string]string{"endpoint": "bench/protect-circuit"})
	if err != nil || got != 429 {
		t.Fatalf("got %g, %v; want 429", got, err)
	}
	got, err = metricSum(strings.NewReader(text), "hookgate_target_held_total", map[string]string{"endpoint": "bench/protect-circuit", "reason": "open"})
	if err != nil || got != 412 {
		t.Fatalf("got %g, %v; want 412", got, err)
	}
}

func TestARangeCheckFailsOutsideItsBounds(t *testing.T) {
	r := &report{}
	r.checkRange("rate", 90, 110, 110)
	if !r.OK() {
		t.Fatal("a value at the bound must pass")
	}
	r.checkRange("rate", 90, 110, 89)
	if f := r.failures(); len(f) != 1 || !strings.Contains(f[0], "want 90 to 110, got 89") {
		t.Fatalf("failures %v", f)
	}
}

func TestAFailingSinkPortCountsRequestsButNoDeliveries(t *testing.T) {
	wl, err := newWorkload(minBodyBytes + 64)
	if err != nil {
		t.Fatal(err)
	}
	s, err := startSink(wl)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	p, err := s.addPort(http.StatusBadGateway)
	if err != nil {
		t.Fatal(err)
	}
	tag := wl.nextTag()
	s.timeRun(tag)
	send := func(want int) {
		t.Helper()
		req, err := wl.request(t.Context(), "http://127.0.0.1:"+strconv.Itoa(p.port)+sinkPath, "x")
		if err != nil {
			t.Fatal(err)
		}
		// As the dispatcher sends it: the delivery id the target sees.
		req.Header.Set(dispatch.HeaderDeliveryID, benchHookID+":"+deliveryID(tag, 0, 1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("answered %d, want %d", resp.StatusCode, want)
		}
	}
	send(http.StatusBadGateway)
	if c := s.counts(tag); c.Distinct != 0 || len(s.arrivals(tag)) != 1 {
		t.Fatalf("after a 502: %+v, %d arrivals", c, len(s.arrivals(tag)))
	}
	p.setStatus(http.StatusNoContent)
	send(http.StatusNoContent)
	send(http.StatusNoContent)
	if c := s.counts(tag); c.Distinct != 1 || c.Repeats != 1 || len(s.arrivals(tag)) != 3 {
		t.Fatalf("after healing: %+v, %d arrivals", c, len(s.arrivals(tag)))
	}
}
