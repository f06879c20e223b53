package queuetest

import (
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/hookgate/hookgate/internal/freeport"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Cluster is a JetStream cluster of real servers in this process, routed
// over loopback, with a token as in production.
type Cluster struct {
	Servers []*server.Server
	opts    []*server.Options
}

func freePort(t testing.TB) int {
	t.Helper()
	p, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// StartCluster starts n JetStream servers that route to each other and
// waits until the cluster has a JetStream meta leader.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	return StartClusterWith(t, n, nil)
}

// StartClusterWith is StartCluster with each server's options passed
// through configure first (a JetStream domain, leaf node remotes).
func StartClusterWith(t testing.TB, n int, configure func(*server.Options)) *Cluster {
	t.Helper()
	// Ports are picked free and then bound by the servers: another test
	// process may take one in between, so a cluster that does not come up
	// is started again on new ports.
	for try := 1; ; try++ {
		c, err := startCluster(t, n, configure)
		if err == nil {
			t.Cleanup(c.Shutdown)
			return c
		}
		c.Shutdown()
		if try == 3 {
			t.Fatal(err)
		}
		t.Logf("starting the NATS cluster again: %v", err)
	}
}

func startCluster(t testing.TB, n int, configure func(*server.Options)) (*Cluster, error) {
	c := &Cluster{}
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freePort(t)
	}
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	for i := 0; i < n; i++ {
		o := &server.Options{
			ServerName:    fmt.Sprintf("hookgate-test-%d", i),
			Host:          "127.0.0.1",
			Port:          -1,
			JetStream:     true,
			StoreDir:      t.TempDir(),
			Authorization: Token,
			NoSigs:        true,
			NoLog:         true,
			Cluster:       server.ClusterOpts{Name: "hookgate-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:        routes,
		}
		if configure != nil {
			configure(o)
		}
		c.opts = append(c.opts, o)
		s, err := server.NewServer(o)
		if err != nil {
			return c, err
		}
		go s.Start()
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		if !s.ReadyForConnections(20 * time.Second) {
			return c, fmt.Errorf("cluster server %s not ready", s.Name())
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready := true
		for _, s := range c.Servers {
			if !s.JetStreamIsClustered() || s.JetStreamIsLeader() == false && !hasLeader(c) {
				ready = false
			}
		}
		if ready {
			return c, nil
		}
		if time.Now().After(deadline) {
			return c, errors.New("JetStream cluster has no meta leader after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasLeader(c *Cluster) bool {
	for _, s := range c.Servers {
		if s.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

// Connect opens an authenticated client connection to server i.
func (c *Cluster) Connect(t testing.TB, i int) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(c.Servers[i].ClientURL(), nats.Token(Token), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Shutdown stops every server.
func (c *Cluster) Shutdown() {
	for _, s := range c.Servers {
		s.Shutdown()
	}
	for _, s := range c.Servers {
		s.WaitForShutdown()
	}
}
