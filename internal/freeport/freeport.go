// Package freeport hands out loopback TCP ports for processes that tests
// and benchmarks start and that bind the port later.
//
// A port the kernel picks for net.Listen("tcp", "127.0.0.1:0") comes from
// the ephemeral range, the same range every outgoing connection on the
// machine takes its source port from: between closing the probe and the
// child binding the port, any connection may take it (seen in CI: a NATS
// node's route port "already in use"). Get draws ports below that range,
// where only another listener can take them.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowest is the first port Get considers: above the well-known and most
// registered service ports.
const lowest = 10000

// rangeFile holds the kernel's ephemeral port range, "first last".
const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// Get returns a loopback port that was free a moment ago and lies outside
// the ephemeral range.
func Get() (int, error) {
	hi := ephemeralStart(rangeFile)
	if hi-lowest < 1000 {
		return kernelPort() // no room below the range: the kernel's choice
	}
	for range 200 {
		p := lowest + rand.IntN(hi-lowest)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue // taken: draw again
		}
		if err := l.Close(); err != nil {
			return 0, err
		}
		return p, nil
	}
	return 0, fmt.Errorf("no free loopback port found in [%d, %d)", lowest, hi)
}

// ephemeralStart is the first ephemeral port; 32768 (Linux's default)
// when the range cannot be read.
func ephemeralStart(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 0 {
		return 32768
	}
	return n
}

func kernelPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("listener has no TCP address")
	}
	return addr.Port, nil
}
