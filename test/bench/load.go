package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookgate/hookgate/ingress/verify"
)

// workload is what every worker sends: one signed body, and a fresh
// delivery id per request so that the receiver stores every request rather
// than answering it as a duplicate. GitHub signs only the body, so one
// signature serves every request and the client spends no time on HMACs.
type workload struct {
	body      []byte
	key       []byte
	signature string
	header    http.Header // everything but the delivery id
	// tags keep the delivery ids of separate runs apart, also across
	// benchmark invocations against one store.
	tagBase uint32
	tags    atomic.Uint32
}

// benchHookID is the X-GitHub-Hook-ID sent: the receiver prefixes the
// delivery id with it ("<hook>:<delivery>"), which is the id the target sees.
const benchHookID = "292430182"

func newWorkload(bodyBytes int) (*workload, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("seeding delivery ids: %w", err)
	}
	body := makeBody(bodyBytes)
	key := []byte(rand.Text())
	sig := verify.SignGitHub(body, key)
	h := http.Header{}
	// The headers GitHub sends with a push delivery: they are stored with
	// the event, so they belong in the measured message size.
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/044aadd")
	h.Set("X-GitHub-Event", "push")
	h.Set(verify.GitHubHookIDHeader, benchHookID)
	h.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
	h.Set("X-GitHub-Hook-Installation-Target-ID", "1296269")
	h.Set(verify.GitHubSignature256Header, sig)
	return &workload{body: body, key: key, signature: sig, header: h, tagBase: binary.BigEndian.Uint32(b[:])}, nil
}

// nextTag returns a tag no earlier run of this workload used.
func (wl *workload) nextTag() uint32 { return wl.tagBase + wl.tags.Add(1) }

// deliveryID looks like GitHub's GUIDs and is unique per run tag, worker
// and sequence number. The tag leads, so the target can tell runs apart
// (see tagOf).
func deliveryID(tag uint32, worker int, seq uint64) string {
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", tag, worker&0xffff, seq&0xffffffffffff)
}

// tagOf returns the run tag of a delivery id as the target sees it
// ("<hook id>:<delivery id>").
func tagOf(id string) (uint32, bool) {
	_, d, _ := strings.Cut(id, ":")
	if len(d) < 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(d[:8], 16, 32)
	return uint32(n), err == nil
}

// request builds one signed delivery to url.
func (wl *workload) request(ctx context.Context, url, id string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(wl.body))
	if err != nil {
		return nil, err
	}
	req.Header = wl.header.Clone()
	req.Header.Set(verify.GitHubDeliveryHeader, id)
	return req, nil
}

// makeBody returns n bytes of JSON shaped like a small GitHub push event,
// padded with a filler field. Below the size of that event it falls back to
// a one-field object.
func makeBody(n int) []byte {
	const event = `{"ref":"refs/heads/main",` +
		`"before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246",` +
		`"after":"59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5",` +
		`"repository":{"id":1296269,"full_name":"octo-org/hello-world","private":false,"default_branch":"main"},` +
		`"pusher":{"name":"octocat","email":"octocat@github.com"},` +
		`"head_commit":{"id":"59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5","message":"Update README.md",` +
		`"timestamp":"2024-01-01T00:00:00Z","author":{"name":"Mona Octocat","username":"octocat"}},` +
		`"padding":"`
	prefix := event
	if n < len(event)+2 {
		prefix = `{"p":"`
	}
	var b bytes.Buffer
	b.Grow(n)
	b.WriteString(prefix)
	b.WriteString(strings.Repeat("x", n-len(prefix)-2))
	b.WriteString(`"}`)
	return b.Bytes()
}

