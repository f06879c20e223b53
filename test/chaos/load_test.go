package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookgate/hookgate/ingress/verify"
)

// backend is one receiver as the load balancer sees it.
type backend struct {
	name  string
	url   string
	probe string
	ready atomic.Bool
}

// balancer stands in for the Service in front of the receivers: round
// robin over the replicas whose readiness probe passes, as kube-proxy
// routes to ready endpoints only. Its probes are faster than a kubelet's,
// which only makes a receiver that says ready too early more visible.
type balancer struct {
	backends []*backend
	next     atomic.Uint64
	stop     chan struct{}
}

func newBalancer(bs []*backend) *balancer {
	b := &balancer{backends: bs, stop: make(chan struct{})}
	go b.probeLoop()
	return b
}

func (b *balancer) probeLoop() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		for _, be := range b.backends {
			be.ready.Store(httpStatus(be.probe) == http.StatusOK)
		}
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
	}
}

// pick returns the next ready backend; with none ready, the next one at
// all (the request then fails and the provider retries).
func (b *balancer) pick() *backend {
	n := uint64(len(b.backends))
	start := b.next.Add(1)
	for i := range n {
		if be := b.backends[(start+i)%n]; be.ready.Load() {
			return be
		}
	}
	return b.backends[start%n]
}

// loadSpec is what a provider sends.
type loadSpec struct {
	// events is how many distinct delivery ids are sent at most.
	events int
	// copies is how many times each id is sent as a fresh delivery
	// (1 normally; more for a duplicate storm), back to back so the
	// copies race each other through different receivers.
	copies int
	// rate is new sends per second.
	rate float64
	// concurrency is sends in flight at once.
	concurrency int
	// maxDuration stops starting new ids after this long.
	maxDuration time.Duration
	// A send is retried until 2xx, at most maxAttempts times and for
	// maxSendTime, with exponential backoff capped at maxRetryDelay (also
	// the cap on a Retry-After the provider honours).
	maxAttempts   int
	maxSendTime   time.Duration
	maxRetryDelay time.Duration
}

// load is a provider sending signed GitHub webhooks with unique delivery
// ids, retrying each on any non-2xx or connection error with the same id,
// as GitHub's redeliver and every provider's retry do.
type load struct {
	spec   loadSpec
	lb     *balancer
	url    string // path on the receivers
	secret []byte
	prefix string
	client *http.Client

	stopc    chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	started  time.Time
	finished time.Time

	mu       sync.Mutex
	sent     map[string]bool
	acked    map[string]int // 2xx answers per id
	gaveUp   map[string]bool
	codes    map[int]int // every answer by status; 0 is a connection error
	reasons  map[string]int
	samples  []string // the first unexpected answers, for the report
	attempts int
}

func startLoad(lb *balancer, path string, secret []byte, prefix string, spec loadSpec) *load {
	if spec.copies <= 0 {
		spec.copies = 1
	}
	l := &load{spec: spec, lb: lb, url: path, secret: secret, prefix: prefix,
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}},
		stopc:  make(chan struct{}), done: make(chan struct{}), started: time.Now(),
		sent: map[string]bool{}, acked: map[string]int{}, gaveUp: map[string]bool{}, codes: map[int]int{}, reasons: map[string]int{}}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range spec.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				l.send(j / spec.copies)
			}
		}()
	}
	go func() {
		defer func() {
			close(jobs)
			wg.Wait()
			l.mu.Lock()
			l.finished = time.Now()
			l.mu.Unlock()
			close(l.done)
		}()
		interval := time.Duration(float64(time.Second) / spec.rate)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		deadline := time.After(spec.maxDuration)
		for j := range spec.events * spec.copies {
			select {
			case <-l.stopc:
				return
			case <-deadline:
				return
			case <-tick.C:
			}
			select {
			case jobs <- j:
			case <-l.stopc:
				return
			}
		}
	}()
	return l
}

// stop starts no new ids; sends in progress finish their retries.
func (l *load) stop() { l.stopOnce.Do(func() { close(l.stopc) }) }

// wait waits for every send to end, at most timeout.
func (l *load) wait(timeout time.Duration) bool {
	select {
	case <-l.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (l *load) id(n int) string { return l.prefix + "-" + strconv.Itoa(n) }

func (l *load) send(n int) {
	id := l.id(n)
	body := fmt.Appendf(nil, `{"id":%q,"n":%d,"action":"opened","pad":%q}`, id, n, strings.Repeat("x", 160))
	sig := verify.SignGitHub(body, l.secret)
	l.mu.Lock()
	l.sent[id] = true
	l.mu.Unlock()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		be := l.lb.pick()
		code, reason, retryAfter := l.post(be, id, body, sig)
		l.mu.Lock()
		l.attempts++
		l.codes[code]++
		if code == http.StatusServiceUnavailable || (code >= 400 && reason != "") {
			l.reasons[strconv.Itoa(code)+" "+reason]++
		}
		if code != 0 && code != http.StatusServiceUnavailable && (code < 200 || code > 299) && len(l.samples) < 8 {
			l.samples = append(l.samples, fmt.Sprintf("%s %s: %d %s from %s", time.Now().Format("15:04:05.000"), id, code, reason, be.name))
		}
		if code >= 200 && code <= 299 {
			l.acked[id]++
			l.mu.Unlock()
			return
		}
		if attempt >= l.spec.maxAttempts || time.Since(start) > l.spec.maxSendTime {
			l.gaveUp[id] = true
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		delay := min(100*time.Millisecond<<min(attempt-1, 10), l.spec.maxRetryDelay)
		delay = delay/2 + time.Duration(rand.Int64N(int64(delay/2)+1))
		if retryAfter > 0 {
			delay = min(retryAfter, l.spec.maxRetryDelay)
		}
		time.Sleep(delay)
	}
}

// post sends one attempt; code 0 is a connection error or timeout.
func (l *load) post(be *backend, id string, body []byte, sig string) (code int, reason string, retryAfter time.Duration) {
	req, err := http.NewRequest(http.MethodPost, be.url+l.url, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set(verify.GitHubDeliveryHeader, id)
	req.Header.Set(verify.GitHubHookIDHeader, "7")
	req.Header.Set(verify.GitHubSignature256Header, sig)
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, "", 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var out struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(b, &out)
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return resp.StatusCode, out.Reason, retryAfter
}

// result is a copy of what the provider saw.
type result struct {
	sent, acked, gaveUp map[string]bool
	answers2xx          int
	codes               map[int]int
	reasons             map[string]int
	samples             []string
	attempts            int
	elapsed             time.Duration
}

func (l *load) result() result {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := result{sent: map[string]bool{}, acked: map[string]bool{}, gaveUp: map[string]bool{}, codes: map[int]int{}, reasons: map[string]int{},
		samples: append([]string(nil), l.samples...), attempts: l.attempts}
	for id := range l.sent {
		r.sent[id] = true
	}
	for id, n := range l.acked {
		r.acked[id] = true
		r.answers2xx += n
	}
	for id := range l.gaveUp {
		r.gaveUp[id] = true
	}
	for c, n := range l.codes {
		r.codes[c] = n
	}
	for k, n := range l.reasons {
		r.reasons[k] = n
	}
	end := l.finished
	if end.IsZero() {
		end = time.Now()
	}
	r.elapsed = end.Sub(l.started)
	return r
}
