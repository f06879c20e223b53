package filter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

func TestCompileRejects(t *testing.T) {
	tests := []struct {
		name    string
		key     bool
		expr    string
		wantErr string
	}{
		{name: "an empty expression is rejected", expr: "  ", wantErr: "filter expression is empty"},
		{name: "a syntax error is rejected with its column", expr: `event.type ==`, wantErr: "<input>:1:14: Syntax error"},
		{name: "an unknown field of event is rejected", expr: `event.tpye == "push"`, wantErr: "undefined field 'tpye'"},
		{name: "has() on an unknown field of event is rejected", expr: `has(event.bdy)`, wantErr: "undefined field 'bdy'"},
		{name: "an unknown variable is rejected", expr: `provider == "github"`, wantErr: "undeclared reference to 'provider'"},
		{name: "an unknown function is rejected", expr: `event.type.lowerAscii() == "push"`, wantErr: "undeclared reference to 'lowerAscii'"},
		{name: "comparing a header with an int is rejected", expr: `event.headers["x-count"] == 1`, wantErr: "found no matching overload for '_==_' applied to '(string, int)'"},
		{name: "a filter that yields a string is rejected", expr: `event.type`, wantErr: "filter expression must yield bool, not string"},
		{name: "a filter that yields a map is rejected", expr: `event.headers`, wantErr: "filter expression must yield bool, not map(string, string)"},
		{name: "a key that yields a bool is rejected", key: true, expr: `event.type == "push"`, wantErr: "key expression must yield string, int or uint, not bool"},
		{name: "a key that yields a list is rejected", key: true, expr: `event.body.commits.map(c, c.id)`, wantErr: "key expression must yield string, int or uint, not list(dyn)"},
		{name: "a key that yields a timestamp is rejected", key: true, expr: `event.receivedAt`, wantErr: "key expression must yield string, int or uint, not timestamp"},
		{
			name:    "an expression over MaxExpressionLength characters is rejected",
			expr:    `event.type == "` + strings.Repeat("é", MaxExpressionLength) + `"`,
			wantErr: fmt.Sprintf("filter expression is %d characters long, at most %d are allowed", MaxExpressionLength+16, MaxExpressionLength),
		},
		{
			name:    "nested comprehensions over the body are too expensive",
			expr:    `event.body.commits.exists(c, c.modified.exists(f, f.startsWith("docs/")))`,
			wantErr: "filter expression is too expensive",
		},
		{
			name:    "a substring search in each element of a body list is too expensive",
			expr:    `event.body.commits.exists(c, c.message.contains("[skip ci]"))`,
			wantErr: "filter expression is too expensive",
		},
		{
			name:    "a loop inside a loop over headers is too expensive",
			key:     true,
			expr:    `event.headers.map(k, event.headers.map(j, k + j)).size()`,
			wantErr: "key expression is too expensive",
		},
		{
			name:    "constructing an event is rejected",
			expr:    `hookgate.Event{provider: "x"}.provider == "x"`,
			wantErr: "hookgate.Event cannot be constructed in an expression",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.key {
				_, err = CompileKey(tt.expr)
			} else {
				_, err = CompileFilter(tt.expr)
			}
			if err == nil {
				t.Fatalf("compiled %q, want an error", tt.expr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

// Expressions from the docs and the usual idioms must stay admissible.
func TestCompileAccepts(t *testing.T) {
	filters := []string{
		`event.type == "push" && event.body.ref == "refs/heads/main"`,
		`event.type == "push" && event.body.repository.full_name.startsWith("org/")`,
		`event.headers["x-github-event"] in ["issues", "issue_comment"]`,
		`"x-github-event" in event.headers`,
		`event.body.pull_request.merged`,
		`event.body.commits.exists(c, c.author.name != "dependabot[bot]")`,
		`event.body.labels.map(l, l.name).exists(n, n == "bug")`,
		`event.body.commits.filter(c, c.distinct).size() > 0`,
		`has(event.body.action) && event.body.action != "deleted"`,
		`event.body.?repository.?full_name.orValue("").startsWith("org/")`,
		`event.rawBody.contains("urgent")`,
		`event.rawBody.matches("^payload=")`,
		`event.headers["user-agent"].contains("GitHub-Hookshot")`,
		`event.headers.exists(k, k.startsWith("x-github-"))`,
		`event.body.amount > 1000 && event.body.currency == "eur"`,
		`event.receivedAt.getHours() < 6`,
		`event.endpoint == "payments/stripe" && event.provider == "stripe"`,
		`has(event.type)`,
		`event.type == "` + strings.Repeat("x", MaxExpressionLength-len(`event.type == ""`)) + `"`,
	}
	for _, expr := range filters {
		f, err := CompileFilter(expr)
		if err != nil {
			t.Errorf("CompileFilter(%.60q): %v", expr, err)
			continue
		}
		if f.String() != expr {
			t.Errorf("String() = %q, want %q", f.String(), expr)
		}
		if f.EstimatedCost() > MaxEstimatedCost {
			t.Errorf("%.60q: estimated cost %d over the limit", expr, f.EstimatedCost())
		}
	}
	keys := []string{
		`event.body.repository.full_name`,
		`event.body.issue.id`,
		`uint(event.body.issue.number)`,
		`event.provider + ":" + event.body.data.object.customer`,
		`event.headers["x-github-delivery"]`,
		`size(event.body.commits)`,
	}
	for _, expr := range keys {
		if _, err := CompileKey(expr); err != nil {
			t.Errorf("CompileKey(%q): %v", expr, err)
		}
	}
}

const githubBody = `{
	"ref": "refs/heads/main",
	"action": "opened",
	"number": 42,
	"ratio": 0.5,
	"merged": true,
	"big": 12345678901234567890,
	"repository": {"id": 1234567890123, "full_name": "org/repo"},
	"commits": [
		{"id": "a1", "message": "fix: x", "author": {"name": "ann"}},
		{"id": "b2", "message": "docs", "author": {"name": "dependabot[bot]"}}
	],
	"labels": [{"name": "bug"}, {"name": "p1"}]
}`

func githubEvent() *Event {
	return &Event{
		Provider:   "github",
		Type:       "push",
		Endpoint:   "ci/github",
		DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		Header: http.Header{
			"X-Github-Event":    {"push"},
			"X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
			"Accept":            {"text/plain", "application/json"},
			"content-type":      {"application/json"}, // not canonical
		},
		Body:       []byte(githubBody),
		ReceivedAt: time.Date(2025, 3, 1, 4, 30, 0, 0, time.UTC),
	}
}

func formEvent() *Event {
	return &Event{
		Provider: "slack",
		Header:   http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		Body:     []byte("payload=%7B%22type%22%3A%22block_actions%22%7D"),
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		ev      *Event
		expr    string
		want    bool
		wantErr string
	}{
		{name: "the event's own fields are visible", ev: githubEvent(), want: true,
			expr: `event.provider == "github" && event.type == "push" && event.endpoint == "ci/github" && event.deliveryID.startsWith("72d3")`},
		{name: "a header matches by its lower-case name", ev: githubEvent(), want: true, expr: `event.headers["x-github-event"] == "push"`},
		{name: "a header given in non-canonical case is lower-cased too", ev: githubEvent(), want: true, expr: `event.headers["content-type"] == "application/json"`},
		{name: "a header with several values joins them", ev: githubEvent(), want: true, expr: `event.headers["accept"] == "text/plain, application/json"`},
		{name: "a header tested with in is absent without an error", ev: githubEvent(), want: false, expr: `"x-gitlab-event" in event.headers`},
		{name: "a missing header is an error", ev: githubEvent(), wantErr: "no such key: x-gitlab-event", expr: `event.headers["x-gitlab-event"] == "push"`},
		{name: "a body field is read", ev: githubEvent(), want: true, expr: `event.body.repository.full_name.startsWith("org/")`},
		{name: "a bool body field is a filter by itself", ev: githubEvent(), want: true, expr: `event.body.merged`},
		{name: "a body list is searched", ev: githubEvent(), want: true, expr: `event.body.commits.exists(c, c.author.name == "dependabot[bot]")`},
		{name: "a body list is indexed", ev: githubEvent(), want: true, expr: `event.body.commits[1].id == "b2"`},
		{name: "a JSON integer is an int", ev: githubEvent(), want: true, expr: `event.body.number == 42 && type(event.body.number) == int`},
		{name: "a JSON fraction is a double and compares with an int", ev: githubEvent(), want: true, expr: `event.body.ratio < 1 && type(event.body.ratio) == double`},
		{name: "a JSON integer beyond int64 is a double", ev: githubEvent(), want: true, expr: `type(event.body.big) == double && event.body.big > 1`},
		{name: "a missing body field is an error", ev: githubEvent(), wantErr: "no such key: nope", expr: `event.body.nope == "x"`},
		{name: "has() on a missing body field is false", ev: githubEvent(), want: false, expr: `has(event.body.nope)`},
		{name: "has() on a present body field is true", ev: githubEvent(), want: true, expr: `has(event.body.repository.full_name)`},
		{name: "optional selection defaults a missing body field", ev: githubEvent(), want: true, expr: `event.body.?nope.?deeper.orValue("none") == "none"`},
		{name: "a dyn result that is not a bool is an error", ev: githubEvent(), wantErr: "got string, want bool", expr: `event.body.ref`},
		{name: "receivedAt is a timestamp", ev: githubEvent(), want: true, expr: `event.receivedAt == timestamp("2025-03-01T04:30:00Z") && event.receivedAt.getHours() < 6`},
		{name: "a non-JSON body is null", ev: formEvent(), want: true, expr: `event.body == null`},
		{name: "has() on a non-JSON body is false", ev: formEvent(), want: false, expr: `has(event.body)`},
		{name: "has() below a non-JSON body is false", ev: formEvent(), want: false, expr: `has(event.body.type)`},
		{name: "a field of a non-JSON body is an error", ev: formEvent(), wantErr: "no such key: type", expr: `event.body.type == "x"`},
		{name: "optional selection on a non-JSON body is safe", ev: formEvent(), want: false, expr: `event.body.?type.orValue("") == "block_actions"`},
		{name: "a non-JSON body is read as rawBody", ev: formEvent(), want: true, expr: `event.rawBody.startsWith("payload=")`},
		{name: "has() on an unknown type is false", ev: formEvent(), want: false, expr: `has(event.type)`},
		{name: "an empty body is null", ev: &Event{}, want: false, expr: `has(event.body) || has(event.rawBody) || has(event.headers) || has(event.receivedAt)`},
		{name: "JSON followed by other data is not JSON", ev: &Event{Body: []byte(`{"a":1} {"a":2}`)}, want: true, expr: `event.body == null`},
		{name: "a JSON array body is a list", ev: &Event{Body: []byte(` [1, "two"] `)}, want: true, expr: `event.body[1] == "two" && size(event.body) == 2`},
		{name: "a JSON null body is not set", ev: &Event{Body: []byte(`null`)}, want: false, expr: `has(event.body)`},
		{name: "type(event) is hookgate.Event", ev: formEvent(), want: true, expr: `type(event) == hookgate.Event`},
		{name: "a loop variable indexes a map", ev: githubEvent(), want: true, expr: `event.headers.exists(k, k.startsWith("x-github-") && event.headers[k] == "push")`},
		{name: "a computed index reads a list", ev: githubEvent(), want: true, expr: `event.body.commits[size(event.body.commits) - 1].id == "b2"`},
		{name: "map() builds a list", ev: githubEvent(), want: true, expr: `event.body.commits.map(c, c.id) == ["a1", "b2"]`},
		{name: "filter() keeps matching elements", ev: githubEvent(), want: true, expr: `event.body.labels.filter(l, l.name.startsWith("p")).size() == 1`},
		{name: "in tests list membership", ev: githubEvent(), want: true, expr: `"bug" in event.body.labels.map(l, l.name)`},
		{name: "a conditional picks a branch", ev: githubEvent(), want: true, expr: `(event.provider == "github" ? event.body.ref : event.body.nope) == "refs/heads/main"`},
		{name: "an error on one side of || is absorbed by a true other side", ev: githubEvent(), want: true, expr: `event.body.nope == "x" || event.type == "push"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := CompileFilter(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Match(tt.ev)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Match() error = %v, want one containing %q", err, tt.wantErr)
				}
				if got {
					t.Fatal("Match() = true with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Match() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKeyOf(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		want    string
		wantErr string
	}{
		{name: "a string body field is the key", expr: `event.body.repository.full_name`, want: "org/repo"},
		{name: "an int body field is written in base 10", expr: `event.body.repository.id`, want: "1234567890123"},
		{name: "string() of a JSON integer has no exponent", expr: `string(event.body.repository.id)`, want: "1234567890123"},
		{name: "a uint is written in base 10", expr: `uint(event.body.number)`, want: "42"},
		{name: "an int expression is written in base 10", expr: `size(event.body.commits)`, want: "2"},
		{name: "a header is a key", expr: `event.headers["x-github-delivery"]`, want: "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		{name: "parts are concatenated", expr: `event.provider + ":" + event.body.repository.full_name`, want: "github:org/repo"},
		{name: "an empty key is returned as is", expr: `event.body.?nope.orValue("")`, want: ""},
		{name: "a double is not a key", expr: `event.body.ratio`, wantErr: "got double, want string, int or uint"},
		{name: "a map is not a key", expr: `event.body.repository`, wantErr: "got map, want string, int or uint"},
		{name: "a missing field is an error", expr: `event.body.nope`, wantErr: "evaluating key: no such key: nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := CompileKey(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.Of(githubEvent())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Of() = %q, %v, want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Of() = %q, want %q", got, tt.want)
			}
		})
	}
}

// zerosEvent has a body list of n zeros: the cheapest elements per byte, so
// the most iterations a body of that size allows.
func zerosEvent(n int) *Event {
	return &Event{Body: []byte(`{"items":[` + strings.TrimSuffix(strings.Repeat("0,", n), ",") + `]}`)}
}

func TestRuntimeCostLimit(t *testing.T) {
	// Admitted (one pass over a list), but a 1 MiB list of zeros is too long.
	f, err := CompileFilter(`event.body.items.exists(x, x == 1)`)
	if err != nil {
		t.Fatal(err)
	}
	ev := zerosEvent(BodySizeHint / 2)
	start := time.Now()
	ev.body()
	decoded := time.Now()
	_, err = f.Match(ev)
	if !errors.Is(err, ErrCostLimitExceeded) {
		t.Fatalf("Match() error = %v, want ErrCostLimitExceeded", err)
	}
	t.Logf("decoding took %v; the filter stopped after %v and %d iterations", decoded.Sub(start), time.Since(decoded), ev.act.iterations)

	k, err := CompileKey(`string(event.body.items.filter(x, x == 0).size())`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.OfContext(context.Background(), zerosEvent(BodySizeHint/2)); !errors.Is(err, ErrCostLimitExceeded) {
		t.Fatalf("OfContext() error = %v, want ErrCostLimitExceeded", err)
	}

	// Reading a big value is charged by its size: a 1 MiB string read in
	// each of 100 iterations is over the limit although the loop is short.
	big := &Event{Body: []byte(`{"items":[` + strings.TrimSuffix(strings.Repeat("0,", 100), ",") + `],"pad":"` + strings.Repeat("x", BodySizeHint-300) + `"}`)}
	scan, err := CompileFilter(`event.body.items.exists(x, event.rawBody.endsWith("nope"))`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scan.Match(big); !errors.Is(err, ErrCostLimitExceeded) {
		t.Fatalf("Match() error = %v, want ErrCostLimitExceeded", err)
	}

	// The same filter on a realistic list is well within the limit.
	if ok, err := f.Match(zerosEvent(1000)); err != nil || ok {
		t.Fatalf("Match() = %v, %v on 1000 items, want false, nil", ok, err)
	}
}

func TestMatchContextStopsWhenDone(t *testing.T) {
	f, err := CompileFilter(`event.body.items.all(x, x == 0)`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.MatchContext(ctx, zerosEvent(10*InterruptCheckFrequency)); !errors.Is(err, context.Canceled) {
		t.Fatalf("MatchContext() error = %v, want context.Canceled", err)
	}
	if ok, err := f.MatchContext(context.Background(), zerosEvent(10*InterruptCheckFrequency)); err != nil || !ok {
		t.Fatalf("MatchContext() = %v, %v, want true, nil", ok, err)
	}
}

// Several filters on one Event decode its body once.
func TestEventCachesDecodedBody(t *testing.T) {
	ev := githubEvent()
	first, _ := CompileFilter(`event.body.ref == "refs/heads/main"`)
	second, _ := CompileFilter(`event.headers["x-github-event"] == "push" && event.body.number == 42`)
	if ok, err := first.Match(ev); err != nil || !ok {
		t.Fatalf("first Match() = %v, %v", ok, err)
	}
	// The cached views survive a change of the inputs, which the doc forbids:
	// proof that nothing is decoded twice.
	ev.Body = nil
	if ok, err := second.Match(ev); err != nil || !ok {
		t.Fatalf("second Match() = %v, %v", ok, err)
	}
}

// A compiled Filter is shared by goroutines that each have their own Event;
// run with -race.
func TestFilterConcurrentUse(t *testing.T) {
	f, err := CompileFilter(`event.body.commits.exists(c, c.id == "b2")`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if ok, err := f.Match(githubEvent()); err != nil || !ok {
					errs <- fmt.Errorf("Match() = %v, %v", ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// The size hint is the API's default body limit; they must not drift.
func TestBodySizeHintIsTheDefaultBodyLimit(t *testing.T) {
	if BodySizeHint != hookv1.DefaultMaxBodyBytes {
		t.Fatalf("BodySizeHint = %d, api DefaultMaxBodyBytes = %d", BodySizeHint, hookv1.DefaultMaxBodyBytes)
	}
}

// No input makes compiling panic; the admission webhook runs it on whatever a
// user applies.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`event.type == "push"`, `event.body.a.?b.orValue(1)`, `[1,2].map(x, x)`, `"\xff"`, `event.`, `has(`,
		`{"a": 1}["a"] == 1`, `event.body.items.all(x, x.all(y, y))`, `hookgate.Event{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if fl, err := CompileFilter(expr); err == nil {
			_, _ = fl.Match(githubEvent())
		}
		if k, err := CompileKey(expr); err == nil {
			_, _ = k.Of(formEvent())
		}
	})
}

// body4K is a GitHub push payload of about 4 KiB.
var body4K = func() []byte {
	var b strings.Builder
	b.WriteString(`{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"0000000000000000000000000000000000000000",`)
	b.WriteString(`"repository":{"id":1296269,"name":"repo","full_name":"org/repo","private":false,"owner":{"login":"org","id":1,"type":"Organization"},`)
	b.WriteString(`"html_url":"https://github.com/org/repo","description":"A repository","fork":false,"default_branch":"main"},`)
	b.WriteString(`"pusher":{"name":"ann","email":"ann@example.com"},"sender":{"login":"ann","id":2,"type":"User"},"commits":[`)
	for i := 0; b.Len() < 3900; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%040d","message":"commit %d","timestamp":"2025-03-01T04:30:00Z","author":{"name":"ann","email":"ann@example.com"},"added":[],"removed":[],"modified":["README.md"]}`, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}()

func BenchmarkMatch(b *testing.B) {
	f, err := CompileFilter(`event.type == "push" && event.body.repository.full_name.startsWith("org/")`)
	if err != nil {
		b.Fatal(err)
	}
	newEvent := func() *Event {
		return &Event{Provider: "github", Type: "push", Header: http.Header{"X-Github-Event": {"push"}}, Body: body4K}
	}
	check := func(b *testing.B, ok bool, err error) {
		if err != nil || !ok {
			b.Fatalf("Match() = %v, %v", ok, err)
		}
	}
	b.Logf("body: %d bytes", len(body4K))

	// The Nth filter on an event whose body is already decoded.
	b.Run("decoded", func(b *testing.B) {
		ev := newEvent()
		ok, err := f.Match(ev)
		check(b, ok, err)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			ok, err := f.Match(ev)
			check(b, ok, err)
		}
	})
	// The first filter on an event: includes decoding the 4 KiB body.
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body4K)))
		for range b.N {
			ok, err := f.Match(newEvent())
			check(b, ok, err)
		}
	})
	// A filter that does not read the body never decodes it.
	b.Run("headers-only", func(b *testing.B) {
		hf, err := CompileFilter(`event.type == "push" && event.headers["x-github-event"] == "push"`)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for range b.N {
			ok, err := hf.Match(newEvent())
			check(b, ok, err)
		}
	})
	b.Run("context", func(b *testing.B) {
		ev := newEvent()
		ctx := context.Background()
		b.ReportAllocs()
		for range b.N {
			ok, err := f.MatchContext(ctx, ev)
			check(b, ok, err)
		}
	})
}

func BenchmarkCompileFilter(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if _, err := CompileFilter(`event.type == "push" && event.body.repository.full_name.startsWith("org/")`); err != nil {
			b.Fatal(err)
		}
	}
}
