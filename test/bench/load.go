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
	"strings"
	"sync"
	"time"

	"github.com/hookgate/hookgate/ingress/verify"
)

// workload is what every worker sends: one signed body, and a fresh
// delivery id per request so that the receiver stores every request rather
// than answering it as a duplicate. GitHub signs only the body, so one
// signature serves every request and the client spends no time on HMACs.
type workload struct {
	body   []byte
	key    []byte
	header http.Header // everything but the delivery id
	runID  uint32      // keeps delivery ids of separate runs apart
}

func newWorkload(bodyBytes int) (*workload, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("seeding delivery ids: %w", err)
	}
	body := makeBody(bodyBytes)
	key := []byte(rand.Text())
	h := http.Header{}
	// The headers GitHub sends with a push delivery: they are stored with
	// the event, so they belong in the measured message size.
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/044aadd")
	h.Set("X-GitHub-Event", "push")
	h.Set(verify.GitHubHookIDHeader, "292430182")
	h.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
	h.Set("X-GitHub-Hook-Installation-Target-ID", "1296269")
	h.Set(verify.GitHubSignature256Header, verify.SignGitHub(body, key))
	return &workload{body: body, key: key, header: h, runID: binary.BigEndian.Uint32(b[:])}, nil
}

// deliveryID looks like GitHub's GUIDs and is unique per run, worker and
// sequence number.
func (wl *workload) deliveryID(worker int, seq uint64) string {
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", wl.runID, worker&0xffff, seq&0xffffffffffff)
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

// runResult is one target under load.
type runResult struct {
	Target string
	Window time.Duration
	// latencies of the 2xx answers that completed inside the measured
	// window, sorted.
	latencies []time.Duration
	// OK, Non2xx and Errors cover the whole run, warm-up and the requests
	// still in flight at the end included, because every 2xx the receiver
	// sent is an event it stored.
	OK, Non2xx, Errors int64
	FirstFailure       string
}

// Samples is the number of requests measured.
func (r *runResult) Samples() int { return len(r.latencies) }

// ReqPerSec is the rate of 2xx answers inside the measured window.
func (r *runResult) ReqPerSec() float64 {
	return float64(len(r.latencies)) / r.Window.Seconds()
}

// Percentile returns the nearest-rank percentile p (0 < p <= 100).
func (r *runResult) Percentile(p float64) time.Duration {
	n := len(r.latencies)
	if n == 0 {
		return 0
	}
	i := int(float64(n)*p/100+0.999999999) - 1
	return r.latencies[min(max(i, 0), n-1)]
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

// generate runs a closed loop against url: every worker sends a request,
// waits for the answer and sends the next, for warm-up plus duration. A
// request is measured when its answer arrives inside the window that starts
// after warm-up, so throughput is answers per second of steady state.
func generate(ctx context.Context, cfg config, wl *workload, target, url string) *runResult {
	client := newClient(cfg.concurrency)
	defer client.CloseIdleConnections()

	measureFrom := time.Now().Add(cfg.warmup)
	end := measureFrom.Add(cfg.duration)
	stats := make([]*workerStats, cfg.concurrency)
	var wg sync.WaitGroup
	for i := range stats {
		// Separate allocations keep the hot counters of two workers off
		// one cache line.
		st := &workerStats{latencies: make([]time.Duration, 0, initialSamples)}
		stats[i] = st
		wg.Go(func() { work(ctx, client, wl, url, i, st, measureFrom, end) })
	}
	wg.Wait()

	res := &runResult{Target: target, Window: cfg.duration}
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

func work(ctx context.Context, client *http.Client, wl *workload, url string, id int, st *workerStats, measureFrom, end time.Time) {
	fail := func(msg string) {
		if st.firstFailure == "" {
			st.firstFailure = msg
		}
	}
	for seq := uint64(0); ; seq++ {
		start := time.Now()
		if !start.Before(end) || ctx.Err() != nil {
			return
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(wl.body))
		if err != nil {
			st.errors++
			fail(err.Error())
			return
		}
		req.Header = wl.header.Clone()
		req.Header.Set(verify.GitHubDeliveryHeader, wl.deliveryID(id, seq))
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return // interrupted, not a failure of the target
			}
			st.errors++
			fail(err.Error())
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
