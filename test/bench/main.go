// Command bench measures Hookgate's data plane on this machine and puts
// every figure next to what the same work costs without Hookgate.
//
// Workload: signed GitHub push deliveries (2 KiB bodies, X-Hub-Signature-256)
// from closed-loop workers on loopback, every request a new delivery id.
// Three programs take the same load, each as its own process, so their CPU
// is read from /proc/<pid>/stat at the edges of the measured window and the
// load generator (this process) is left out:
//
//   - bare: net/http, the receiver's GitHub verifier, 200 (baseline.go);
//   - floor: bare plus one synchronous JetStream publish with a Nats-Msg-Id
//     into an embedded file-store JetStream, 200 after the ack;
//   - receiver: the real `hookgate receiver` with embedded JetStream,
//     with the real `hookgate manager` and kube-apiserver beside it.
//
// The runs are interleaved (for each round, for each concurrency: bare,
// floor, receiver), so drift on the machine spreads over all three. Bare
// and floor are started afresh for every run; the receiver keeps running,
// as in production, and its ingest endpoint is suspended (nothing but
// ingest runs) and purged after each run's counts are checked. Then
// delivery to a local target (drain rate of a suspended backlog, and ingest
// with delivery running), the same ingest with --jetstream-sync-always, N
// endpoints (convergence time, RSS, idle CPU, one event's latency), and
// last target protection with a second receiver replica (a rate limit
// held by both together, an open circuit costing no attempts; protect.go).
//
// Every figure carries the durability setting: fsync off is JetStream's
// default (acknowledged from the page cache, synced every 2 minutes),
// fsync always syncs each write before acknowledging it.
//
// Run it with `make bench` or `go run ./test/bench -h`. It exits non-zero
// when a request failed or answered non-2xx, or when the events stored or
// delivered do not match the requests accepted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// config is the parsed command line.
type config struct {
	concurrency  []int
	rounds       int
	duration     time.Duration
	warmup       time.Duration
	bodyBytes    int
	maxRequests  int64
	ingest       bool
	delivery     bool
	syncAlways   bool
	baseSync     bool
	endpoints    []int
	idle         time.Duration
	settle       time.Duration
	probes       int
	workers      int
	converge     time.Duration
	drainTimeout time.Duration
	jsonOut      bool
	storeDir     string
	keep         bool
	pprof        bool
	history      bool
	protect      protectConfig
}

// protectConfig is the target protection section's (protect.go).
type protectConfig struct {
	on bool
	// rps is the rate limit; the backlog is rps x drain events.
	rps   int
	drain time.Duration
	// events are sent to the failing target, window is how long what it
	// receives is counted while its circuit is open.
	events int
	window time.Duration
}

// minBodyBytes is the smallest body makeBody can still shape as JSON.
const minBodyBytes = 8

// maxBodyBytes is the receiver's default body limit, which the benchmark
// endpoints keep.
const maxBodyBytes = hookv1.DefaultMaxBodyBytes

func main() {
	if len(os.Args) > 1 && (os.Args[1] == childBare || os.Args[1] == childFloor) {
		os.Exit(runChild(os.Args[1], os.Args[2:]))
	}
	os.Exit(run())
}

