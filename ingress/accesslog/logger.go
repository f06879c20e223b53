// Package accesslog writes the receiver's access log: one JSON line per
// webhook request, every request, never sampled, on its own stream apart
// from the application log (which zap samples under load).
//
// A request encodes its record on its own goroutine and appends it to a
// bounded buffer; one writer goroutine swaps the buffer out and writes it
// whole, at most FlushInterval after its first record or as soon as it
// holds FlushBytes. Only whole lines are ever written, so two streams that
// share a file or pipe interleave by line. When the writer cannot keep up
// and the buffer is full, requests wait for it: a record is never dropped.
// A write that fails is counted and logged, not retried (a full disk must
// not stall webhooks).
package accesslog

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config.
const (
	DefaultBufferBytes   = 1 << 20
	DefaultFlushBytes    = 64 << 10
	DefaultFlushInterval = 100 * time.Millisecond
)

// Options are the access log's flags.
type Options struct {
	// Destination is stdout, stderr, off or a file path.
	Destination string
}

// BindFlags binds --access-log.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Destination, "access-log", "stdout", "where the access log goes, one JSON line per request, never sampled: stdout (the application log is on stderr), stderr, a file path (appended to) or off")
}

// Open starts the access log the flags name, its metrics registered with
// reg. It is nil when off: a nil Logger records nothing and closes at once.
func (o *Options) Open(log logr.Logger, reg prometheus.Registerer) (*Logger, error) {
	c := Config{Log: log}
	var w io.Writer
	switch o.Destination {
	case "off":
		return nil, nil
	case "", "stdout":
		w = os.Stdout
	case "stderr":
		w = os.Stderr
	default:
		f, err := os.OpenFile(o.Destination, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, fmt.Errorf("opening --access-log: %w", err)
		}
		w, c.Closer = f, f
	}
	if reg != nil {
		c.Metrics = NewMetrics(reg)
	}
	return New(w, c), nil
}

// Config tunes a Logger; zero values take the defaults.
type Config struct {
	// BufferBytes bounds the records waiting for the writer; a request
	// that finds it full waits. The writer holds as much again while it
	// writes.
	BufferBytes int
	// FlushBytes wakes the writer before FlushInterval.
	FlushBytes int
	// FlushInterval is the longest a record waits before it is written
	// (plus the write itself).
	FlushInterval time.Duration
	// Closer is closed by Close after the last write (the file).
	Closer  io.Closer
	Metrics *Metrics
	// Log gets write failures.
	Log logr.Logger
}

// Logger writes access records; safe for concurrent use.
type Logger struct {
	w        io.Writer
	closer   io.Closer
	metrics  *Metrics
	log      logr.Logger
	max      int
	flushAt  int
	interval time.Duration

	mu     sync.Mutex
	space  sync.Cond // the writer took the buffer
	buf    []byte    // whole lines waiting for the writer
	n      int       // records in buf
	waits  int       // requests waiting for room
	closed bool

	kick      chan struct{} // cap 1: buf became non-empty, or full
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	writeMu sync.Mutex // the destination, and failing
	failing bool

	written, failed atomic.Uint64
}

