package accesslog

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/hookgate/hookgate/internal/jsonenc"
)

// Record is what happened to one webhook request.
type Record struct {
	// Time is when the request arrived.
	Time time.Time
	// Client is the address the allowlist judged (behind trusted proxies,
	// the client they report). When it is not valid, RemoteAddr is written.
	Client     netip.Addr
	RemoteAddr string
	Method     string
	// Endpoint is the WebhookEndpoint as namespace/name; empty for a path
	// that names none.
	Endpoint string
	Provider string
	Status   int
	// Outcome is accepted, duplicate, rejected, handshake or error.
	Outcome  string
	Reason   string
	Delivery string
	// BodyBytes is the request's Content-Length; -1 when it sent none
	// (chunked).
	BodyBytes int64
	// Latency is from arrival until the answer was written.
	Latency time.Duration
}

// timeLayout is what appendTime writes: UTC, microseconds, a fixed width,
// so lines sort and align.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// appendRecord appends r as one JSON object and a newline. Keys are fixed
// and in a fixed order; every field is always present.
func appendRecord(b []byte, r *Record) []byte {
	b = append(b, `{"time":"`...)
	b = appendTime(b, r.Time)
	b = append(b, `","remote":`...)
	if r.Client.IsValid() {
		b = append(b, '"')
		b = r.Client.AppendTo(b)
		b = append(b, '"')
	} else {
		b = jsonenc.AppendString(b, r.RemoteAddr)
	}
	b = append(b, `,"method":`...)
	b = jsonenc.AppendString(b, r.Method)
	b = append(b, `,"endpoint":`...)
	b = jsonenc.AppendString(b, r.Endpoint)
	b = append(b, `,"provider":`...)
	b = jsonenc.AppendString(b, r.Provider)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"outcome":`...)
	b = jsonenc.AppendString(b, r.Outcome)
	b = append(b, `,"reason":`...)
	b = jsonenc.AppendString(b, r.Reason)
	b = append(b, `,"delivery":`...)
	b = jsonenc.AppendString(b, r.Delivery)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, r.BodyBytes, 10)
	b = append(b, `,"latency_ms":`...)
	b = appendMillis(b, r.Latency)
	return append(b, "}\n"...)
}

// appendTime is t.UTC().AppendFormat(b, timeLayout) at a third of the cost.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendMillis writes d in milliseconds with three decimals (microseconds).
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	b = append(b, '.')
	return appendDigits(b, int(us%1000), 3)
}

// appendDigits writes v, 0 <= v < 10^width, zero-padded to width.
func appendDigits(b []byte, v, width int) []byte {
	var d [8]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}
