package chaos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

// Edge mode as deployed (docs/operations.md): an edge nats-server without
// JetStream accepting leaf node connections, the private cluster's three
// NATS nodes (JetStream domain edgeDomain) soliciting it through a TCP
// proxy that stands for the network between them, and an edge receiver
// (--registry=nats --dispatch=false) connected to the edge server. The
// private cluster's receivers deliver what the edge stores.

const edgeDomain = "hub"

const edgeNATSConfig = `server_name: edge
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
authorization {
  token: %q
}
leafnodes {
  listen: 127.0.0.1:%d
  # What soliciting servers are told to reconnect to: the proxy, not this
  # address (a real edge advertises its public address).
  advertise: %q
  authorization {
    user: hookgate-leaf
    password: %q
  }
}
`

type edgeSite struct {
	// link is the leaf link between the private cluster and the edge.
	link                *queuetest.Proxy
	client, monit, leaf int
	leafPassword, token string
	nats                *proc
	receiver            *receiver
	lb                  *balancer
}

// newEdgeSite reserves the edge's ports and its link; the private
// cluster's nodes are given remoteURL.
func newEdgeSite() (*edgeSite, error) {
	e := &edgeSite{client: freePort(), monit: freePort(), leaf: freePort(), leafPassword: randomHex(16), token: randomHex(32)}
	var err error
	e.link, err = queuetest.NewProxy("127.0.0.1:" + strconv.Itoa(e.leaf))
	return e, err
}

func (e *edgeSite) remoteURL() string {
	u := url.URL{Scheme: "nats-leaf", Host: e.link.Addr(), User: url.UserPassword("hookgate-leaf", e.leafPassword)}
	return u.String()
}

// startServer runs the edge nats-server. It starts before the private
// cluster, as a deployed edge would: until it listens, the cluster's
// nodes redial it every second through the proxy. (That churn of source
// ports once took a port handed out from the ephemeral range; freePort now
// hands out ports below it.)
func (e *edgeSite) startServer(dir, natsBin string) error {
	cfg := filepath.Join(dir, "edge-nats.conf")
	body := fmt.Sprintf(edgeNATSConfig, e.client, e.monit, e.token, e.leaf, e.link.Addr(), e.leafPassword)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		return err
	}
	e.nats = &proc{name: "nats-edge", bin: natsBin, args: []string{"-c", cfg}, log: filepath.Join(dir, "nats-edge.log"),
		noise: []string{"eafnode connection"}}
	return e.nats.start()
}

// startReceiver waits for the private cluster's leaf connections, then
// runs the edge receiver.
func (e *edgeSite) startReceiver(dir, bin string) error {
	if !waitFor(60*time.Second, 200*time.Millisecond, func() bool { return e.leafs() == receiverCount }) {
		return fmt.Errorf("the private cluster's %d nodes did not connect to the edge as leaf nodes within 60s (%d did)", receiverCount, e.leafs())
	}
	r := &receiver{http: freePort(), probe: freePort()}
	r.proc = &proc{name: "edge-receiver", bin: bin, log: filepath.Join(dir, "edge-receiver.log"),
		noise: []string{`{"time":"` /* access records */, `"msg":"Storing event failed"`},
		// No KUBECONFIG: the edge has no access to the private cluster's API.
		env: []string{"HOOKGATE_NATS_TOKEN=" + e.token, "KUBECONFIG=/nonexistent"},
		args: []string{"receiver", "--registry=nats", "--dispatch=false",
			"--nats-url=nats://127.0.0.1:" + strconv.Itoa(e.client), "--nats-domain=" + edgeDomain,
			"--listen=127.0.0.1:" + strconv.Itoa(r.http), "--metrics-bind-address=0",
			"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(r.probe), "--shutdown-delay=0s"}}
	r.be = &backend{name: "edge-receiver", url: "http://127.0.0.1:" + strconv.Itoa(r.http), probe: "http://127.0.0.1:" + strconv.Itoa(r.probe) + "/readyz"}
	e.receiver = r
	if err := r.start(); err != nil {
		return err
	}
	if !r.waitReady(90 * time.Second) {
		return fmt.Errorf("edge receiver not ready within 90s")
	}
	e.lb = newBalancer([]*backend{r.be})
	return nil
}

// leafs is how many leaf connections the edge server has (-1: no answer).
func (e *edgeSite) leafs() int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(e.monit) + "/leafz")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var lz struct {
		Leafs int `json:"leafnodes"`
	}
	if json.NewDecoder(resp.Body).Decode(&lz) != nil {
		return -1
	}
	return lz.Leafs
}

