package history

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

func TestPolicyForDefaults(t *testing.T) {
	p := PolicyFor(hookv1.HistorySpec{})
	if p.Disabled || p.OmitBody || p.Retention != hookv1.DefaultHistoryRetention ||
		p.MaxEvents != hookv1.DefaultHistoryMaxEvents || p.MaxBodyBytes != hookv1.DefaultHistoryMaxBodyBytes {
		t.Fatalf("defaults: %+v", p)
	}
	if got := p.ttlHeader(); !slices.Equal(got, []string{"604800"}) {
		t.Fatalf("ttl %v", got)
	}
	max := int32(200)
	body := int32(10)
	fields := []string{"a.b"}
	p = PolicyFor(hookv1.HistorySpec{Disabled: true, Retention: &metav1.Duration{Duration: time.Hour}, MaxEvents: &max,
		Body: hookv1.HistoryBodyOmit, MaxBodyBytes: &body, RedactHeaders: []string{"X-A"}, RedactFields: fields})
	if !p.Disabled || !p.OmitBody || p.Retention != time.Hour || p.MaxEvents != 200 || p.MaxBodyBytes != 10 ||
		!slices.Equal(p.RedactHeaders, []string{"X-A"}) || !slices.Equal(p.RedactFields, fields) {
		t.Fatalf("set: %+v", p)
	}
	fields[0] = "changed"
	if p.RedactFields[0] != "a.b" {
		t.Fatal("PolicyFor shares the spec's slice")
	}
	if got := p.ttlHeader(); !slices.Equal(got, []string{"3600"}) {
		t.Fatalf("ttl %v", got)
	}
	// A Policy made by hand gets the same.
	if got := (&Policy{Retention: time.Hour}).ttlHeader(); !slices.Equal(got, []string{"3600"}) {
		t.Fatalf("hand-made ttl %v", got)
	}
}

func cloneHeaders(h map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		out[k] = slices.Clone(v)
	}
	return out
}

func TestRedactHeaders(t *testing.T) {
	p := &Policy{MaxBodyBytes: -1, RedactHeaders: []string{"x-customer-email", "X-Signature"}}
	h := map[string][]string{"X-Customer-Email": {"a@b.c", "d@e.f"}, "X-Signature": {"s"}, "Content-Type": {"text/plain"}}
	orig := cloneHeaders(h)
	hdr, b, redacted, omitted, truncated := p.Redact(h, []byte("body"))
	if !reflect.DeepEqual(h, orig) {
		t.Fatalf("input modified: %v", h)
	}
	want := map[string][]string{"X-Customer-Email": {RedactedValue}, "X-Signature": {RedactedValue}, "Content-Type": {"text/plain"}}
	if !reflect.DeepEqual(hdr, want) {
		t.Fatalf("headers %v", hdr)
	}
	if !slices.Equal(redacted, []string{"X-Customer-Email", "X-Signature"}) {
		t.Fatalf("redacted %v", redacted)
	}
	if string(b) != "body" || omitted || truncated {
		t.Fatalf("body %q %v %v", b, omitted, truncated)
	}
	// Nothing to redact: nothing listed.
	_, _, redacted, _, _ = p.Redact(map[string][]string{"Other": {"x"}}, nil)
	if redacted != nil {
		t.Fatalf("redacted %v", redacted)
	}
}

// decode parses JSON for comparison (numbers as json.Number).
func decode(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return v
}

