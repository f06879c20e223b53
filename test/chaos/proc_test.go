package chaos

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hookgate/hookgate/internal/freeport"
)

// proc is one real process (hookgate or nats-server) with its output
// appended to a log file across restarts.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  string

	// noise marks log lines left out of a failure's tail (access logs,
	// routine retries), so what went wrong fits in it.
	noise []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "===== %s starting at %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a Ctrl-C on the test does not reach it
	// before the test's cleanup does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

// kill sends SIGKILL: no shutdown, no flush, as when a node dies.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.cmd = nil
}

// term sends SIGTERM and waits for a graceful exit, as the kubelet does
// within terminationGracePeriodSeconds; it reports whether the process
// exited in time (it is killed otherwise).
func (p *proc) term(grace time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return true
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	ok := true
	select {
	case <-p.done:
	case <-time.After(grace):
		ok = false
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	p.cmd = nil
	return ok
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// tail is the end of the process's log, noise left out.
func (p *proc) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	var keep []string
	size := 0
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i := len(lines) - 1; i >= 0 && size < n; i-- {
		if slices.ContainsFunc(p.noise, func(s string) bool { return strings.Contains(lines[i], s) }) {
			continue
		}
		l := lines[i]
		if len(l) > 400 { // a stack trace, mostly
			l = l[:400] + "…"
		}
		keep = append(keep, l)
		size += len(l) + 1
	}
	slices.Reverse(keep)
	return strings.Join(keep, "\n")
}

// freePort is a loopback port outside the ephemeral range (freeport).
func freePort() int {
	p, err := freeport.Get()
	if err != nil {
		panic(err)
	}
	return p
}

// httpStatus is the status of a GET, 0 when there is no answer.
func httpStatus(url string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond every interval until it holds or timeout passes.
func waitFor(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}