// newClient returns a keep-alive client for one run. Every run gets its own
// transport (fresh connections) with the same settings, and the idle pool
// holds a connection for every worker so that no request pays for a dial
// once warm-up is over.
func newClient(workers int) *http.Client {
	tr := &http.Transport{
		// No Proxy: environment proxy settings must not reroute loopback.
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        workers,
		MaxIdleConnsPerHost: workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// loadSpec is one closed-loop run.
type loadSpec struct {
	concurrency      int
	warmup, duration time.Duration
	// maxRequests bounds the run's requests, whatever the duration.
	maxRequests int64
	url         string
	tag         uint32
	// meter reads the measured processes' CPU at the edges of the window.
	meter *cpuMeter
	// onWindow, when set, is called at the start and the end of the window.
	onWindow func(start bool)
}

// runResult is one program under load.
type runResult struct {
	Program string
	Window  time.Duration
	// latencies of the 2xx answers that completed inside the measured
	// window, sorted.
	latencies []time.Duration
	// OK, Non2xx and Errors cover the whole run, warm-up and the requests
	// still in flight at the end included, because every 2xx the receiver
	// sent is an event it stored.
	OK, Non2xx, Errors int64
	FirstFailure       string
	// CPU is what each measured process used inside the window; LoadCPU
	// is the load generator's (this process), reported, never counted.
	CPU     []procCPUUse
	LoadCPU time.Duration
	CPUErr  error
}

// Samples is the number of requests measured.
func (r *runResult) Samples() int { return len(r.latencies) }

// ReqPerSec is the rate of 2xx answers inside the measured window.
func (r *runResult) ReqPerSec() float64 {
	return float64(len(r.latencies)) / r.Window.Seconds()
}

// CPUPerReq is the CPU the named process spent per measured request.
func (r *runResult) CPUPerReq(name string) time.Duration {
	for _, c := range r.CPU {
		if c.Name == name && len(r.latencies) > 0 {
			return c.CPU / time.Duration(len(r.latencies))
		}
	}
	return 0
}

// Percentile returns the nearest-rank percentile p (0 < p <= 100).
func (r *runResult) Percentile(p float64) time.Duration { return percentile(r.latencies, p) }

func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	i := int(float64(n)*p/100+0.999999999) - 1
	return sorted[min(max(i, 0), n-1)]
}

// Max is the slowest measured request.
func (r *runResult) Max() time.Duration { return r.Percentile(100) }

// workerStats belongs to one worker, so recording takes no lock and no
// atomic; results are merged once every worker has stopped.
type workerStats struct {
	latencies          []time.Duration
	ok, non2xx, errors int64
	firstFailure       string
}

// initialSamples is each worker's preallocated latency capacity, enough for
// a few seconds of a fast target so that appends rarely copy during the
// measured window.
const initialSamples = 1 << 14

// generate runs a closed loop against spec.url: every worker sends a
// request, waits for the answer and sends the next, for warm-up plus
// duration. A request is measured when its answer arrives inside the window
// that starts after warm-up, so throughput is answers per second of steady
// state; the meter reads CPU at the same two instants.
func generate(ctx context.Context, spec loadSpec, wl *workload, program string) *runResult {
	client := newClient(spec.concurrency)
	defer client.CloseIdleConnections()

	measureFrom := time.Now().Add(spec.warmup)
	end := measureFrom.Add(spec.duration)
	meter := spec.meter
	if meter == nil {
		meter = newCPUMeter()
	}
	startDone, endDone := make(chan struct{}), make(chan struct{})
	edge := func(start bool) {
		if start {
			meter.markStart()
		} else {
			meter.markEnd()
		}
		if spec.onWindow != nil {
			spec.onWindow(start)
		}
	}
	startT := time.AfterFunc(time.Until(measureFrom), func() { edge(true); close(startDone) })
	endT := time.AfterFunc(time.Until(end), func() { edge(false); close(endDone) })

	perWorker := max(spec.maxRequests/int64(spec.concurrency), 1)
	stats := make([]*workerStats, spec.concurrency)
	var wg sync.WaitGroup
	for i := range stats {
		// Separate allocations keep the hot counters of two workers off
		// one cache line.
		st := &workerStats{latencies: make([]time.Duration, 0, initialSamples)}
		stats[i] = st
		wg.Go(func() { work(ctx, client, wl, spec, i, perWorker, st, measureFrom, end) })
	}
	wg.Wait()
	// A run cut short (interrupt, request bound) may end before the
	// window does: read the end mark now rather than never. A mark whose
	// timer fired may still be reading /proc: wait for it.
	if !startT.Stop() {
		<-startDone
	}
	if endT.Stop() {
		edge(false)
	} else {
		<-endDone
	}

	res := &runResult{Program: program, Window: spec.duration}
	res.CPU, res.LoadCPU, res.CPUErr = meter.result()
	total := 0
	for _, st := range stats {
		total += len(st.latencies)
	}
	res.latencies = make([]time.Duration, 0, total)
	for _, st := range stats {
		res.latencies = append(res.latencies, st.latencies...)
		res.OK += st.ok
		res.Non2xx += st.non2xx
		res.Errors += st.errors
		if res.FirstFailure == "" {
			res.FirstFailure = st.firstFailure
		}
	}
	slices.Sort(res.latencies)
	return res
}

func work(ctx context.Context, client *http.Client, wl *workload, spec loadSpec, id int, limit int64, st *workerStats, measureFrom, end time.Time) {
	fail := func(msg string) {
		if st.firstFailure == "" {
			st.firstFailure = msg
		}
	}
	for seq := uint64(0); seq < uint64(limit); seq++ {
		start := time.Now()
		if !start.Before(end) || ctx.Err() != nil {
			return
		}
		req, err := wl.request(ctx, spec.url, deliveryID(spec.tag, id, seq))
		if err != nil {
			st.errors++
			fail(err.Error())
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return // interrupted, not a failure of the target
			}
			st.errors++
			fail(err.Error())
			// A dead target refuses at once: do not spin.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		var snippet []byte
		if resp.StatusCode/100 != 2 {
			snippet, _ = io.ReadAll(io.LimitReader(resp.Body, 256))
		}
		// Reading to EOF lets the transport reuse the connection.
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done := time.Now()
		switch {
		case err != nil:
			st.errors++
			fail("reading response: " + err.Error())
		case resp.StatusCode/100 != 2:
			st.non2xx++
			fail(fmt.Sprintf("HTTP %d %s", resp.StatusCode, bytes.TrimSpace(snippet)))
		default:
			st.ok++
			if !done.Before(measureFrom) && done.Before(end) {
				st.latencies = append(st.latencies, done.Sub(start))
			}
		}
	}
}