func TestRedactJSONFields(t *testing.T) {
	p := &Policy{MaxBodyBytes: -1, RedactFields: []string{
		"customer.email",            // nested
		"items.card.number",         // through an array of objects
		"data.*.secret",             // any key
		"missing.field",             // absent: not listed
		"customer.address.zip.code", // through a scalar: absent
	}}
	body := []byte(`{"id": 12345678901234567890, "customer": {"email": "a@b.c", "name": "Ann", "address": {"zip": "123"}},
		"items": [{"card": {"number": "4242", "exp": "12/30"}}, {"card": {"number": "5555"}}, {"nocard": true}, [{"card": {"number": "6666"}}]],
		"data": {"x": {"secret": 1, "keep": 2}, "y": {"secret": {"deep": true}}, "z": 3}, "note": "<b>&</b>"}`)
	orig := slices.Clone(body)
	h := map[string][]string{"Content-Type": {"application/json"}}
	_, b, redacted, omitted, truncated := p.Redact(h, body)
	if !bytes.Equal(body, orig) {
		t.Fatal("input body modified")
	}
	if omitted || truncated {
		t.Fatalf("omitted %v truncated %v", omitted, truncated)
	}
	want := decode(t, []byte(`{"id": 12345678901234567890, "customer": {"email": "[REDACTED]", "name": "Ann", "address": {"zip": "123"}},
		"items": [{"card": {"number": "[REDACTED]", "exp": "12/30"}}, {"card": {"number": "[REDACTED]"}}, {"nocard": true}, [{"card": {"number": "[REDACTED]"}}]],
		"data": {"x": {"secret": "[REDACTED]", "keep": 2}, "y": {"secret": "[REDACTED]"}, "z": 3}, "note": "<b>&</b>"}`))
	if got := decode(t, b); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %s", b)
	}
	if bytes.Contains(b, []byte(`\u003c`)) {
		t.Errorf("HTML escaped: %s", b)
	}
	if !slices.Equal(redacted, []string{"customer.email", "items.card.number", "data.*.secret"}) {
		t.Fatalf("redacted %v", redacted)
	}

	// A top-level array, without a Content-Type.
	_, b, redacted, omitted, _ = (&Policy{MaxBodyBytes: -1, RedactFields: []string{"email"}}).Redact(nil, []byte(`[{"email":"x"},{"other":1}]`))
	if omitted || !reflect.DeepEqual(decode(t, b), decode(t, []byte(`[{"email":"[REDACTED]"},{"other":1}]`))) || !slices.Equal(redacted, []string{"email"}) {
		t.Fatalf("array: %s %v %v", b, redacted, omitted)
	}

	// Nothing present: the body is kept byte for byte.
	in := []byte(`{"b": 1,  "a": 2}`)
	_, b, redacted, omitted, _ = (&Policy{MaxBodyBytes: -1, RedactFields: []string{"c"}}).Redact(nil, in)
	if !bytes.Equal(b, in) || redacted != nil || omitted {
		t.Fatalf("untouched: %s %v %v", b, redacted, omitted)
	}
}

