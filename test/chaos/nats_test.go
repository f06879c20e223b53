package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsCluster is a JetStream cluster of real nats-server processes on
// loopback, authenticated with a token as a production cluster would be.
type natsCluster struct {
	token string
	nodes []*natsNode
	nc    *nats.Conn
	js    jetstream.JetStream
}

type natsNode struct {
	name                 string
	client, route, monit int
	p                    *proc
}

const natsConfig = `server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream {
  store_dir: %q
  max_memory_store: 64MB
  max_file_store: 2GB%s
}
authorization {
  token: %q
}
cluster {
  name: hookgate-chaos
  listen: 127.0.0.1:%d
  routes: [%s]
}
%s`

// errPortTaken: a node exited because a port chosen for it (free when
// chosen, as freePort can only say; outside the ephemeral range, so only
// another listener can take it) was taken before the node bound it.
var errPortTaken = errors.New("a port chosen for a NATS node was taken before it bound it")

// startNATS starts the cluster; with a leaf remote URL (edge mode) it has
// the JetStream domain edgeDomain and every node solicits that remote.
// A cluster that lost one of its ports to another process is started
// again from nothing, on new ports.
func startNATS(dir, bin, token string, n int, leafRemote string) (*natsCluster, error) {
	for attempt := 1; ; attempt++ {
		c, err := startNATSOnce(dir, bin, token, n, leafRemote)
		if err == nil {
			return c, nil
		}
		c.stop()
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			return nil, err
		}
		for _, node := range c.nodes {
			if err := os.RemoveAll(filepath.Join(dir, "js-"+node.name)); err != nil {
				return nil, err
			}
		}
	}
}

func startNATSOnce(dir, bin, token string, n int, leafRemote string) (*natsCluster, error) {
	c := &natsCluster{token: token}
	var routes []string
	for i := range n {
		node := &natsNode{name: "n" + strconv.Itoa(i+1), client: freePort(), route: freePort(), monit: freePort()}
		c.nodes = append(c.nodes, node)
		routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(node.route))
	}
	for _, node := range c.nodes {
		cfg := filepath.Join(dir, node.name+".conf")
		var domain, leaf string
		if leafRemote != "" {
			domain = "\n  domain: " + edgeDomain
			leaf = fmt.Sprintf("leafnodes {\n  reconnect: \"1s\"\n  remotes: [{url: %q}]\n}\n", leafRemote)
		}
		body := fmt.Sprintf(natsConfig, node.name, node.client, node.monit, filepath.Join(dir, "js-"+node.name), domain,
			token, node.route, strings.Join(routes, ", "), leaf)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			return c, err
		}
		node.p = &proc{name: "nats-" + node.name, bin: bin, args: []string{"-c", cfg}, log: filepath.Join(dir, "nats-"+node.name+".log"),
			noise: []string{"Route connection", "Router connection", "connect to route", "Healthcheck failed", "eafnode connection", "connect to remote leafnode"}}
		if err := node.p.start(); err != nil {
			return c, err
		}
	}
	for _, node := range c.nodes {
		if err := node.waitStarted(60 * time.Second); err != nil {
			return c, err
		}
	}
	nc, err := nats.Connect(c.urls(), nats.Token(token), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))
	if err != nil {
		return c, err
	}
	c.nc = nc
	c.js, err = jetstream.New(nc)
	return c, err
}

// urls is the client URL list every Hookgate process is given.
func (c *natsCluster) urls() string {
	var u []string
	for _, n := range c.nodes {
		u = append(u, "nats://127.0.0.1:"+strconv.Itoa(n.client))
	}
	return strings.Join(u, ",")
}

func (c *natsCluster) node(name string) *natsNode {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// waitStarted waits until a node just started is healthy, and says why
// not: errPortTaken when it exited for a port in use.
func (n *natsNode) waitStarted(timeout time.Duration) error {
	healthy := func() bool { return httpStatus("http://127.0.0.1:"+strconv.Itoa(n.monit)+"/healthz") == 200 }
	waitFor(timeout, 200*time.Millisecond, func() bool { return healthy() || !n.p.running() })
	switch {
	case healthy():
		return nil
	case !n.p.running():
		// The log is appended across starts: only this start's lines count.
		b, _ := os.ReadFile(n.p.log)
		if i := strings.LastIndex(string(b), "===== "); i >= 0 {
			b = b[i:]
		}
		if strings.Contains(string(b), "address already in use") {
			return fmt.Errorf("NATS node %s: %w", n.name, errPortTaken)
		}
		return fmt.Errorf("NATS node %s exited while starting:\n%s", n.name, n.p.tail(2000))
	}
	return fmt.Errorf("NATS node %s not healthy within %s", n.name, timeout)
}

// healthy: the node serves and its JetStream assets are current
// (/healthz checks both).
func (n *natsNode) waitHealthy(timeout time.Duration) bool {
	return waitFor(timeout, 200*time.Millisecond, func() bool {
		return httpStatus("http://127.0.0.1:"+strconv.Itoa(n.monit)+"/healthz") == 200
	})
}

// streamLeader is the server name leading a stream, "" while there is none.
func (c *natsCluster) streamLeader(stream string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := c.js.Stream(ctx, stream)
	if err != nil {
		return "", err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return "", err
	}
	if info.Cluster == nil {
		return "", fmt.Errorf("stream %s has no cluster info", stream)
	}
	return info.Cluster.Leader, nil
}

// streamsCurrent reports whether every stream has a leader and every
// replica is online and caught up.
func (c *natsCluster) streamsCurrent() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	names := c.js.StreamNames(ctx)
	n := 0
	for name := range names.Name() {
		n++
		s, err := c.js.Stream(ctx, name)
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != len(c.nodes)-1 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
	}
	return names.Err() == nil && n > 0
}

// killAndRestart SIGKILLs a node and starts it again on the same ports
// and store, as a pod restarted on its volume, after at least down and
// whileDown; it waits until the cluster has caught the node up.
func (c *natsCluster) killAndRestart(n *natsNode, down time.Duration, whileDown func()) error {
	n.p.kill()
	time.Sleep(down)
	if whileDown != nil {
		whileDown()
	}
	if err := n.p.start(); err != nil {
		return err
	}
	if !n.waitHealthy(90 * time.Second) {
		return fmt.Errorf("NATS node %s not healthy within 90s of its restart", n.name)
	}
	if !waitFor(90*time.Second, 250*time.Millisecond, c.streamsCurrent) {
		return fmt.Errorf("streams not current within 90s of restarting %s", n.name)
	}
	return nil
}

func (c *natsCluster) stop() {
	if c.nc != nil {
		c.nc.Close()
	}
	for _, n := range c.nodes {
		if n.p != nil {
			n.p.term(10 * time.Second)
		}
	}
}

// subjectCount is how many messages a stream holds on one subject.
func (c *natsCluster) subjectCount(stream, subject string) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := c.js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, err
	}
	return info.State.Subjects[subject], nil
}
