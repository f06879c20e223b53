package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Sections of the ingest rows.
const (
	sectionIngest     = "ingest"
	sectionSyncAlways = "sync-always"
)

// report is everything printed, in the shape of the -json output.
type report struct {
	Settings settings      `json:"settings"`
	Ingest   []ingestRow   `json:"ingest"`
	Pooled   []ingestRow   `json:"pooled"`
	Ratios   []ratioRow    `json:"ratios"`
	Delivery []deliveryRow `json:"delivery"`
	Scale    []scaleRow    `json:"endpoints"`
	Protect  *protectRow   `json:"protect,omitempty"`
	Checks   []checkRow    `json:"checks"`
	Failures []string      `json:"failures,omitempty"`
	Passed   bool          `json:"ok"`

	results []*runResult // beside Ingest, for pooling
}

type settings struct {
	Concurrency []int   `json:"concurrency"`
	Rounds      int     `json:"rounds"`
	DurationS   float64 `json:"durationSeconds"`
	WarmupS     float64 `json:"warmupSeconds"`
	BodyBytes   int     `json:"bodyBytes"`
	NumCPU      int     `json:"numCPU"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	GoVersion   string  `json:"goVersion"`
	OS          string  `json:"os"`
	Arch        string  `json:"arch"`
	StoreDir    string  `json:"storeDir"`
	IdleS       float64 `json:"idleSeconds"`
	SettleS     float64 `json:"settleSeconds"`
	Started     string  `json:"started"`
}

// ingestRow is one program under load, or several rounds of it pooled.
// Times are in microseconds, which read best for loopback requests.
type ingestRow struct {
	Section     string `json:"section"`
	Round       int    `json:"round,omitempty"` // 0 when pooled
	Concurrency int    `json:"concurrency"`
	Program     string `json:"program"`
	// Fsync is "off", "always", or "-" for bare, which stores nothing.
	Fsync        string  `json:"fsync"`
	ReqPerSec    float64 `json:"reqPerSec"`
	P50us        float64 `json:"p50Micros"`
	P99us        float64 `json:"p99Micros"`
	MaxUs        float64 `json:"maxMicros"`
	CPUPerReqUs  float64 `json:"cpuPerReqMicros"`
	MgrCPUPerReq float64 `json:"managerCpuPerReqMicros,omitempty"`
	LoadCPUPerRq float64 `json:"loadgenCpuPerReqMicros"`
	Measured     int     `json:"measured"`
	OK           int64   `json:"ok"`
	Non2xx       int64   `json:"non2xx"`
	Errors       int64   `json:"errors"`
	Stored       *int64  `json:"stored,omitempty"`
	FirstFailure string  `json:"firstFailure,omitempty"`
}

// ratioRow sets the receiver against floor and bare at one concurrency.
type ratioRow struct {
	Section           string  `json:"section"`
	Concurrency       int     `json:"concurrency"`
	Fsync             string  `json:"fsync"`
	ReqPerSecVsFloor  float64 `json:"reqPerSecReceiverOverFloor"`
	CPUPerReqVsFloor  float64 `json:"cpuPerReqReceiverOverFloor"`
	P99VsFloor        float64 `json:"p99ReceiverOverFloor"`
	ReqPerSecVsBare   float64 `json:"reqPerSecReceiverOverBare,omitempty"`
	FloorReqPerSecVsB float64 `json:"reqPerSecFloorOverBare,omitempty"`
}

// deliveryRow is one delivery phase against the local target.
type deliveryRow struct {
	Phase       string  `json:"phase"`
	Fsync       string  `json:"fsync"`
	Concurrency int     `json:"concurrency"`
	ReqPerSec   float64 `json:"ingestReqPerSec"`
	P50us       float64 `json:"ingestP50Micros"`
	P99us       float64 `json:"ingestP99Micros"`
	CPUPerReqUs float64 `json:"ingestCpuPerReqMicros"`
	OK          int64   `json:"ok"`
	Non2xx      int64   `json:"non2xx"`
	Errors      int64   `json:"errors"`
	Stored      *int64  `json:"storedWhileSuspended,omitempty"`
	Delivered   int64   `json:"deliveredDistinct"`
	Repeats     int64   `json:"deliveredRepeats"`
	// DeliveredPerSec: for the drain, first to last delivery; with ingest,
	// deliveries inside the ingest window.
	DeliveredPerSec       float64 `json:"deliveredPerSec"`
	ResumeToFirstMs       float64 `json:"resumeToFirstDeliveryMillis,omitempty"`
	DeliveryCPUPerEventUs float64 `json:"drainCpuPerEventMicros,omitempty"`
	TailMs                float64 `json:"drainAfterLoadMillis,omitempty"`
	FirstFailure          string  `json:"firstFailure,omitempty"`
}

// scaleRow is the system with N endpoints; N 0 is the reading before.
type scaleRow struct {
	N                  int     `json:"n"`
	Created            int     `json:"created"`
	Fsync              string  `json:"fsync"`
	CreateS            float64 `json:"createSeconds"`
	ConvergeS          float64 `json:"convergeSeconds"`
	ReceiverRSS        int64   `json:"receiverRssBytes"`
	ManagerRSS         int64   `json:"managerRssBytes"`
	ReceiverIdleCPUPct float64 `json:"receiverIdleCpuPercent"`
	ManagerIdleCPUPct  float64 `json:"managerIdleCpuPercent"`
	ProbeP50Ms         float64 `json:"eventToDeliveredP50Millis,omitempty"`
	ProbeMaxMs         float64 `json:"eventToDeliveredMaxMillis,omitempty"`
}

// protectRow is target protection with two receiver replicas (protect.go).
type protectRow struct {
	Replicas int              `json:"replicas"`
	Rate     *protectRateRow  `json:"rateLimit,omitempty"`
	Circuit  *protectBreakRow `json:"circuit,omitempty"`
}

// protectRateRow is a backlog drained to a target with a rate limit.
type protectRateRow struct {
	LimitPerSec int   `json:"limitPerSec"`
	Events      int   `json:"events"`
	Requests    int   `json:"requests"`
	Delivered   int64 `json:"deliveredDistinct"`
	Repeats     int64 `json:"deliveredRepeats"`
	// SteadyPerSec is the requests from a second after the first to a
	// second before the last, per second; MaxInOneSecond the most in any
	// sliding second.
	SteadyPerSec   float64 `json:"steadyPerSec"`
	MaxInOneSecond int     `json:"maxInAnySecond"`
	// PeakAtS is where that second starts, after the first request;
	// LongestGapMs the longest time between two requests.
	PeakAtS         float64 `json:"peakAtSeconds"`
	LongestGapMs    float64 `json:"longestGapMillis"`
	DrainS          float64 `json:"firstToLastSeconds"`
	ResumeToFirstMs float64 `json:"resumeToFirstMillis"`
	// PerReplica is each replica's deliveries
	// (hookgate_dispatch_attempts_total{outcome="delivered"}).
	PerReplica []int64 `json:"deliveredPerReplica,omitempty"`
}

// protectBreakRow is a failing target behind a circuit breaker.
type protectBreakRow struct {
	Events              int     `json:"events"`
	Status              int     `json:"failingStatus"`
	ConsecutiveFailures int     `json:"consecutiveFailures"`
	OpenForS            float64 `json:"openForSeconds"`
	ResumeToOpenMs      float64 `json:"resumeToOpenMillis"`
	StatusLagMs         float64 `json:"openToStatusOpenMillis"`
	// Requests the failing target received before the circuit opened, and
	// from then to the window's start.
	RequestsBeforeOpen   int `json:"requestsBeforeOpen"`
	RequestsOpenToWindow int `json:"requestsOpenToWindow"`
	// In the window: requests (probes), the retries counter's increase, the
	// most probes allowed, events handed back unsent (both replicas'
	// hookgate_target_held_total; -1 when unread).
	WindowS         float64 `json:"windowSeconds"`
	RequestsInWin   int     `json:"requestsInWindow"`
	RetriesInWin    int64   `json:"retriesInWindow"`
	ProbesAllowed   int     `json:"probesAllowed"`
	HeldInWin       int64   `json:"heldInWindow"`
	HealToAllMs     float64 `json:"healedToAllDeliveredMillis"`
	Delivered       int64   `json:"deliveredDistinct"`
	Repeats         int64   `json:"deliveredRepeats"`
	RequestsInTotal int     `json:"requests"`
}

// checkRow is one count the benchmark compared: equal to Want, or with
// WantMax between Want and WantMax.
type checkRow struct {
	Name    string `json:"name"`
	Want    int64  `json:"want"`
	WantMax *int64 `json:"wantMax,omitempty"`
	Got     int64  `json:"got"`
	OK      bool   `json:"ok"`
}

func newReport(cfg *config) *report {
	return &report{Settings: settings{
		Concurrency: cfg.concurrency,
		Rounds:      cfg.rounds,
		DurationS:   cfg.duration.Seconds(),
		WarmupS:     cfg.warmup.Seconds(),
		BodyBytes:   cfg.bodyBytes,
		NumCPU:      runtime.NumCPU(),
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
		GoVersion:   runtime.Version(),
		OS:          runtime.GOOS,
		Arch:        runtime.GOARCH,
		StoreDir:    cfg.storeDir,
		IdleS:       cfg.idle.Seconds(),
		SettleS:     cfg.settle.Seconds(),
		Started:     time.Now().UTC().Format(time.RFC3339),
	}}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *report) check(name string, want, got int64) {
	r.Checks = append(r.Checks, checkRow{Name: name, Want: want, Got: got, OK: want == got})
}

// checkRange checks lo <= got <= hi.
func (r *report) checkRange(name string, lo, hi, got int64) {
	r.Checks = append(r.Checks, checkRow{Name: name, Want: lo, WantMax: &hi, Got: got, OK: lo <= got && got <= hi})
}

func (r *report) fail(msg string) { r.Failures = append(r.Failures, msg) }

// OK reports whether every check passed and nothing failed.
func (r *report) OK() bool {
	r.Passed = len(r.failures()) == 0
	return r.Passed
}

func (r *report) failures() []string {
	out := slices.Clone(r.Failures)
	for _, c := range r.Checks {
		switch {
		case c.OK:
		case c.WantMax != nil:
			out = append(out, fmt.Sprintf("%s: want %d to %d, got %d", c.Name, c.Want, *c.WantMax, c.Got))
		default:
			out = append(out, fmt.Sprintf("%s: want %d, got %d", c.Name, c.Want, c.Got))
		}
	}
	return out
}

// loadFailures records what a run got wrong: failed or non-2xx requests,
// no request measured, an unreadable CPU time.
func (r *report) loadFailures(what string, res *runResult) {
	if res.Errors > 0 || res.Non2xx > 0 {
		r.fail(fmt.Sprintf("%s: %d errors and %d non-2xx answers; first: %s", what, res.Errors, res.Non2xx, res.FirstFailure))
	}
	if res.Samples() == 0 {
		r.fail(what + ": no request completed inside the measured window")
	}
	if res.CPUErr != nil {
		r.fail(fmt.Sprintf("%s: reading CPU time: %v", what, res.CPUErr))
	}
}

// fill sets the figures of one run.
func (row *ingestRow) fill(res *runResult) {
	row.ReqPerSec = res.ReqPerSec()
	row.P50us, row.P99us, row.MaxUs = us(res.Percentile(50)), us(res.Percentile(99)), us(res.Max())
	row.CPUPerReqUs = us(res.CPUPerReq(row.Program))
	row.MgrCPUPerReq = us(res.CPUPerReq("manager"))
	if n := res.Samples(); n > 0 {
		row.LoadCPUPerRq = us(res.LoadCPU / time.Duration(n))
	}
	row.Measured, row.OK, row.Non2xx, row.Errors, row.FirstFailure = res.Samples(), res.OK, res.Non2xx, res.Errors, res.FirstFailure
}

func (row *deliveryRow) fillIngest(res *runResult) {
	row.ReqPerSec = res.ReqPerSec()
	row.P50us, row.P99us = us(res.Percentile(50)), us(res.Percentile(99))
	row.CPUPerReqUs = us(res.CPUPerReq(progReceiver))
	row.OK, row.Non2xx, row.Errors, row.FirstFailure = res.OK, res.Non2xx, res.Errors, res.FirstFailure
}

func (r *report) addIngest(row ingestRow, res *runResult) {
	r.Ingest = append(r.Ingest, row)
	r.results = append(r.results, res)
	r.loadFailures(fmt.Sprintf("%s %s c%d round %d (fsync %s)", row.Section, row.Program, row.Concurrency, row.Round, row.Fsync), res)
}

func (r *report) addDelivery(row deliveryRow) {
	r.Delivery = append(r.Delivery, row)
	if row.Errors > 0 || row.Non2xx > 0 {
		r.fail(fmt.Sprintf("delivery %q: %d errors and %d non-2xx answers; first: %s", row.Phase, row.Errors, row.Non2xx, row.FirstFailure))
	}
}

func (r *report) addScale(row scaleRow) { r.Scale = append(r.Scale, row) }

// pool merges the rounds of each section, concurrency and program:
// throughput over the summed windows, percentiles over all latencies, CPU
// over all requests.
func (r *report) pool() {
	type key struct {
		section string
		c       int
		prog    string
	}
	var order []key
	groups := map[key][]int{}
	for i, row := range r.Ingest {
		k := key{row.Section, row.Concurrency, row.Program}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	r.Pooled = nil
	for _, k := range order {
		merged := &runResult{Program: k.prog}
		var cpu, mgr time.Duration
		var stored *int64
		for _, i := range groups[k] {
			res, row := r.results[i], r.Ingest[i]
			merged.Window += res.Window
			merged.latencies = append(merged.latencies, res.latencies...)
			merged.OK += res.OK
			merged.Non2xx += res.Non2xx
			merged.Errors += res.Errors
			merged.LoadCPU += res.LoadCPU
			for _, c := range res.CPU {
				switch c.Name {
				case k.prog:
					cpu += c.CPU
				case "manager":
					mgr += c.CPU
				}
			}
			if row.Stored != nil {
				s := *row.Stored
				if stored != nil {
					s += *stored
				}
				stored = &s
			}
		}
		slices.Sort(merged.latencies)
		merged.CPU = []procCPUUse{{Name: k.prog, CPU: cpu}, {Name: "manager", CPU: mgr}}
		row := ingestRow{Section: k.section, Concurrency: k.c, Program: k.prog, Fsync: r.Ingest[groups[k][0]].Fsync}
		row.fill(merged)
		row.Stored = stored
		r.Pooled = append(r.Pooled, row)
	}

	r.Ratios = nil
	find := func(section string, c int, prog string) *ingestRow {
		for i := range r.Pooled {
			if p := &r.Pooled[i]; p.Section == section && p.Concurrency == c && p.Program == prog {
				return p
			}
		}
		return nil
	}
	for _, p := range r.Pooled {
		if p.Program != progReceiver {
			continue
		}
		floor := find(p.Section, p.Concurrency, progFloor)
		if floor == nil {
			continue
		}
		rr := ratioRow{Section: p.Section, Concurrency: p.Concurrency, Fsync: p.Fsync,
			ReqPerSecVsFloor: ratio(p.ReqPerSec, floor.ReqPerSec),
			CPUPerReqVsFloor: ratio(p.CPUPerReqUs, floor.CPUPerReqUs),
			P99VsFloor:       ratio(p.P99us, floor.P99us),
		}
		if bare := find(sectionIngest, p.Concurrency, progBare); bare != nil {
			rr.ReqPerSecVsBare = ratio(p.ReqPerSec, bare.ReqPerSec)
			rr.FloorReqPerSecVsB = ratio(floor.ReqPerSec, bare.ReqPerSec)
		}
		r.Ratios = append(r.Ratios, rr)
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// table writes right-aligned columns; the first column is padded so that
// it reads left to right.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, title string, header ...string) *table {
	fmt.Fprintf(w, "\n%s\n", title)
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t")+"\t")
}

func (t *table) flush() { _ = t.tw.Flush() }

func f0(v float64) string { return fmt.Sprintf("%.0f", v) }
func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }
func f3(v float64) string { return fmt.Sprintf("%.3f", v) }
func n(v int64) string    { return fmt.Sprint(v) }

// msOf formats microseconds as milliseconds.
func msOf(us float64) string { return fmt.Sprintf("%.3f", us/1000) }

func storedCell(s *int64) string {
	if s == nil {
		return "-"
	}
	return n(*s)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func (r *report) printTables(w io.Writer) {
	r.pool()
	s := r.Settings
	concs := make([]string, len(s.Concurrency))
	for i, c := range s.Concurrency {
		concs[i] = fmt.Sprintf("c%d", c)
	}
	fmt.Fprintln(w, "hookgate data-plane benchmark")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  workload\tsigned GitHub push (X-Hub-Signature-256), %d-byte body, a new delivery id per request; closed loop, keep-alive, loopback\n", s.BodyBytes)
	fmt.Fprintf(tw, "  runs\t%d rounds, each %s x bare, floor, receiver, interleaved; %gs warm-up + %gs measured per run\n", s.Rounds, strings.Join(concs, ", "), s.WarmupS, s.DurationS)
	fmt.Fprintf(tw, "  programs\tbare: net/http + GitHub verify; floor: bare + 1 sync JetStream publish (Nats-Msg-Id, file store); receiver: hookgate receiver, endpoint suspended (ingest only)\n")
	fmt.Fprintf(tw, "  CPU\tutime+stime of the measured process (/proc/<pid>/stat, 10 ms ticks) per 2xx in the window; the load generator is this process and not counted\n")
	fmt.Fprintf(tw, "  fsync\toff: JetStream's default, acknowledged from the page cache, synced every 2m; always: fsynced before every acknowledgement\n")
	fmt.Fprintf(tw, "  machine\t%d CPUs, GOMAXPROCS %d, %s %s/%s, store under %s\n", s.NumCPU, s.GOMAXPROCS, s.GoVersion, s.OS, s.Arch, s.StoreDir)
	_ = tw.Flush()

	ingestHeader := []string{"round", "c", "program ", "fsync ", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "stored", "2xx", "non-2xx", "errors", "manager CPU µs/req"}
	printRuns := func(title, section string, rows []ingestRow, pooled bool) {
		var any bool
		for _, row := range rows {
			any = any || row.Section == section
		}
		if !any {
			return
		}
		t := newTable(w, title, ingestHeader...)
		for _, row := range rows {
			if row.Section != section {
				continue
			}
			round, mgr := fmt.Sprint(row.Round), "-"
			if pooled {
				round = "all"
			}
			if row.Program == progReceiver {
				mgr = f1(row.MgrCPUPerReq)
			}
			t.row(round, fmt.Sprint(row.Concurrency), fmt.Sprintf("%-9s", row.Program), fmt.Sprintf("%-7s", row.Fsync),
				f0(row.ReqPerSec), msOf(row.P50us), msOf(row.P99us), f1(row.CPUPerReqUs), storedCell(row.Stored),
				n(row.OK), n(row.Non2xx), n(row.Errors), mgr)
		}
		t.flush()
	}
	printRuns("ingest, per run", sectionIngest, r.Ingest, false)
	printRuns("ingest, rounds pooled", sectionIngest, r.Pooled, true)
	printRuns("ingest with --jetstream-sync-always, per run", sectionSyncAlways, r.Ingest, false)
	printRuns("ingest with --jetstream-sync-always, rounds pooled", sectionSyncAlways, r.Pooled, true)

	if len(r.Ratios) > 0 {
		t := newTable(w, "ratios (rounds pooled; bare is the fsync-independent ingest run)",
			"section     ", "c", "fsync ", "receiver/floor req/s", "receiver/floor CPU/req", "receiver/floor p99", "receiver/bare req/s", "floor/bare req/s")
		for _, q := range r.Ratios {
			t.row(fmt.Sprintf("%-12s", q.Section), fmt.Sprint(q.Concurrency), fmt.Sprintf("%-7s", q.Fsync),
				f3(q.ReqPerSecVsFloor), f3(q.CPUPerReqVsFloor), f2(q.P99VsFloor), f3(q.ReqPerSecVsBare), f3(q.FloorReqPerSecVsB))
		}
		t.flush()
	}

	if len(r.Delivery) > 0 {
		t := newTable(w, "delivery to a local target (receiver, endpoint 'deliver')",
			"phase                         ", "c", "fsync ", "ingest req/s", "p99 ms", "CPU µs/req", "2xx", "stored", "delivered", "repeats", "delivered/s", "resume→first ms", "drain CPU µs/event", "tail ms")
		for _, d := range r.Delivery {
			opt := func(v float64, f func(float64) string) string {
				if v == 0 {
					return "-"
				}
				return f(v)
			}
			t.row(fmt.Sprintf("%-30s", d.Phase), fmt.Sprint(d.Concurrency), fmt.Sprintf("%-7s", d.Fsync), f0(d.ReqPerSec), msOf(d.P99us), f1(d.CPUPerReqUs),
				n(d.OK), storedCell(d.Stored), n(d.Delivered), n(d.Repeats), f0(d.DeliveredPerSec),
				opt(d.ResumeToFirstMs, f0), opt(d.DeliveryCPUPerEventUs, f1), opt(d.TailMs, f0))
		}
		t.flush()
		fmt.Fprintln(w, "  delivered/s: drain = distinct events from the first to the last delivery after resuming; together = distinct deliveries inside the ingest window")
		fmt.Fprintln(w, "  CPU µs/req: the receiver's, per 2xx in the ingest window (together: ingest and delivery); drain CPU: the receiver's from resuming to the last delivery, per event")
	}

	if len(r.Scale) > 0 {
		t := newTable(w, "N endpoints (cumulative; N 0 is before any)",
			"N", "created", "fsync ", "create s", "all Ready s", "receiver RSS", "manager RSS", "receiver idle CPU %", "manager idle CPU %", "event→delivered p50 ms", "max ms")
		for _, sr := range r.Scale {
			probe := func(v float64) string {
				if v == 0 {
					return "-"
				}
				return f1(v)
			}
			create, converge := "-", "-"
			if sr.N > 0 {
				create, converge = f1(sr.CreateS), f1(sr.ConvergeS)
			}
			t.row(fmt.Sprint(sr.N), fmt.Sprint(sr.Created), fmt.Sprintf("%-7s", sr.Fsync), create, converge,
				mib(sr.ReceiverRSS), mib(sr.ManagerRSS), f2(sr.ReceiverIdleCPUPct), f2(sr.ManagerIdleCPUPct), probe(sr.ProbeP50Ms), probe(sr.ProbeMaxMs))
		}
		t.flush()
		fmt.Fprintf(w, "  all Ready s: from the last create to every endpoint Ready, followed by a watch; idle CPU: %% of one core over %gs, %gs after all were Ready\n", r.Settings.IdleS, r.Settings.SettleS)
	}

	r.printProtect(w)

	failures := r.failures()
	passed := 0
	for _, c := range r.Checks {
		if c.OK {
			passed++
		}
	}
	fmt.Fprintf(w, "\nchecks: %d of %d counts match (stored and delivered = accepted; rates and probes within bounds)", passed, len(r.Checks))
	if len(failures) == 0 {
		fmt.Fprintln(w, "; OK")
	} else {
		fmt.Fprintf(w, "; %d FAILED\n", len(failures))
		for _, f := range failures {
			fmt.Fprintf(w, "  FAIL %s\n", f)
		}
	}
}

func (r *report) printJSON(w io.Writer) error {
	r.pool()
	r.OK()
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func (r *report) printProtect(w io.Writer) {
	p := r.Protect
	if p == nil {
		return
	}
	if q := p.Rate; q != nil {
		split := "-"
		if len(q.PerReplica) > 0 {
			parts := make([]string, len(q.PerReplica))
			for i, v := range q.PerReplica {
				parts[i] = n(v)
			}
			split = strings.Join(parts, " / ")
		}
		t := newTable(w, fmt.Sprintf("rate limit, %d receiver replicas (endpoint 'protect-rate', a suspended backlog resumed)", p.Replicas),
			"limit/s", "events", "requests", "delivered", "repeats", "steady req/s", "max in any 1 s", "at s", "longest gap ms", "per replica", "first→last s", "resume→first ms")
		t.row(fmt.Sprint(q.LimitPerSec), fmt.Sprint(q.Events), fmt.Sprint(q.Requests), n(q.Delivered), n(q.Repeats), f1(q.SteadyPerSec),
			fmt.Sprint(q.MaxInOneSecond), f1(q.PeakAtS), f0(q.LongestGapMs), split, f1(q.DrainS), f0(q.ResumeToFirstMs))
		t.flush()
		fmt.Fprintln(w, "  steady: requests at the target from 1 s after the first to 1 s before the last, per second; max: the most in any sliding second, starting 'at s' after the first request")
		fmt.Fprintln(w, "  longest gap: the target (this process) stalling bunches the requests after it, which raises max; per replica: each one's deliveries (hookgate_dispatch_attempts_total)")
	}
	if c := p.Circuit; c != nil {
		held := "-"
		if c.HeldInWin >= 0 {
			held = n(c.HeldInWin)
		}
		t := newTable(w, fmt.Sprintf("open circuit, %d receiver replicas (endpoint 'protect-circuit': target answers %d, circuit opens after %d failures, probed every %gs)",
			p.Replicas, c.Status, c.ConsecutiveFailures, c.OpenForS),
			"events", "resume→open ms", "open→status ms", "requests before open", "open→window", "window s", "requests in window", "probes allowed", "retries in window", "held in window", "healed→all ms", "delivered", "repeats")
		t.row(fmt.Sprint(c.Events), f0(c.ResumeToOpenMs), f0(c.StatusLagMs), fmt.Sprint(c.RequestsBeforeOpen), fmt.Sprint(c.RequestsOpenToWindow),
			f1(c.WindowS), fmt.Sprint(c.RequestsInWin), fmt.Sprint(c.ProbesAllowed), n(c.RetriesInWin), held, f0(c.HealToAllMs), n(c.Delivered), n(c.Repeats))
		t.flush()
		fmt.Fprintln(w, "  before open: attempts already admitted on both replicas when the first one tripped; in window: requests the failing target received (the probes) and the retries counter (status.deliveries.retries) over the same window")
		fmt.Fprintln(w, "  held: events handed back unsent while open or probing (hookgate_target_held_total, both replicas); healed→all: from the target answering 204 to every event delivered")
	}
}