func TestRedactForm(t *testing.T) {
	p := &Policy{MaxBodyBytes: -1, RedactFields: []string{"token", "user_name.first", "absent"}}
	body := []byte("token=abc%20def&channel=general&user_name=ann&text=hi+there&token=second")
	orig := slices.Clone(body)
	h := map[string][]string{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	_, b, redacted, omitted, _ := p.Redact(h, body)
	if !bytes.Equal(body, orig) {
		t.Fatal("input body modified")
	}
	want := "token=%5BREDACTED%5D&channel=general&user_name=%5BREDACTED%5D&text=hi+there&token=%5BREDACTED%5D"
	if omitted || string(b) != want {
		t.Fatalf("got %q (omitted %v)", b, omitted)
	}
	if !slices.Equal(redacted, []string{"token", "user_name"}) {
		t.Fatalf("redacted %v", redacted)
	}
	// Decided by parsing when there is no Content-Type.
	_, b, redacted, omitted, _ = p.Redact(nil, []byte("a=1&token=x"))
	if omitted || string(b) != "a=1&token=%5BREDACTED%5D" || !slices.Equal(redacted, []string{"token"}) {
		t.Fatalf("untyped form: %q %v %v", b, redacted, omitted)
	}
	// "*" redacts every key.
	_, b, _, _, _ = (&Policy{MaxBodyBytes: -1, RedactFields: []string{"*"}}).Redact(h, []byte("a=1&b=2"))
	if string(b) != "a=%5BREDACTED%5D&b=%5BREDACTED%5D" {
		t.Fatalf("star: %q", b)
	}
	// A JSON body sent as a form is still redacted as JSON.
	_, b, redacted, _, _ = p.Redact(h, []byte(`{"token":"abc"}`))
	if string(b) != `{"token":"[REDACTED]"}` || !slices.Equal(redacted, []string{"token"}) {
		t.Fatalf("json as form: %q %v", b, redacted)
	}
}

func TestRedactNeitherJSONNorFormIsOmitted(t *testing.T) {
	p := &Policy{MaxBodyBytes: -1, RedactFields: []string{"email"}}
	for _, c := range []struct {
		ct, body string
	}{
		{"application/xml", "<a><email>x</email></a>"},
		{"", "<a><email>x</email></a>"},
		{"text/plain", "hello world, email me"},
		{"application/json", `{"email": broken`},
		{"application/x-www-form-urlencoded", "a=%zz"},
	} {
		var h map[string][]string
		if c.ct != "" {
			h = map[string][]string{"Content-Type": {c.ct}}
		}
		_, b, _, omitted, _ := p.Redact(h, []byte(c.body))
		if b != nil || !omitted {
			t.Errorf("%s %q: kept %q", c.ct, c.body, b)
		}
	}
	// Without fields to redact the same body is kept.
	_, b, _, omitted, _ := (&Policy{MaxBodyBytes: -1}).Redact(nil, []byte("<a/>"))
	if string(b) != "<a/>" || omitted {
		t.Fatalf("kept %q %v", b, omitted)
	}
}

func TestRedactOmitBody(t *testing.T) {
	p := &Policy{OmitBody: true, MaxBodyBytes: -1, RedactHeaders: []string{"X-A"}}
	hdr, b, redacted, omitted, truncated := p.Redact(map[string][]string{"X-A": {"v"}}, []byte(`{"a":1}`))
	if b != nil || !omitted || truncated || !slices.Equal(redacted, []string{"X-A"}) || hdr["X-A"][0] != RedactedValue {
		t.Fatalf("%v %q %v %v %v", hdr, b, redacted, omitted, truncated)
	}
}

func TestRedactTruncatesAfterRedaction(t *testing.T) {
	p := &Policy{MaxBodyBytes: 20, RedactFields: []string{"secret"}}
	body := []byte(`{"secret":"0123456789012345678901234567890123456789"}`)
	_, b, redacted, omitted, truncated := p.Redact(nil, body)
	// Redacted first ({"secret":"[REDACTED]"} is 23 bytes), then cut to 20.
	if string(b) != `{"secret":"[REDACTED` || !truncated || omitted || !slices.Equal(redacted, []string{"secret"}) {
		t.Fatalf("%q %v %v %v", b, redacted, omitted, truncated)
	}
	if !bytes.Equal(body, []byte(`{"secret":"0123456789012345678901234567890123456789"}`)) {
		t.Fatal("input modified")
	}
	// Appending to the result does not write into the caller's body.
	big := []byte("0123456789abcdef")
	_, b, _, _, truncated = (&Policy{MaxBodyBytes: 4}).Redact(nil, big)
	_ = append(b, 'X')
	if string(big) != "0123456789abcdef" || !truncated || string(b) != "0123" {
		t.Fatalf("%q %q", big, b)
	}
	// Short enough: not truncated. MaxBodyBytes 0 keeps nothing.
	if _, _, _, _, truncated := (&Policy{MaxBodyBytes: 4}).Redact(nil, []byte("0123")); truncated {
		t.Fatal("truncated at the limit")
	}
	if _, b, _, _, truncated := (&Policy{}).Redact(nil, []byte("0123")); len(b) != 0 || !truncated {
		t.Fatalf("MaxBodyBytes 0: %q %v", b, truncated)
	}
	// Headers are shared, not copied, when nothing is redacted.
	h := map[string][]string{"A": {"1"}}
	hdr, _, _, _, _ := (&Policy{}).Redact(h, nil)
	if !maps.EqualFunc(hdr, h, slices.Equal) {
		t.Fatal("headers changed")
	}
}
