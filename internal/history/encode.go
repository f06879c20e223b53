package history

import (
	"encoding/base64"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

// The records are the JSON of eventsv1.Event and eventsv1.Attempt, as
// encoding/json writes them (same names, same omitempty), written by hand:
// on the ingest path encoding/json costs an allocation per header. The
// tests compare both encodings field by field (with every field set, so a
// field added to the types and not here fails them).

// eventSize estimates the encoded size of ev, to allocate once.
func eventSize(ev *eventsv1.Event) int {
	n := 400 + len(ev.ID) + len(ev.Namespace) + len(ev.Endpoint) + len(ev.Reason) + len(ev.Provider) +
		len(ev.DeliveryID) + len(ev.Type) + len(ev.Source) + len(ev.Method) + base64.StdEncoding.EncodedLen(len(ev.Body))
	for k, vs := range ev.Headers {
		n += len(k) + 6
		for _, v := range vs {
			n += len(v) + 3
		}
	}
	for _, r := range ev.Redacted {
		n += len(r) + 3
	}
	n += len(ev.Attempts) * 300
	// Escapes grow strings; a little slack saves a second allocation.
	return n + n/16
}

func appendEvent(b []byte, ev *eventsv1.Event) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, ev.ID)
	b = append(b, `,"namespace":`...)
	b = appendString(b, ev.Namespace)
	b = append(b, `,"endpoint":`...)
	b = appendString(b, ev.Endpoint)
	b = append(b, `,"time":`...)
	b = appendTime(b, ev.Time)
	b = append(b, `,"outcome":`...)
	b = appendString(b, string(ev.Outcome))
	b = appendOptString(b, `,"reason":`, ev.Reason)
	b = append(b, `,"code":`...)
	b = strconv.AppendInt(b, int64(ev.Code), 10)
	b = appendOptString(b, `,"status":`, string(ev.Status))
	b = appendOptString(b, `,"provider":`, ev.Provider)
	b = appendOptString(b, `,"deliveryID":`, ev.DeliveryID)
	b = appendOptString(b, `,"type":`, ev.Type)
	b = appendOptString(b, `,"source":`, ev.Source)
	b = appendOptString(b, `,"method":`, ev.Method)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, ev.Size, 10)
	if len(ev.Headers) > 0 {
		b = append(b, `,"headers":{`...)
		first := true
		for k, vs := range ev.Headers {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, k)
			b = append(b, ':')
			b = appendStrings(b, vs)
		}
		b = append(b, '}')
	}
	b = appendOptBytes(b, `,"body":`, ev.Body)
	b = appendOptBool(b, `,"bodyOmitted":true`, ev.BodyOmitted)
	b = appendOptBool(b, `,"bodyTruncated":true`, ev.BodyTruncated)
	if len(ev.Redacted) > 0 {
		b = append(b, `,"redacted":`...)
		b = appendStrings(b, ev.Redacted)
	}
	b = appendOptBool(b, `,"hidden":true`, ev.Hidden)
	if len(ev.Attempts) > 0 {
		b = append(b, `,"attempts":[`...)
		for i := range ev.Attempts {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAttempt(b, &ev.Attempts[i])
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// attemptSize estimates the encoded size of a.
func attemptSize(a *eventsv1.Attempt) int {
	n := 300 + len(a.EventID) + len(a.Target) + len(a.Reason) + len(a.Error) + len(a.By) +
		base64.StdEncoding.EncodedLen(len(a.Response))
	return n + n/16
}

func appendAttempt(b []byte, a *eventsv1.Attempt) []byte {
	b = append(b, `{"eventID":`...)
	b = appendString(b, a.EventID)
	b = appendOptString(b, `,"target":`, a.Target)
	if a.Attempt != 0 {
		b = append(b, `,"attempt":`...)
		b = strconv.AppendInt(b, int64(a.Attempt), 10)
	}
	b = append(b, `,"time":`...)
	b = appendTime(b, a.Time)
	b = append(b, `,"outcome":`...)
	b = appendString(b, string(a.Outcome))
	if a.Code != 0 {
		b = append(b, `,"code":`...)
		b = strconv.AppendInt(b, int64(a.Code), 10)
	}
	if a.LatencyMillis != 0 && !math.IsNaN(a.LatencyMillis) && !math.IsInf(a.LatencyMillis, 0) {
		b = append(b, `,"latencyMillis":`...)
		b = appendFloat(b, a.LatencyMillis)
	}
	b = appendOptString(b, `,"reason":`, a.Reason)
	b = appendOptString(b, `,"error":`, a.Error)
	b = appendOptBytes(b, `,"response":`, a.Response)
	if a.NextAttempt != nil {
		b = append(b, `,"nextAttempt":`...)
		b = appendTime(b, *a.NextAttempt)
	}
	b = appendOptString(b, `,"by":`, a.By)
	return append(b, '}')
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, key...)
	return appendString(b, s)
}

func appendOptBytes(b []byte, key string, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

func appendOptBool(b []byte, keyTrue string, v bool) []byte {
	if !v {
		return b
	}
	return append(b, keyTrue...)
}

func appendStrings(b []byte, vs []string) []byte {
	if vs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	return append(b, ']')
}

// appendTime writes t as encoding/json does (RFC 3339 with nanoseconds);
// a year it cannot write becomes the zero time.
func appendTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y > 9999 {
		t = time.Time{}
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendFloat writes f as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028 and
// U+2029 escaped (as encoding/json does; HTML characters are left alone).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