// New starts a Logger writing to w.
func New(w io.Writer, c Config) *Logger {
	l := &Logger{w: w, closer: c.Closer, metrics: c.Metrics, log: c.Log,
		max: c.BufferBytes, flushAt: c.FlushBytes, interval: c.FlushInterval,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if l.max <= 0 {
		l.max = DefaultBufferBytes
	}
	if l.flushAt <= 0 {
		l.flushAt = DefaultFlushBytes
	}
	// Woken well before the buffer is full, the writer keeps requests
	// from waiting while it writes.
	l.flushAt = min(l.flushAt, l.max/2)
	if l.interval <= 0 {
		l.interval = DefaultFlushInterval
	}
	l.space.L = &l.mu
	l.buf = make([]byte, 0, l.max)
	go l.run()
	return l
}

// Record queues one record; it returns at once unless the buffer is full,
// then it waits for the writer.
func (l *Logger) Record(r Record) {
	if l == nil {
		return
	}
	// Encoded here, in parallel, into a buffer on this goroutine's stack;
	// only the copy is under the lock.
	var scratch [512]byte
	line := appendRecord(scratch[:0], &r)
	waited := false
	l.mu.Lock()
	for !l.closed && len(l.buf) > 0 && len(l.buf)+len(line) > l.max {
		waited = true
		l.waits++
		l.wake()
		l.space.Wait()
		l.waits--
	}
	if l.closed {
		l.mu.Unlock()
		l.writeThrough(line)
		return
	}
	wasEmpty := len(l.buf) == 0
	l.buf = append(l.buf, line...)
	l.n++
	full := len(l.buf) >= l.flushAt
	l.mu.Unlock()
	if wasEmpty || full {
		l.wake()
	}
	if waited && l.metrics != nil {
		l.metrics.Waits.Inc()
	}
}

// Written is the number of records written to the destination.
func (l *Logger) Written() uint64 {
	if l == nil {
		return 0
	}
	return l.written.Load()
}

// Failed is the number of records whose write failed.
func (l *Logger) Failed() uint64 {
	if l == nil {
		return 0
	}
	return l.failed.Load()
}

// Close writes every record queued, stops the writer and closes the
// destination if it is a file. Records that arrive afterwards (a request
// that outlived the server's drain) are written one at a time.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.space.Broadcast()
		l.mu.Unlock()
		close(l.stop)
		<-l.done
		if l.closer != nil {
			l.writeMu.Lock()
			l.closeErr = l.closer.Close()
			l.w = closedWriter{}
			l.writeMu.Unlock()
		}
	})
	return l.closeErr
}

func (l *Logger) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// run is the writer: it sleeps until a record arrives, gives the batch up
// to the interval (or until it is FlushBytes), then writes it whole. An
// idle log costs no wake-ups.
func (l *Logger) run() {
	defer close(l.done)
	timer := time.NewTimer(l.interval)
	timer.Stop()
	spare := make([]byte, 0, l.max)
	for stopping := false; !stopping; {
		select {
		case <-l.kick:
		case <-l.stop:
			stopping = true
		}
		if !stopping {
			l.mu.Lock()
			full := len(l.buf) >= l.flushAt || l.waits > 0 || l.closed
			l.mu.Unlock()
			if !full {
				timer.Reset(l.interval)
				select {
				case <-l.kick:
				case <-timer.C:
				case <-l.stop:
					stopping = true
				}
				timer.Stop()
			}
		}
		l.mu.Lock()
		batch, n := l.buf, l.n
		l.buf, l.n = spare[:0], 0
		l.space.Broadcast()
		l.mu.Unlock()
		if n > 0 {
			l.write(batch, n)
		}
		if cap(batch) > 2*l.max {
			// One giant line grew it: do not keep that much.
			batch = make([]byte, 0, l.max)
		}
		spare = batch
	}
}

func (l *Logger) writeThrough(line []byte) {
	<-l.done
	// A copy: the line is on the caller's stack, and a Writer may keep it.
	l.write(append([]byte(nil), line...), 1)
}

func (l *Logger) write(b []byte, n int) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if _, err := l.w.Write(b); err != nil {
		l.failed.Add(uint64(n))
		if l.metrics != nil {
			l.metrics.Failed.Add(float64(n))
		}
		if !l.failing {
			l.log.Error(err, "Writing access records failed; counting the records lost until a write succeeds", "records", n)
		}
		l.failing = true
		return
	}
	if l.failing {
		l.log.Info("Writing access records again", "lostSoFar", l.failed.Load())
		l.failing = false
	}
	l.written.Add(uint64(n))
	if l.metrics != nil {
		l.metrics.Records.Add(float64(n))
	}
}

var errClosed = errors.New("access log closed")

type closedWriter struct{}

func (closedWriter) Write([]byte) (int, error) { return 0, errClosed }
