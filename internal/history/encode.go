package history

import (
	"encoding/base64"
	"math"
	"strconv"
	"time"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"

	"github.com/hookgate/hookgate/internal/jsonenc"
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
	b = jsonenc.AppendString(b, ev.ID)
	b = append(b, `,"namespace":`...)
	b = jsonenc.AppendString(b, ev.Namespace)
	b = append(b, `,"endpoint":`...)
	b = jsonenc.AppendString(b, ev.Endpoint)
	b = append(b, `,"time":`...)
	b = appendTime(b, ev.Time)
	b = append(b, `,"outcome":`...)
	b = jsonenc.AppendString(b, string(ev.Outcome))
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
			b = jsonenc.AppendString(b, k)
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
	b = jsonenc.AppendString(b, a.EventID)
	b = appendOptString(b, `,"target":`, a.Target)
	if a.Attempt != 0 {
		b = append(b, `,"attempt":`...)
		b = strconv.AppendInt(b, int64(a.Attempt), 10)
	}
	b = append(b, `,"time":`...)
	b = appendTime(b, a.Time)
	b = append(b, `,"outcome":`...)
	b = jsonenc.AppendString(b, string(a.Outcome))
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
	return jsonenc.AppendString(b, s)
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
		b = jsonenc.AppendString(b, v)
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
