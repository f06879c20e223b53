package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"
)

// nasty are strings a header or client can put in a record.
var nasty = []string{
	"",
	"plain",
	`"quoted" and \backslashed\`,
	"line\nbreak\rreturn\ttab",
	"\x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f",
	"\xff\xfe invalid bytes",
	"truncated \xe2\x82",
	"surrogate \xed\xa0\x80 encoded",
	"overlong \xc0\xaf slash",
	"separators \u2028 and \u2029",
	"é, 日本, 🦄",
	"</script><b>&amp;</b>",
	`{"outcome":"accepted"}`,
	"ends in a backslash \\",
	strings.Repeat("\"\\\n", 100),
}

func TestAppendStringDecodesAsEncodingJSONWould(t *testing.T) {
	for _, s := range nasty {
		got := AppendString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("%q: not valid JSON: %s", s, got)
		}
		want, _ := json.Marshal(s)
		var dGot, dWant string
		if err := json.Unmarshal(got, &dGot); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if err := json.Unmarshal(want, &dWant); err != nil {
			t.Fatal(err)
		}
		if dGot != dWant {
			t.Errorf("%q: decodes to %q, encoding/json's to %q", s, dGot, dWant)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range nasty {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		var dGot, dWant string
		if err := json.Unmarshal(got, &dGot); err != nil {
			t.Fatalf("%q: %s is not a JSON string: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		_ = json.Unmarshal(want, &dWant)
		if dGot != dWant {
			t.Fatalf("%q: decodes to %q, encoding/json's to %q", s, dGot, dWant)
		}
	})
}