// run returns the exit code so that deferred clean-up (processes, control
// plane, temp store) happens before the process exits.
func run() int {
	var cfg config
	var conc, eps string
	flag.StringVar(&conc, "c", "32,1", "concurrencies, comma-separated: workers each keeping one request in flight (closed loop)")
	flag.IntVar(&cfg.rounds, "rounds", 2, "rounds of the interleaved ingest runs")
	flag.DurationVar(&cfg.duration, "d", 8*time.Second, "measured duration of each run")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "load applied before measuring, to open connections and reach steady state")
	flag.IntVar(&cfg.bodyBytes, "body-bytes", 2048, "size of each webhook body in bytes")
	flag.Int64Var(&cfg.maxRequests, "max-requests", 5_000_000, "upper bound of requests in one run, whatever -d says")
	flag.BoolVar(&cfg.ingest, "ingest", true, "measure ingest: bare, floor and receiver, interleaved (-c, -rounds, -d)")
	flag.BoolVar(&cfg.delivery, "delivery", true, "measure delivery to a local target (drain of a suspended backlog, ingest with delivery)")
	flag.BoolVar(&cfg.syncAlways, "sync-always", true, "also run floor and receiver at the first -c with fsync always (--jetstream-sync-always)")
	flag.BoolVar(&cfg.baseSync, "base-sync-always", false, "fsync always in the main runs too, instead of JetStream's default")
	flag.StringVar(&eps, "endpoints", "1000", "N-endpoints figures for these N, comma-separated and cumulative (e.g. 1000,10000); empty or 0 skips them")
	flag.DurationVar(&cfg.idle, "idle", 30*time.Second, "window of the idle CPU reading with N endpoints")
	flag.DurationVar(&cfg.settle, "settle", time.Minute, "wait between all N endpoints Ready and the idle reading: the status writes and reloads that follow the last Ready take tens of seconds at 10,000 endpoints, and are not idle")
	flag.IntVar(&cfg.probes, "probes", 5, "events sent to random endpoints, one at a time, to time delivery with N endpoints")
	flag.IntVar(&cfg.workers, "create-workers", 16, "parallel API requests when creating N endpoints")
	flag.DurationVar(&cfg.converge, "converge-timeout", 30*time.Minute, "longest wait for N endpoints to become Ready")
	flag.DurationVar(&cfg.drainTimeout, "drain-timeout", 5*time.Minute, "longest wait for stored events to be delivered")
	flag.BoolVar(&cfg.jsonOut, "json", false, "also print the results as one JSON object on the last line of stdout")
	flag.StringVar(&cfg.storeDir, "store-dir", os.TempDir(), "parent of the work directory (JetStream stores, logs); put it on the disk you want to measure (tmpfs makes fsync meaningless)")
	flag.BoolVar(&cfg.history, "history", true, "receivers record the event history (--history); -history=false measures the receiver without it")
	flag.BoolVar(&cfg.pprof, "pprof", false, "serve the receiver's and the manager's Go profiles (/debug/pprof) on loopback ports, printed at start")
	flag.BoolVar(&cfg.protect.on, "protect", true, "measure target protection with a second receiver replica: a rate-limited target's arrivals from both, and what a failing target receives while its circuit is open")
	flag.IntVar(&cfg.protect.rps, "protect-rps", 100, "requestsPerSecond of the rate-limited target")
	flag.DurationVar(&cfg.protect.drain, "protect-drain", 20*time.Second, "the rate-limited backlog is -protect-rps times this many seconds of events")
	flag.IntVar(&cfg.protect.events, "protect-events", 200, "events sent to the failing target (rounded up to a multiple of 8)")
	flag.DurationVar(&cfg.protect.window, "protect-window", 20*time.Second, "window, after the circuit opened, in which the failing target's requests and the retries are counted")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (logs, stores) also after a successful run")
	flag.Parse()
	var err error
	if cfg.concurrency, err = parseInts(conc, 1); err == nil {
		cfg.endpoints, err = parseInts(eps, 0)
	}
	if err == nil {
		err = cfg.validate()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp(cfg.storeDir, "hookgate-bench-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	b, err := newBench(ctx, &cfg, work)
	if err == nil {
		err = b.runAll(ctx)
	}
	if b != nil {
		b.close()
		b.rep.printTables(os.Stdout)
		if cfg.jsonOut {
			if jerr := b.rep.printJSON(os.Stdout); jerr != nil && err == nil {
				err = jerr
			}
		}
	}
	failed := err != nil || b == nil || !b.rep.OK()
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench:", err)
	case failed:
		for _, f := range b.rep.failures() {
			fmt.Fprintln(os.Stderr, "bench: FAIL:", f)
		}
	}
	if failed || cfg.keep {
		fmt.Fprintf(os.Stderr, "bench: logs and stores kept in %s\n", work)
	} else if rerr := os.RemoveAll(work); rerr != nil {
		progress("removing %s: %v", work, rerr)
	}
	if failed {
		return 1
	}
	return 0
}

func parseInts(s string, minimum int) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < minimum {
			return nil, fmt.Errorf("%q: want integers of at least %d", s, minimum)
		}
		if n > 0 {
			out = append(out, n)
		}
	}
	return out, nil
}

