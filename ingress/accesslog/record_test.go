package accesslog

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// line is a record as a consumer reads it.
type line struct {
	Time      string   `json:"time"`
	Remote    string   `json:"remote"`
	Method    string   `json:"method"`
	Endpoint  string   `json:"endpoint"`
	Provider  string   `json:"provider"`
	Status    int      `json:"status"`
	Outcome   string   `json:"outcome"`
	Reason    string   `json:"reason"`
	Delivery  string   `json:"delivery"`
	Bytes     int64    `json:"bytes"`
	LatencyMS *float64 `json:"latency_ms"`
}

func decodeLine(t *testing.T, b []byte) line {
	t.Helper()
	var l line
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.DisallowUnknownFields()
	if err := d.Decode(&l); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return l
}

func TestRecordIsOneJSONLineWithEveryField(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name       string
		rec        Record
		wantRemote string
	}{
		{
			name: "the computed client address is written instead of the peer",
			rec: Record{Time: at, Client: netip.MustParseAddr("203.0.113.7"), RemoteAddr: "10.0.0.1:5555", Method: "POST",
				Endpoint: "team-a/github", Provider: "github", Status: 200, Outcome: "accepted", Delivery: "d-1",
				BodyBytes: 1234, Latency: 2500 * time.Microsecond},
			wantRemote: "203.0.113.7",
		},
		{
			name:       "without a client address the peer address is written as it came",
			rec:        Record{Time: at, RemoteAddr: "[2001:db8::1]:443", Method: "GET", Status: 404, Outcome: "rejected", Reason: "UnknownPath", BodyBytes: -1},
			wantRemote: "[2001:db8::1]:443",
		},
		{
			name:       "an IPv6 client is written bare",
			rec:        Record{Time: at, Client: netip.MustParseAddr("2001:db8::7"), Method: "POST", Status: 401, Outcome: "rejected", Reason: "SignatureMismatch"},
			wantRemote: "2001:db8::7",
		},
		{
			name:       "nasty strings stay one line",
			rec:        Record{Time: at, RemoteAddr: "x\n\"y", Method: "PO\x00ST", Delivery: "a\nb\xff\"c", Outcome: "error"},
			wantRemote: "x\n\"y",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendRecord(nil, &tt.rec)
			if strings.Count(string(b), "\n") != 1 || b[len(b)-1] != '\n' {
				t.Fatalf("not exactly one line: %q", b)
			}
			l := decodeLine(t, b)
			want := line{Time: tt.rec.Time.UTC().Format(timeLayout), Remote: tt.wantRemote, Method: strings.ToValidUTF8(tt.rec.Method, "\ufffd"),
				Endpoint: tt.rec.Endpoint, Provider: tt.rec.Provider, Status: tt.rec.Status, Outcome: tt.rec.Outcome,
				Reason: tt.rec.Reason, Delivery: strings.ToValidUTF8(tt.rec.Delivery, "\ufffd"), Bytes: tt.rec.BodyBytes}
			if l.LatencyMS == nil {
				t.Fatal("latency_ms missing")
			}
			if got, wantMS := *l.LatencyMS, float64(tt.rec.Latency)/1e6; got != wantMS {
				t.Errorf("latency_ms = %v, want %v", got, wantMS)
			}
			l.LatencyMS = nil
			if l != want {
				t.Errorf("got  %+v\nwant %+v", l, want)
			}
		})
	}
	if got := appendRecord(nil, &tests[0].rec); !strings.HasPrefix(string(got), `{"time":"2026-03-01T11:30:45.123456Z","remote":"203.0.113.7",`) {
		t.Errorf("time is not UTC with microseconds: %s", got)
	}
}

func TestTimeAndLatencyAreWrittenAsTheStandardLibraryWould(t *testing.T) {
	times := []time.Time{
		time.Unix(0, 0),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1999, 1, 2, 3, 4, 5, 6000, time.FixedZone("", -7*3600)),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Now(),
	}
	for i := range 1000 {
		times = append(times, time.Unix(int64(i)*7919*3607, int64(i)*999331).In(time.FixedZone("", (i%25-12)*3600)))
	}
	for _, at := range times {
		if got, want := string(appendTime(nil, at)), at.UTC().Format(timeLayout); got != want {
			t.Fatalf("%v: %s, want %s", at, got, want)
		}
	}
	for _, d := range []time.Duration{0, time.Microsecond, 999 * time.Microsecond, 1234567 * time.Microsecond, 90 * time.Second, -1500 * time.Microsecond, 1500} {
		if got, want := string(appendMillis(nil, d)), strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
	}
}
