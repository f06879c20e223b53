package queuetest

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Domain is the JetStream domain of the private cluster in edge tests.
const Domain = "hub"

// Leaf node credentials of the edge server in tests.
const (
	LeafUser     = "hookgate-leaf"
	LeafPassword = "queuetest-leaf-password"
)

// Edge is an edge deployment in this process: the private cluster's
// JetStream (domain Domain) connected as a leaf node, through Link, to an
// edge nats-server without JetStream that edge receivers connect to.
type Edge struct {
	Hub    *Cluster
	Server *server.Server
	// Link is the leaf link; Cut and Restore it to partition the two sides.
	Link *Proxy
}

// StartEdge starts an edge server, a TCP proxy in front of its leaf node
// port and an n-node hub cluster whose every server solicits the edge
// through the proxy, and waits until every hub server's leaf connection is
// up.
func StartEdge(t testing.TB, n int) *Edge {
	t.Helper()
	leafPort := freePort(t)
	link, err := NewProxy(fmt.Sprintf("127.0.0.1:%d", leafPort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(link.Close)
	es, err := server.NewServer(&server.Options{
		ServerName:    "hookgate-edge",
		Host:          "127.0.0.1",
		Port:          -1,
		Authorization: Token,
		NoSigs:        true,
		NoLog:         true,
		MaxPayload:    8 << 20,
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: leafPort,
			Username: LeafUser, Password: LeafPassword,
			// The server tells soliciting servers its leaf address, which
			// they then also try: advertise the proxy, or the hub
			// reconnects around it (a real edge advertises its public
			// address for the same reason).
			Advertise: link.Addr()},
	})
	if err != nil {
		t.Fatal(err)
	}
	go es.Start()
	t.Cleanup(func() { es.Shutdown(); es.WaitForShutdown() })
	if !es.ReadyForConnections(30 * time.Second) {
		t.Fatal("edge server not ready")
	}
	remote := &url.URL{Scheme: "nats-leaf", Host: link.Addr(), User: url.UserPassword(LeafUser, LeafPassword)}
	hub := StartClusterWith(t, n, func(o *server.Options) {
		o.JetStreamDomain = Domain
		o.MaxPayload = 8 << 20
		o.LeafNode.ReconnectInterval = 250 * time.Millisecond
		o.LeafNode.Remotes = []*server.RemoteLeafOpts{{URLs: []*url.URL{remote}}}
	})
	e := &Edge{Hub: hub, Server: es, Link: link}
	e.WaitLinked(t, 30*time.Second)
	return e
}

// WaitLinked waits until every hub server has its leaf connection.
func (e *Edge) WaitLinked(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for e.Server.NumLeafNodes() < len(e.Hub.Servers) {
		if time.Now().After(deadline) {
			t.Fatalf("edge server has %d leaf connections after %s, want %d", e.Server.NumLeafNodes(), timeout, len(e.Hub.Servers))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitUnlinked waits until the edge server has no leaf connection left.
func (e *Edge) WaitUnlinked(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for e.Server.NumLeafNodes() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("edge server still has %d leaf connections after %s", e.Server.NumLeafNodes(), timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Connect opens an authenticated client connection to the edge server.
func (e *Edge) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(e.Server.ClientURL(), nats.Token(Token), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Proxy is a TCP proxy that can cut every connection through it and
// refuse new ones, then let them through again on the same address: a
// network partition, as when a NAT gateway or a firewall drops a link.
type Proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	cut   bool
}

// NewProxy listens on a free loopback port and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]bool{}}
	p.serve(ln)
	return p, nil
}

// Addr is the address to connect to instead of the target.
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) serve(ln net.Listener) {
	p.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *Proxy) forward(c net.Conn) {
	u, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) { _, _ = io.Copy(dst, src); done <- struct{}{} }
	go pipe(u, c)
	go pipe(c, u)
	<-done
	c.Close()
	u.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// Cut closes every connection and stops accepting new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return
	}
	p.cut = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
}

// Restore accepts connections again, on the same address.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cut {
		return nil
	}
	var (
		ln  net.Listener
		err error
	)
	// The port was just released; retry briefly if it is in TIME_WAIT.
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("re-listening on %s: %w", p.addr, err)
	}
	p.cut = false
	p.serve(ln)
	return nil
}

// Close cuts the link for good.
func (p *Proxy) Close() { p.Cut() }