func (e *edgeSite) stop() {
	if e.lb != nil {
		close(e.lb.stop)
	}
	if e.receiver != nil {
		e.receiver.term(30 * time.Second)
	}
	if e.nats != nil {
		e.nats.term(10 * time.Second)
	}
	e.link.Close()
}

// 8. An edge receiver storing through a NATS leaf node while the link
// between the edge and the private cluster is cut and restored under
// load: nothing 2xx is lost, the cut is answered 503 (not 2xx, not
// anything else), and the edge recovers by itself.
func (s *suite) edgeLinkCut(t *testing.T) *scenario {
	e := s.edge
	sc := s.newScenario(t, 8, "edge receiver, leaf link cut", nil)
	// The manager publishes the endpoint; the edge routes it from NATS.
	if !waitFor(60*time.Second, 100*time.Millisecond, func() bool { return httpStatus(e.receiver.be.url+sc.path) == 405 }) {
		t.Fatalf("scenario 8: the edge receiver does not route %s within 60s", sc.path)
	}
	must(t, sc.tgt.set(targetSlow, 10*time.Millisecond))
	sc.load = startLoad(e.lb, sc.path, sc.secret, "s8", s.loadSpec(unbounded, 30*time.Minute))
	time.Sleep(3 * time.Second)
	var refused []int
	var relinks, recoveries []time.Duration
	for range s.prof.linkCuts {
		before := sc.load.result()
		e.link.Cut()
		time.Sleep(s.prof.linkDown)
		during := sc.load.result()
		refused = append(refused, during.codes[503]-before.codes[503])
		must(t, e.link.Restore())
		back := time.Now()
		if !waitFor(60*time.Second, 50*time.Millisecond, func() bool { return e.leafs() == receiverCount }) {
			t.Fatalf("scenario 8: the leaf link did not come back within 60s of its restore (%d of %d connections)", e.leafs(), receiverCount)
		}
		relinks = append(relinks, time.Since(back))
		// Recovered: the provider's sends are answered 2xx again.
		n := during.answers2xx
		if !waitFor(60*time.Second, 50*time.Millisecond, func() bool { return sc.load.result().answers2xx > n }) {
			t.Fatalf("scenario 8: no 2xx answer within 60s of the link's return")
		}
		recoveries = append(recoveries, time.Since(back))
		time.Sleep(3 * time.Second)
	}
	sc.note("%d cuts of the leaf link for %s each under load; 503 answers per cut %v; leaf connections back after %s, first 2xx after %s",
		s.prof.linkCuts, s.prof.linkDown, refused, spread(relinks), spread(recoveries))
	s.finishLoad(t, sc)
	sc.check = func(tl *tally) []string {
		var errs []string
		for i, n := range refused {
			if n == 0 {
				errs = append(errs, fmt.Sprintf("cut %d: no request was answered 503 while the link was down", i+1))
			}
		}
		// Every id is sent once and retried only after a failure: a
		// duplicate answer must follow a 503 whose event was stored
		// while its ack was lost with the link.
		if tl.ctr.Duplicates > int64(tl.res.codes[503]+tl.res.codes[0]) {
			errs = append(errs, fmt.Sprintf("duplicates %d, more than the failed attempts (%d)", tl.ctr.Duplicates, tl.res.codes[503]+tl.res.codes[0]))
		}
		return errs
	}
	return sc
}
