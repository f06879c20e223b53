package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hookgate/hookgate/internal/freeport"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 on every architecture Go supports.
const clockTick = 10 * time.Millisecond

// procCPU returns the CPU time (user + system, all threads) a process has
// used so far, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("reading CPU time of pid %d: %w", pid, err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime, fields 14 and 15 of a stat line. The
// command name (field 2) is in parentheses and may hold spaces, so fields
// are counted from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat line")
	}
	// After ')': state (field 3) onwards, so utime is the 12th.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat line")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing /proc stat field %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// procCPUUse is one measured process's CPU time inside a window.
type procCPUUse struct {
	Name string
	CPU  time.Duration
}

// cpuMeter reads the CPU time of named processes at the start and the end
// of a measured window.
type cpuMeter struct {
	names []string
	pids  []int

	mu         sync.Mutex
	start, end []time.Duration
	loadStart  time.Duration
	loadEnd    time.Duration
	err        error
}

func newCPUMeter() *cpuMeter { return &cpuMeter{} }

// add measures pid under name.
func (m *cpuMeter) add(name string, pid int) *cpuMeter {
	m.names = append(m.names, name)
	m.pids = append(m.pids, pid)
	return m
}

func (m *cpuMeter) read() ([]time.Duration, time.Duration) {
	out := make([]time.Duration, len(m.pids))
	for i, pid := range m.pids {
		c, err := procCPU(pid)
		if err != nil && m.err == nil {
			m.err = err
		}
		out[i] = c
	}
	self, err := procCPU(os.Getpid())
	if err != nil && m.err == nil {
		m.err = err
	}
	return out, self
}

func (m *cpuMeter) markStart() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.start, m.loadStart = m.read()
}

func (m *cpuMeter) markEnd() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.end, m.loadEnd = m.read()
}

// result returns the CPU used between the marks.
func (m *cpuMeter) result() ([]procCPUUse, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, 0, m.err
	}
	if m.start == nil || m.end == nil {
		return nil, 0, errors.New("the measured window was not reached")
	}
	out := make([]procCPUUse, len(m.names))
	for i, n := range m.names {
		out[i] = procCPUUse{Name: n, CPU: m.end[i] - m.start[i]}
	}
	return out, m.loadEnd - m.loadStart, nil
}

// procRSS returns a process's resident set size in bytes (VmRSS).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("reading status of pid %d: %w", pid, err)
	}
	return parseStatusRSS(b)
}

func parseStatusRSS(b []byte) (int64, error) {
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing VmRSS: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// proc is a child process whose output goes to a log file.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	err  error // from Wait, once done is closed
}

// startProc starts bin with args. The child gets SIGKILL if the benchmark
// dies first, so no measured process outlives a crashed run. When
// announce is set the child's first stdout line is returned: the bare and
// floor programs print their address there once they listen.
func startProc(name, logPath, bin string, args, env []string, announce bool) (*proc, string, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("opening log of %s: %w", name, err)
	}
	fmt.Fprintf(f, "===== %s starting at %s: %s %s\n", name, time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout io.ReadCloser
	if announce {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			f.Close()
			return nil, "", err
		}
	} else {
		cmd.Stdout = f
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	line := make(chan string, 1)
	read := make(chan struct{})
	if announce {
		go func() {
			defer close(read)
			r := bufio.NewReader(stdout)
			l, _ := r.ReadString('\n')
			line <- strings.TrimSpace(l)
			_, _ = io.Copy(f, r)
		}()
	} else {
		close(read)
	}
	go func() {
		// Wait closes the pipe: read it to EOF (the child's exit) first.
		<-read
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		f.Close()
		close(p.done)
	}()
	if !announce {
		return p, "", nil
	}
	select {
	case l := <-line:
		if l == "" {
			p.stop()
			return nil, "", fmt.Errorf("%s exited before it listened (log: %s)", name, logPath)
		}
		return p, l, nil
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, "", fmt.Errorf("%s did not listen within 60s (log: %s)", name, logPath)
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM and waits up to 20s for a graceful exit, then kills.
func (p *proc) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// freePort is a loopback port for a child to bind, outside the ephemeral
// range so that no connection can take it first (freeport).
func freePort() (int, error) { return freeport.Get() }

// waitHTTP polls url until it answers want, for at most d.
func waitHTTP(ctx context.Context, url string, want int, d time.Duration) error {
	deadline := time.Now().Add(d)
	last := "no answer"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer %d within %s (last: %s)", url, want, d, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
