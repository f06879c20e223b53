package freeport

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestGetIsBelowTheEphemeralRangeAndBindable(t *testing.T) {
	hi := ephemeralStart(rangeFile)
	for range 50 {
		p, err := Get()
		if err != nil {
			t.Fatal(err)
		}
		if hi-lowest >= 1000 && (p < lowest || p >= hi) {
			t.Fatalf("port %d outside [%d, %d)", p, lowest, hi)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d cannot be bound: %v", p, err)
		}
		l.Close()
	}
}

func TestEphemeralStart(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]int{"40000\t60999\n": 40000, "1024 65535": 1024, "garbage": 32768} {
		f := filepath.Join(dir, "range")
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := ephemeralStart(f); got != want {
			t.Errorf("ephemeralStart(%q) = %d, want %d", content, got, want)
		}
	}
	if got := ephemeralStart(filepath.Join(dir, "missing")); got != 32768 {
		t.Errorf("missing file: %d, want 32768", got)
	}
}