func (c *config) validate() error {
	switch {
	case flag.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	case len(c.concurrency) == 0:
		return errors.New("-c needs at least one concurrency")
	case c.rounds < 1:
		return errors.New("-rounds must be at least 1")
	case c.duration <= 0:
		return errors.New("-d must be positive")
	case c.warmup < 0:
		return errors.New("-warmup must not be negative")
	case c.bodyBytes < minBodyBytes || c.bodyBytes > maxBodyBytes:
		return fmt.Errorf("-body-bytes must be between %d and %d", minBodyBytes, maxBodyBytes)
	case c.maxRequests < 1:
		return errors.New("-max-requests must be positive")
	case c.protect.on && (c.protect.rps < 1 || c.protect.rps > 10000):
		return errors.New("-protect-rps must be between 1 and 10000 (the API's bounds of requestsPerSecond)")
	case c.protect.on && (c.protect.drain < 4*time.Second || c.protect.events < 1 || c.protect.window < time.Second):
		return errors.New("-protect-drain must be at least 4s (a second is dropped at each end), -protect-events positive, -protect-window at least 1s")
	case c.idle <= 0 || c.settle < 0 || c.probes < 0 || c.workers < 1 || c.converge <= 0 || c.drainTimeout <= 0:
		return errors.New("-idle, -create-workers, -converge-timeout and -drain-timeout must be positive, -settle and -probes not negative")
	}
	for i := 1; i < len(c.endpoints); i++ {
		if c.endpoints[i] <= c.endpoints[i-1] {
			return errors.New("-endpoints must be ascending: the endpoints are created cumulatively")
		}
	}
	return nil
}

// bench is one benchmark invocation: the workload, the delivery target,
// the cluster and the report being filled.
type bench struct {
	cfg     *config
	work    string
	self    string // this binary, started again as the bare and floor programs
	wl      *workload
	sink    *sink
	cl      *cluster
	rep     *report
	ingest  endpoint // suspended: ingest only
	deliver endpoint // suspended and resumed by the delivery section
}

func newBench(ctx context.Context, cfg *config, work string) (*bench, error) {
	b := &bench{cfg: cfg, work: work, rep: newReport(cfg)}
	var err error
	if b.self, err = os.Executable(); err != nil {
		return b, err
	}
	if b.wl, err = newWorkload(cfg.bodyBytes); err != nil {
		return b, err
	}
	if b.sink, err = startSink(b.wl); err != nil {
		return b, err
	}
	if b.cl, err = startCluster(ctx, cfg, work, b.sink.port, b.wl.key); err != nil {
		return b, err
	}
	progress("creating the measured endpoints")
	if b.ingest, err = b.cl.createEndpoint(ctx, benchNS, "ingest", true); err != nil {
		return b, err
	}
	if b.deliver, err = b.cl.createEndpoint(ctx, benchNS, "deliver", true); err != nil {
		return b, err
	}
	return b, nil
}

func (b *bench) runAll(ctx context.Context) error {
	if b.cfg.ingest {
		if err := b.runIngest(ctx); err != nil {
			return err
		}
	}
	if b.cfg.delivery {
		if err := b.runDelivery(ctx); err != nil {
			return err
		}
	}
	if b.cfg.syncAlways && !b.cfg.baseSync {
		if err := b.runSyncAlways(ctx); err != nil {
			return err
		}
	}
	if len(b.cfg.endpoints) > 0 {
		if err := b.runScale(ctx); err != nil {
			return err
		}
	}
	// Last: it adds a receiver replica, which would split the work of
	// every section after it.
	if b.cfg.protect.on {
		if err := b.runProtect(ctx); err != nil {
			return err
		}
	}
	if foreign, corrupt := b.sink.strays(); foreign+corrupt > 0 {
		b.rep.check("target: deliveries not sent by the benchmark, or altered", 0, foreign+corrupt)
	}
	return nil
}

func (b *bench) close() {
	if b.cl != nil {
		b.cl.stop()
	}
	if b.sink != nil {
		b.sink.close()
	}
}

// fsyncLabel is the durability setting as every row prints it.
func fsyncLabel(always bool) string {
	if always {
		return "always"
	}
	return "off"
}

// progress goes to stderr so that stdout holds only the results.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// machine describes where the figures were taken.
func machine() string {
	return fmt.Sprintf("%d CPUs, GOMAXPROCS %d, %s %s/%s", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// logPath is a file in the work directory.
func (b *bench) logPath(name string) string { return filepath.Join(b.work, name+".log") }
