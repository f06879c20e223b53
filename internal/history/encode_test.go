package history

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"

	"github.com/hookgate/hookgate/internal/jsonenc"
)

// fill sets every field of v (a pointer) to a value that is not zero, so
// that a field the hand-written encoder does not know is lost and seen.
func fill(t *testing.T, v reflect.Value, seed int) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(t, v.Elem(), seed)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2025, 3, 4, 5, 6, 7, 123456789+seed, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(t, v.Field(i), seed+i)
		}
	case reflect.String:
		v.SetString("s\"\\\n\t\x01<>&\u2028é\xff" + strings.Repeat("x", seed))
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(-7 - seed))
	case reflect.Uint8:
		v.SetUint(uint64(200 + seed%50))
	case reflect.Float64:
		v.SetFloat(12.5 + float64(seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		n := 2
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(t, s.Index(i), seed+i)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 3 {
			k := reflect.New(v.Type().Key()).Elem()
			fill(t, k, seed+i)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(t, e, seed+i)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		t.Fatalf("fill: no value for %s", v.Type())
	}
}

// canonical decodes JSON into generic values.
func canonical(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	return v
}

func TestEncodeEventAsEncodingJSON(t *testing.T) {
	var ev eventsv1.Event
	fill(t, reflect.ValueOf(&ev), 0)
	got := appendEvent(nil, &ev)
	want, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(canonical(t, got), canonical(t, want)) {
		t.Fatalf("hand-written:\n%s\nencoding/json:\n%s", got, want)
	}
	var back eventsv1.Event
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	var viaJSON eventsv1.Event
	_ = json.Unmarshal(want, &viaJSON)
	if !reflect.DeepEqual(back, viaJSON) {
		t.Fatalf("decoded differently:\n%+v\n%+v", back, viaJSON)
	}

	// Zero values: omitempty as encoding/json does.
	zero := eventsv1.Event{Attempts: []eventsv1.Attempt{{}}}
	got = appendEvent(nil, &zero)
	want, _ = json.Marshal(&zero)
	if !reflect.DeepEqual(canonical(t, got), canonical(t, want)) {
		t.Fatalf("zero:\n%s\n%s", got, want)
	}
	// A nil header value, and a time encoding/json cannot write.
	odd := eventsv1.Event{Headers: map[string][]string{"A": nil}, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := json.Unmarshal(appendEvent(nil, &odd), &back); err != nil || !back.Time.IsZero() || back.Headers["A"] != nil {
		t.Fatalf("odd: %v %+v", err, back)
	}
}

func TestEncodeAttemptAsEncodingJSON(t *testing.T) {
	var a eventsv1.Attempt
	fill(t, reflect.ValueOf(&a), 3)
	got := appendAttempt(nil, &a)
	want, _ := json.Marshal(&a)
	if !reflect.DeepEqual(canonical(t, got), canonical(t, want)) {
		t.Fatalf("hand-written:\n%s\nencoding/json:\n%s", got, want)
	}
	for _, f := range []float64{0.5, 1e-7, 123456789.25, 3e21, -2.5e-9, 1} {
		a := eventsv1.Attempt{LatencyMillis: f}
		var back eventsv1.Attempt
		if err := json.Unmarshal(appendAttempt(nil, &a), &back); err != nil || back.LatencyMillis != f {
			t.Errorf("%v: %v %v", f, back.LatencyMillis, err)
		}
	}
	// NaN and infinities, which encoding/json refuses, are left out.
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		a := eventsv1.Attempt{LatencyMillis: f}
		var back eventsv1.Attempt
		if err := json.Unmarshal(appendAttempt(nil, &a), &back); err != nil || back.LatencyMillis != 0 {
			t.Errorf("%v: %v %v", f, back.LatencyMillis, err)
		}
	}
}

func TestAppendStringEscapes(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\x7f", "é€😀", "bad\xff\xfe utf8", "\u2028\u2029", "</script>"} {
		var back string
		b := jsonenc.AppendString(nil, s)
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, b, err)
		}
		want, _ := json.Marshal(s)
		var viaJSON string
		_ = json.Unmarshal(want, &viaJSON)
		if back != viaJSON {
			t.Errorf("%q: %q, encoding/json %q", s, back, viaJSON)
		}
	}
}
