// Command bench measures how fast the receiver ingests signed GitHub
// webhooks, end to end through its real HTTP handler and a durable enqueue
// into an embedded JetStream, and puts the figures next to a bare net/http
// handler driven by the same load. The bare run is the ceiling this machine,
// this load generator and net/http allow, so the ratio isolates what
// verification, storage and bookkeeping cost.
//
// The load generator runs in the same process and on the same CPUs as the
// server, so absolute figures are lower bounds of what a dedicated receiver
// reaches; the ratio is the figure to compare across commits. Anything else
// busy on the machine skews both, the bare run the most: rerun on a quiet
// machine before trusting a change of a few percent.
//
// Run it with `make bench` or `go run ./test/bench -h` for the flags. It
// exits non-zero when any request failed or answered non-2xx, or when the
// number of stored events does not match the number of accepted requests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	ingserver "github.com/hookgate/hookgate/ingress/server"
	"github.com/hookgate/hookgate/internal/queue"
)

// config is the parsed command line.
type config struct {
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	bodyBytes   int
	syncAlways  bool
	jsonOut     bool
	logMode     string
	storeDir    string
}

// Log modes for the receiver's handler.
const (
	logJSON = "json"
	logNone = "none"
)

// minBodyBytes is the smallest body makeBody can still shape as JSON.
const minBodyBytes = 8

// maxBodyBytes mirrors the receiver's --max-body-bytes bound: bodies must
// leave room for headers inside one NATS message.
const maxBodyBytes = queue.MaxPayload - (256 << 10)

func main() { os.Exit(run()) }

// run returns the exit code so that deferred clean-up (JetStream shutdown,
// temp store removal) happens before the process exits.
func run() int {
	var cfg config
	flag.IntVar(&cfg.concurrency, "c", 32, "concurrent workers, each keeping one request in flight (closed loop)")
	flag.DurationVar(&cfg.duration, "d", 10*time.Second, "measured duration of each run")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "load applied before measuring, to open connections and reach steady state")
	flag.IntVar(&cfg.bodyBytes, "body-bytes", 1024, "size of each webhook body in bytes")
	flag.BoolVar(&cfg.syncAlways, "sync-always", false, "make JetStream fsync every write before acknowledging it, like the receiver's --jetstream-sync-always")
	flag.BoolVar(&cfg.jsonOut, "json", false, "also print the results as one JSON object on the last line of stdout")
	flag.StringVar(&cfg.logMode, "log", logJSON, "receiver request log: json (the production logger, written to io.Discard) or none")
	flag.StringVar(&cfg.storeDir, "store-dir", os.TempDir(), "parent of the temporary JetStream store; put it on the disk you want to measure (tmpfs makes -sync-always meaningless)")
	flag.Parse()
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	wl, err := newWorkload(cfg.bodyBytes)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}

	// The bare run goes first so that the JetStream heap and goroutines of
	// the receiver run cannot slow it down.
	progress("bare net/http handler: %d workers, %s warm-up + %s", cfg.concurrency, cfg.warmup, cfg.duration)
	bare, err := runBare(ctx, cfg, wl)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: bare run:", err)
		return 1
	}
	runtime.GC()

	progress("receiver (verify + JetStream enqueue): %d workers, %s warm-up + %s", cfg.concurrency, cfg.warmup, cfg.duration)
	recv, check, err := runReceiver(ctx, cfg, wl)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: receiver run:", err)
		return 1
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		return 1
	}

	rep := newReport(cfg, recv, bare, check)
	rep.printTable(os.Stdout)
	if cfg.jsonOut {
		if err := rep.printJSON(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}

	failed := false
	for _, r := range []*runResult{recv, bare} {
		if r.Errors > 0 || r.Non2xx > 0 {
			fmt.Fprintf(os.Stderr, "bench: %s run had %d errors and %d non-2xx answers; first: %s\n", r.Target, r.Errors, r.Non2xx, r.FirstFailure)
			failed = true
		}
		if r.Samples() == 0 {
			fmt.Fprintf(os.Stderr, "bench: %s run completed no request inside the measured window\n", r.Target)
			failed = true
		}
	}
	if !check.OK() {
		fmt.Fprintf(os.Stderr, "bench: sanity check failed: %d events stored, %d requests accepted\n", check.Stored, check.Accepted)
		failed = true
	}
	if failed {
		return 1
	}
	return 0
}

func (c *config) validate() error {
	switch {
	case flag.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	case c.concurrency < 1:
		return errors.New("-c must be at least 1")
	case c.duration <= 0:
		return errors.New("-d must be positive")
	case c.warmup < 0:
		return errors.New("-warmup must not be negative")
	case c.bodyBytes < minBodyBytes || c.bodyBytes > maxBodyBytes:
		return fmt.Errorf("-body-bytes must be between %d and %d", minBodyBytes, maxBodyBytes)
	case c.logMode != logJSON && c.logMode != logNone:
		return fmt.Errorf("-log must be %q or %q", logJSON, logNone)
	}
	return nil
}

// endpointMaxBody is the body limit the endpoint gets: the receiver's
// default, raised when the benchmark sends more, as an operator would raise
// --max-body-bytes.
func (c *config) endpointMaxBody() int64 {
	return max(int64(ingserver.DefaultMaxBodyBytes), int64(c.bodyBytes))
}

// progress goes to stderr so that stdout holds only the results.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
