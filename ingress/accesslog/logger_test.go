package accesslog

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func rec(g, i int) Record {
	return Record{Time: time.Now(), Client: netip.AddrFrom4([4]byte{192, 0, 2, byte(g)}), Method: "POST",
		Endpoint: "ns/ep-" + strconv.Itoa(g), Provider: "github", Status: 200, Outcome: "accepted",
		Delivery: strconv.Itoa(g) + "-" + strconv.Itoa(i), BodyBytes: int64(i), Latency: time.Duration(i) * time.Microsecond}
}

// checkLines asserts that out holds exactly one valid line per record
// rec(g, i), g < goroutines, i < per.
func checkLines(t *testing.T, out []byte, goroutines, per int) {
	t.Helper()
	seen := make(map[string]bool, goroutines*per)
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lines++
		l := decodeLine(t, sc.Bytes())
		g, i, ok := strings.Cut(l.Delivery, "-")
		if !ok || seen[l.Delivery] {
			t.Fatalf("line %d: delivery %q unknown or seen before", lines, l.Delivery)
		}
		seen[l.Delivery] = true
		gi, _ := strconv.Atoi(g)
		ii, _ := strconv.Atoi(i)
		if l.Endpoint != "ns/ep-"+g || l.Remote != netip.AddrFrom4([4]byte{192, 0, 2, byte(gi)}).String() ||
			l.Bytes != int64(ii) || l.Status != 200 || l.Outcome != "accepted" || l.Method != "POST" || l.Provider != "github" {
			t.Fatalf("line %d has the wrong fields: %s", lines, sc.Bytes())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if want := goroutines * per; lines != want {
		t.Fatalf("%d lines for %d records", lines, want)
	}
}

func record(l *Logger, goroutines, per int) {
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range per {
				l.Record(rec(g, i))
			}
		})
	}
	wg.Wait()
}

func TestEveryRecordIsWrittenNoneSampled(t *testing.T) {
	const goroutines, n = 32, 100000
	for _, tt := range []struct {
		name string
		c    Config
	}{
		{name: "with the default buffer", c: Config{}},
		{name: "with a buffer so small that requests keep waiting", c: Config{BufferBytes: 4 << 10, FlushBytes: 1 << 10}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			tt.c.Metrics = NewMetrics(reg)
			var out bytes.Buffer // written by the one writer only
			l := New(&out, tt.c)
			record(l, goroutines, n/goroutines)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			checkLines(t, out.Bytes(), goroutines, n/goroutines)
			if l.Written() != n || value(tt.c.Metrics.Records) != n {
				t.Errorf("counted %d written (metric %v), want %d", l.Written(), value(tt.c.Metrics.Records), n)
			}
		})
	}
}

func TestABlockedDestinationMakesRequestsWaitAndLosesNothing(t *testing.T) {
	const goroutines, per = 8, 5000
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	l := New(pw, Config{BufferBytes: 8 << 10, Metrics: m})
	done := make(chan struct{})
	go func() { record(l, goroutines, per); close(done) }()
	// Nobody reads: the pipe (64 KiB) and the buffer fill, the writer is
	// stuck in write, and requests must wait rather than drop.
	select {
	case <-done:
		t.Fatal("every record was taken while nobody read the destination: they cannot all have been written")
	case <-time.After(300 * time.Millisecond):
	}
	if value(m.Waits) == 0 {
		t.Error("no request waited")
	}
	var out bytes.Buffer
	read := make(chan error, 1)
	go func() { _, err := io.Copy(&out, pr); read <- err }()
	<-done
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	checkLines(t, out.Bytes(), goroutines, per)
	if l.Failed() != 0 {
		t.Errorf("%d failed", l.Failed())
	}
}

func TestCloseWritesWhatIsQueued(t *testing.T) {
	var out syncBuffer
	l := New(&out, Config{FlushInterval: time.Hour})
	for i := range 10 {
		l.Record(rec(1, i))
	}
	time.Sleep(20 * time.Millisecond)
	if out.Len() != 0 {
		t.Fatalf("written before the interval: %q", out.String())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// A request that outlived the drain is still written.
	l.Record(rec(1, 10))
	checkLines(t, out.Bytes(), 1, 11)
}

func TestARecordIsWrittenWithinTheFlushInterval(t *testing.T) {
	var out syncBuffer
	l := New(&out, Config{FlushInterval: 20 * time.Millisecond})
	defer l.Close()
	l.Record(rec(1, 0))
	deadline := time.Now().Add(2 * time.Second)
	for out.Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("not written within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	checkLines(t, out.Bytes(), 1, 1)
}

func TestFailedWritesAreCountedNotSilent(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	l := New(failingWriter{}, Config{Metrics: m, Log: logr.Discard()})
	record(l, 4, 100)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Failed() != 400 || value(m.Failed) != 400 || l.Written() != 0 {
		t.Errorf("failed %d (metric %v), written %d; want 400, 400, 0", l.Failed(), value(m.Failed), l.Written())
	}
}

func TestOpenDestinations(t *testing.T) {
	t.Run("off records nothing and closes", func(t *testing.T) {
		l, err := (&Options{Destination: "off"}).Open(logr.Discard(), prometheus.NewRegistry())
		if err != nil || l != nil {
			t.Fatalf("got %v, %v", l, err)
		}
		l.Record(rec(1, 1))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a file is appended to", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		for i := range 2 {
			l, err := (&Options{Destination: path}).Open(logr.Discard(), prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			l.Record(rec(1, i))
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkLines(t, b, 1, 2)
	})
	t.Run("a file that cannot be opened is an error", func(t *testing.T) {
		if _, err := (&Options{Destination: filepath.Join(t.TempDir(), "no", "such", "dir")}).Open(logr.Discard(), nil); err == nil {
			t.Fatal("no error")
		}
	})
}

// BenchmarkRecord is the request path's cost: encoding and queueing one
// record, with the writer draining to io.Discard.
func BenchmarkRecord(b *testing.B) {
	r := rec(7, 12345)
	r.Delivery = "72f3c4a0-1f6e-11f0-8d3b-6b1e1c9e7a51"
	r.Endpoint = "team-payments/github-ci"
	b.Run("serial", func(b *testing.B) {
		l := New(io.Discard, Config{})
		b.ReportAllocs()
		for b.Loop() {
			l.Record(r)
		}
		_ = l.Close()
	})
	b.Run("parallel", func(b *testing.B) {
		l := New(io.Discard, Config{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Record(r)
			}
		})
		_ = l.Close()
	})
	b.Run("encode only", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			buf = appendRecord(buf[:0], &r)
		}
		b.SetBytes(int64(len(buf)))
	})
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
