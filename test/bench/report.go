package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/hookgate/hookgate/internal/queue"
)

// report is everything printed, in the shape of the -json output.
type report struct {
	Settings settings   `json:"settings"`
	Receiver runSummary `json:"receiver"`
	Bare     runSummary `json:"bare"`
	Ratio    ratios     `json:"ratio"`
	Sanity   sanityJSON `json:"sanity"`
	cfg      config     // for the table's wording
}

type settings struct {
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"durationSeconds"`
	WarmupS     float64 `json:"warmupSeconds"`
	BodyBytes   int     `json:"bodyBytes"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	NumCPU      int     `json:"numCPU"`
	GoVersion   string  `json:"goVersion"`
	OS          string  `json:"os"`
	Arch        string  `json:"arch"`
	SyncAlways  bool    `json:"syncAlways"`
	Log         string  `json:"log"`
	StoreDir    string  `json:"storeDir"`
}

// runSummary holds latencies in microseconds, the unit that reads best for
// loopback requests.
type runSummary struct {
	ReqPerSec float64 `json:"reqPerSec"`
	P50us     float64 `json:"p50Micros"`
	P90us     float64 `json:"p90Micros"`
	P99us     float64 `json:"p99Micros"`
	MaxUs     float64 `json:"maxMicros"`
	Measured  int     `json:"measured"`
	OK        int64   `json:"ok"`
	Non2xx    int64   `json:"non2xx"`
	Errors    int64   `json:"errors"`
	Failure   string  `json:"firstFailure,omitempty"`
}

// ratios are receiver divided by bare: below 1 for throughput and above 1
// for latency is the receiver's overhead.
type ratios struct {
	ReqPerSec float64 `json:"reqPerSec"`
	P50       float64 `json:"p50"`
	P90       float64 `json:"p90"`
	P99       float64 `json:"p99"`
	Max       float64 `json:"max"`
}

type sanityJSON struct {
	StoredEvents uint64 `json:"storedEvents"`
	StoredBytes  uint64 `json:"storedBytes"`
	Accepted     int64  `json:"accepted"`
	OK           bool   `json:"ok"`
}

func newReport(cfg config, recv, bare *runResult, check sanityCheck) *report {
	r := &report{
		Settings: settings{
			Concurrency: cfg.concurrency,
			DurationS:   cfg.duration.Seconds(),
			WarmupS:     cfg.warmup.Seconds(),
			BodyBytes:   cfg.bodyBytes,
			GOMAXPROCS:  runtime.GOMAXPROCS(0),
			NumCPU:      runtime.NumCPU(),
			GoVersion:   runtime.Version(),
			OS:          runtime.GOOS,
			Arch:        runtime.GOARCH,
			SyncAlways:  cfg.syncAlways,
			Log:         cfg.logMode,
			StoreDir:    cfg.storeDir,
		},
		Receiver: summarize(recv),
		Bare:     summarize(bare),
		Sanity:   sanityJSON{StoredEvents: check.Stored, StoredBytes: check.StoredBytes, Accepted: check.Accepted, OK: check.OK()},
		cfg:      cfg,
	}
	r.Ratio = ratios{
		ReqPerSec: ratio(r.Receiver.ReqPerSec, r.Bare.ReqPerSec),
		P50:       ratio(r.Receiver.P50us, r.Bare.P50us),
		P90:       ratio(r.Receiver.P90us, r.Bare.P90us),
		P99:       ratio(r.Receiver.P99us, r.Bare.P99us),
		Max:       ratio(r.Receiver.MaxUs, r.Bare.MaxUs),
	}
	return r
}

func summarize(r *runResult) runSummary {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return runSummary{
		ReqPerSec: r.ReqPerSec(),
		P50us:     us(r.Percentile(50)),
		P90us:     us(r.Percentile(90)),
		P99us:     us(r.Percentile(99)),
		MaxUs:     us(r.Max()),
		Measured:  r.Samples(),
		OK:        r.OK,
		Non2xx:    r.Non2xx,
		Errors:    r.Errors,
		Failure:   r.FirstFailure,
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (r *report) printTable(w io.Writer) {
	s := r.Settings
	sync := "default (acknowledged from the page cache, fsync every 2m)"
	if s.SyncAlways {
		sync = "always (fsync before every acknowledgement)"
	}
	logMode := "json (production logger into io.Discard)"
	if s.Log == logNone {
		logMode = "none (logr.Discard)"
	}
	fmt.Fprintln(w, "hookgate ingest benchmark: signed GitHub webhooks, receiver vs bare net/http")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  concurrency\t%d workers, closed loop, keep-alive\n", s.Concurrency)
	fmt.Fprintf(tw, "  duration\t%s measured after %s warm-up, per target\n", r.cfg.duration, r.cfg.warmup)
	fmt.Fprintf(tw, "  body\t%d bytes\n", s.BodyBytes)
	fmt.Fprintf(tw, "  GOMAXPROCS\t%d (NumCPU %d)\n", s.GOMAXPROCS, s.NumCPU)
	fmt.Fprintf(tw, "  Go\t%s %s/%s\n", s.GoVersion, s.OS, s.Arch)
	fmt.Fprintf(tw, "  JetStream sync\t%s\n", sync)
	fmt.Fprintf(tw, "  JetStream store\t%s\n", s.StoreDir)
	fmt.Fprintf(tw, "  receiver log\t%s\n", logMode)
	_ = tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	// Right alignment suits the figures; padding the labels keeps them
	// reading left to right.
	row := func(label, rcv, bare, rat string) {
		fmt.Fprintf(tw, "%-17s\t%s\t%s\t%s\t\n", label, rcv, bare, rat)
	}
	rv, bv, q := r.Receiver, r.Bare, r.Ratio
	f := func(format string, v float64) string { return fmt.Sprintf(format, v) }
	n := func(v int64) string { return fmt.Sprint(v) }
	row("", "receiver", "bare", "receiver/bare")
	row("req/s", f("%.0f", rv.ReqPerSec), f("%.0f", bv.ReqPerSec), f("%.3f", q.ReqPerSec))
	row("p50", ms(rv.P50us), ms(bv.P50us), f("%.2f", q.P50))
	row("p90", ms(rv.P90us), ms(bv.P90us), f("%.2f", q.P90))
	row("p99", ms(rv.P99us), ms(bv.P99us), f("%.2f", q.P99))
	row("max", ms(rv.MaxUs), ms(bv.MaxUs), f("%.2f", q.Max))
	row("measured requests", n(int64(rv.Measured)), n(int64(bv.Measured)), "")
	row("2xx (whole run)", n(rv.OK), n(bv.OK), "")
	row("non-2xx", n(rv.Non2xx), n(bv.Non2xx), "")
	row("errors", n(rv.Errors), n(bv.Errors), "")
	_ = tw.Flush()
	fmt.Fprintln(w)

	verdict := "OK"
	if !r.Sanity.OK {
		verdict = "MISMATCH"
	}
	fmt.Fprintf(w, "sanity: %d events in %s (%.1f MiB) vs %d receiver 2xx answers: %s\n",
		r.Sanity.StoredEvents, queue.EventsStream, float64(r.Sanity.StoredBytes)/(1<<20), r.Sanity.Accepted, verdict)
}

func (r *report) printJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// ms formats microseconds as milliseconds with microsecond resolution.
func ms(us float64) string { return fmt.Sprintf("%.3f ms", us/1000) }
