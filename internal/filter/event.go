package filter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// Event is what a filter or key expression sees as `event`.
//
// Fields derived from Header and Body (event.headers, event.body,
// event.rawBody) are computed on first use and cached, so evaluating several
// expressions on one Event decodes the body once. Do not change an Event after
// its first evaluation, and do not evaluate expressions on one Event from
// several goroutines at once: give each goroutine its own Event.
type Event struct {
	// Provider is the endpoint's provider, e.g. "github".
	Provider string
	// Type is the provider's event type, e.g. "push"; "" when unknown.
	Type string
	// Endpoint is the WebhookEndpoint as "namespace/name".
	Endpoint string
	// DeliveryID is the provider's delivery id, or Hookgate's own.
	DeliveryID string
	// Header holds the request headers (canonical keys, as net/http makes them).
	Header http.Header
	// Body is the request body as received.
	Body []byte
	// ReceivedAt is when the receiver accepted the request.
	ReceivedAt time.Time

	// Lazily computed views, see the type's doc.
	hdr      map[string]string
	hdrDone  bool
	json     any
	jsonDone bool
	raw      string
	rawDone  bool
	act      activation
}

// headers returns the headers with lower-case names and each header's values
// joined with ", " (RFC 9110's list syntax).
func (ev *Event) headers() map[string]string {
	if !ev.hdrDone {
		ev.hdr = make(map[string]string, len(ev.Header))
		for k, vs := range ev.Header {
			k = strings.ToLower(k)
			if prev, ok := ev.hdr[k]; ok { // non-canonical duplicates
				vs = append([]string{prev}, vs...)
			}
			ev.hdr[k] = strings.Join(vs, ", ")
		}
		ev.hdrDone = true
	}
	return ev.hdr
}

// body returns the body decoded as JSON, or nil when it is not JSON.
func (ev *Event) body() any {
	if !ev.jsonDone {
		ev.json, _ = decodeJSON(ev.Body)
		ev.jsonDone = true
	}
	return ev.json
}

func (ev *Event) rawBody() string {
	if !ev.rawDone {
		ev.raw = string(ev.Body)
		ev.rawDone = true
	}
	return ev.raw
}

// activation hands `event` to the evaluator and meters the evaluation (see
// meter.go); kept in the Event so an evaluation does not allocate one.
func (ev *Event) activation(ctx context.Context) *activation {
	// ev: also right after the Event was copied. A nil done (Background)
	// skips the checks.
	ev.act = activation{ev: ev, ctx: ctx, done: ctx.Done()}
	return &ev.act
}

// eventVal is `event` as a CEL value. Field selection does not go through it:
// the planner unwraps it with Value and reads fields with FieldType.GetFrom.
type eventVal struct {
	ev *Event
}

func (v eventVal) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return nil, fmt.Errorf("%s cannot be converted to %v", eventTypeName, typeDesc)
}

func (v eventVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return eventType
	}
	return types.NewErr("%s cannot be converted to %s", eventTypeName, t.TypeName())
}

func (v eventVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(eventVal)
	return types.Bool(ok && o.ev == v.ev)
}

func (v eventVal) Type() ref.Type { return eventType }

func (v eventVal) Value() any { return v.ev }

func errNotEvent(target any) error {
	return fmt.Errorf("internal error: %T is not a %s", target, eventTypeName)
}

// decodeJSON decodes one JSON value that fills b (surrounding white space
// aside). Integers that fit in int64 become int64, so a CEL key like
// string(event.body.id) reads "1234567890123", not "1.234567890123e+12";
// other numbers become float64.
func decodeJSON(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("empty body")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return convertNumbers(v), nil
}

func convertNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(v), 64) // ±Inf when out of range
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = convertNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = convertNumbers(e)
		}
	}
	return v
}
