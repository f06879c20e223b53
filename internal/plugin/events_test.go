package plugin

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

var (
	evA = eventsv1.Event{ID: "evt_a", Namespace: "shop", Endpoint: "stripe", Time: testNow.Add(-5 * time.Minute), Outcome: eventsv1.OutcomeAccepted,
		Code: 200, Status: eventsv1.StatusDeadLettered, Provider: "stripe", DeliveryID: "d-a", Type: "invoice.paid", Source: "10.0.0.7", Size: 120,
		Attempts: []eventsv1.Attempt{{EventID: "evt_a", Target: "billing", Attempt: 5, Time: testNow.Add(-time.Minute), Outcome: eventsv1.AttemptDeadLettered, Code: 503, Reason: "HTTP503"}}}
	evB = eventsv1.Event{ID: "rec_b", Namespace: "shop", Endpoint: "stripe", Time: testNow.Add(-30 * time.Second), Outcome: eventsv1.OutcomeRejected,
		Code: 401, Reason: "SignatureMismatch", Provider: "stripe", Source: "203.0.113.9", Size: -1}
)

func TestEventsTableAndQuery(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("GET", epPath+"/events", 200, eventsv1.EventList{Items: []eventsv1.Event{evA, evB}})
	// Flags before the command, between and after the positional argument.
	args := append(f.direct(t), "events", "--status", "deadlettered", "stripe", "--since", "2h", "--until", "2026-05-01T11:59:00Z",
		"--type", "invoice.paid", "-q", "cus_1", "--delivery=d-a", "--outcome", "ACCEPTED", "--limit", "10", "-nshop")
	r := run(t, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := "" +
		"ID      AGE   OUTCOME    STATUS         CODE   TYPE           DELIVERY   LAST-ATTEMPT   REASON\n" +
		"evt_a   5m    accepted   DeadLettered   200    invoice.paid   d-a        billing:503    HTTP503\n" +
		"rec_b   30s   rejected   <none>         401    <none>         <none>     <none>         SignatureMismatch\n"
	if r.stdout != want {
		t.Fatalf("table:\n%s\nwant:\n%s", r.stdout, want)
	}
	reqs := f.got()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	checkAuth(t, reqs[0])
	wantQ := map[string][]string{"status": {"DeadLettered"}, "since": {"2026-05-01T10:00:00Z"}, "until": {"2026-05-01T11:59:00Z"},
		"type": {"invoice.paid"}, "q": {"cus_1"}, "delivery": {"d-a"}, "outcome": {"accepted"}, "limit": {"10"}}
	if reqs[0].method != "GET" || reqs[0].path != epPath+"/events" || !reflect.DeepEqual(reqs[0].query, wantQ) {
		t.Fatalf("request %s %s %v", reqs[0].method, reqs[0].path, reqs[0].query)
	}

	r = run(t, append(f.direct(t), "events", "webhookendpoint/stripe", "-o", "wide")...)
	if r.code != 0 {
		t.Fatalf("wide: exit %d %s", r.code, r.stderr)
	}
	lines := strings.Split(r.stdout, "\n")
	if !strings.HasSuffix(lines[0], "REASON              SOURCE        SIZE        TIME") ||
		!strings.HasSuffix(lines[1], "HTTP503             10.0.0.7      120         2026-05-01T11:55:00Z") ||
		!strings.HasSuffix(lines[2], "SignatureMismatch   203.0.113.9   <unknown>   2026-05-01T11:59:30Z") {
		t.Fatalf("wide table:\n%s", r.stdout)
	}
	// The context's namespace (shop) is the default.
	if q := f.got()[1]; q.path != epPath+"/events" || len(q.query) != 0 {
		t.Fatalf("wide request %s %v", q.path, q.query)
	}
}

func TestEventsJSONAndYAML(t *testing.T) {
	f := newFakeAPI(t)
	list := eventsv1.EventList{Items: []eventsv1.Event{evA, evB}, Scanned: 7}
	f.reply("GET", epPath+"/events", 200, list)
	for _, format := range []string{"json", "yaml"} {
		r := run(t, append(f.direct(t), "events", "stripe", "-n", "shop", "-o", format)...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%s: exit %d %q", format, r.code, r.stderr)
		}
		var got eventsv1.EventList
		var err error
		if format == "json" {
			err = json.Unmarshal([]byte(r.stdout), &got)
			if !strings.HasPrefix(r.stdout, "{\n    \"items\": [") {
				t.Errorf("json is not indented as kubectl's: %.40q", r.stdout)
			}
		} else {
			err = yaml.UnmarshalStrict([]byte(r.stdout), &got)
			if !strings.HasPrefix(r.stdout, "items:\n") {
				t.Errorf("not yaml: %.40q", r.stdout)
			}
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, r.stdout)
		}
		if !reflect.DeepEqual(got, list) {
			t.Fatalf("%s: got %+v\nwant %+v", format, got, list)
		}
	}
	if r := run(t, append(f.direct(t), "events", "stripe", "-o", "name")...); r.code != 1 ||
		r.stderr != "error: unable to match a printer suitable for the output format \"name\", allowed formats are: wide,json,yaml\nSee 'kubectl hookgate events -h' for help.\n" {
		t.Fatalf("-o name: %d %q", r.code, r.stderr)
	}
}

func TestEventsEmptyAndContinue(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("GET", epPath+"/events", 200, eventsv1.EventList{Items: []eventsv1.Event{}, Continue: "c2VxPTQy"})
	r := run(t, append(f.direct(t), "events", "stripe", "--continue", "c2VxPTQx", "--outcome", "error")...)
	if r.code != 0 || r.stdout != "" ||
		r.stderr != "No events found for webhookendpoint shop/stripe.\n(more events: --continue c2VxPTQy)\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if q := f.got()[0].query; q["continue"][0] != "c2VxPTQx" || q["outcome"][0] != "error" {
		t.Fatalf("query %v", q)
	}
	// A full page with more: the table on stdout, the hint on stderr.
	f.reply("GET", epPath+"/events", 200, eventsv1.EventList{Items: []eventsv1.Event{evB}, Continue: "next"})
	r = run(t, append(f.direct(t), "events", "stripe")...)
	if r.code != 0 || !strings.Contains(r.stdout, "rec_b") || r.stderr != "(more events: --continue next)\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestEventsBadFlags(t *testing.T) {
	f := newFakeAPI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"events", "stripe", "--status", "Lost"}, "error: invalid value \"Lost\" for --status: want one of Pending, Delivered, Retrying, DeadLettered, Dropped, Failed\n"},
		{[]string{"events", "stripe", "--since", "yesterday"}, "error: invalid value \"yesterday\" for --since: want a duration"},
		{[]string{"events", "stripe", "--limit", "501"}, "error: --limit must be between 1 and 500\n"},
		{[]string{"events"}, "error: events takes one ENDPOINT: the name of a WebhookEndpoint\n"},
		{[]string{"events", "a", "b"}, "error: unexpected argument(s): b (events takes one ENDPOINT"},
		{[]string{"events", "stripe", "--bogus"}, "error: unknown flag: --bogus\n"},
		{[]string{"events", "stripe", "-x"}, "error: unknown shorthand flag: \"x\" in -x\n"},
		{[]string{"events", "stripe", "--limit"}, "error: flag needs an argument: --limit\n"},
		{[]string{"events", "stripe", "--limit", "ten"}, "error: invalid value \"ten\" for flag -limit"},
		{[]string{"events", "pods/x"}, "error: ENDPOINT \"pods/x\": want the name of a WebhookEndpoint"},
		{[]string{"events", "Bad_Name"}, "error: ENDPOINT \"Bad_Name\" is not a WebhookEndpoint name"},
	} {
		r := run(t, append(f.direct(t), tc.args...)...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, tc.want) || !strings.HasSuffix(r.stderr, "See 'kubectl hookgate events -h' for help.\n") {
			t.Errorf("%q: exit %d stderr %q", tc.args, r.code, r.stderr)
		}
	}
	if n := len(f.got()); n != 0 {
		t.Fatalf("%d requests sent for bad command lines", n)
	}
	r := run(t, "evnts", "stripe")
	if r.code != 1 || r.stderr != "error: unknown command \"evnts\" for \"kubectl hookgate\"\nSee 'kubectl hookgate -h' for help.\n" {
		t.Fatalf("unknown command: %d %q", r.code, r.stderr)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"events", "stripe", "-h"}, {"--help", "events"}, {"help", "events"}, {"-n", "x", "events", "--help"}} {
		r := run(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:\n  kubectl hookgate events ENDPOINT [flags]\n") ||
			!strings.Contains(r.stdout, "Examples:\n") || !strings.Contains(r.stdout, "  -q, --grep string\n") ||
			!strings.Contains(r.stdout, "  -n, --namespace string\n") {
			t.Errorf("%q: exit %d\n%s", args, r.code, r.stdout)
		}
	}
	r := run(t)
	for _, c := range commands {
		if !strings.Contains(r.stdout, "\n  "+c.name+" ") {
			t.Errorf("root help lacks %s", c.name)
		}
	}
	if r.code != 0 {
		t.Fatalf("root help: exit %d", r.code)
	}
	old := Version
	Version = "v9.9.9"
	defer func() { Version = old }()
	if r := run(t, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "kubectl-hookgate version v9.9.9 (go") {
		t.Fatalf("version: %q", r.stdout)
	}
}

func TestShow(t *testing.T) {
	f := newFakeAPI(t)
	next := testNow.Add(time.Minute)
	ev := evA
	ev.Headers = map[string][]string{"Stripe-Signature": {"t=1,v1=abc"}, "Content-Type": {"application/json"}, "X-Esc": {"a\x1b[31mb"},
		"A-First": {"1"}, "Zz-Last": {"2", "3"}, "M-Mid": {"4"}, "B-Second": {"5"}}
	ev.Body = []byte(`{"id":"evt_a","data":{"card":"[REDACTED]"}}`)
	ev.Redacted = []string{"data.card"}
	ev.Method = "POST"
	ev.Attempts = []eventsv1.Attempt{
		{EventID: "evt_a", Target: "billing", Attempt: 1, Time: testNow.Add(-4 * time.Minute), Outcome: eventsv1.AttemptFailed, Code: 503,
			LatencyMillis: 12.4, Reason: "HTTP503", Error: "target answered 503 Service Unavailable", Response: []byte(`{"error":"down"}`), NextAttempt: &next},
		{EventID: "evt_a", Target: "billing", Time: testNow.Add(-3 * time.Minute), Outcome: eventsv1.AttemptRetried, By: "alice"},
	}
	f.reply("GET", epPath+"/events/evt_a", 200, ev)
	r := run(t, append(f.direct(t), "show", "stripe", "evt_a")...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d %q", r.code, r.stderr)
	}
	want := `ID:            evt_a
Endpoint:      shop/stripe
Time:          2026-05-01T11:55:00Z (5m ago)
Outcome:       accepted
Code:          200
Status:        DeadLettered
Provider:      stripe
Delivery ID:   d-a
Type:          invoice.paid
Source:        10.0.0.7
Method:        POST
Size:          120 bytes
Redacted:      data.card
Headers:
  A-First:            1
  B-Second:           5
  Content-Type:       application/json
  M-Mid:              4
  Stripe-Signature:   t=1,v1=abc
  X-Esc:              a\x1b[31mb
  Zz-Last:            2
  Zz-Last:            3
Body (JSON):
  {
    "id": "evt_a",
    "data": {
      "card": "[REDACTED]"
    }
  }
  (redacted values are replaced; a signature over them no longer verifies)
Attempts:
  #   TIME                   TARGET    OUTCOME   CODE   LATENCY   REASON/ERROR
  1   2026-05-01T11:56:00Z   billing   Failed    503    12ms      HTTP503: target answered 503 Service Unavailable; next attempt 2026-05-01T12:01:00Z
  -   2026-05-01T11:57:00Z   billing   Retried   -      -         by alice
Response to attempt 1 (billing, 503):
  {"error":"down"}
`
	if r.stdout != want {
		t.Fatalf("show:\n%s\nwant:\n%s", r.stdout, want)
	}
	checkAuth(t, f.got()[0])

	// Hidden: no headers or body for a caller without get.
	hidden := evA
	hidden.Hidden = true
	f.reply("GET", epPath+"/events/evt_h", 200, hidden)
	r = run(t, append(f.direct(t), "show", "stripe", "evt_h")...)
	if r.code != 0 || !strings.Contains(r.stdout, "\nHeaders:       (headers and body hidden: you may not get webhookendpoints/events in shop)\nAttempts:\n") ||
		strings.Contains(r.stdout, "Body") {
		t.Fatalf("hidden:\n%s", r.stdout)
	}

	// Text is escaped, binary is base64, omitted and truncated say so.
	for _, tc := range []struct {
		ev   eventsv1.Event
		want string
	}{
		{eventsv1.Event{ID: "t", Body: []byte("a=1&b=2\nline\x07two\\")}, "Body (text; non-printable characters escaped as \\xNN or \\uNNNN, and \\ as \\\\):\n  a=1&b=2\n  line\\x07two\\\\\n"},
		{eventsv1.Event{ID: "b", Body: []byte{0xff, 0xfe, 0, 1}}, "Body (binary, 4 bytes, base64):\n  //4AAQ==\n"},
		{eventsv1.Event{ID: "o", BodyOmitted: true}, "Body:   (omitted: spec.history.body is Omit, or the body could not be redacted)\n"},
		{eventsv1.Event{ID: "tr", Body: []byte(`{"a":`), BodyTruncated: true}, "Body:\n  {\"a\":\n  (truncated: only the first 5 bytes are kept, spec.history.maxBodyBytes)\n"},
	} {
		f.reply("GET", epPath+"/events/"+tc.ev.ID, 200, tc.ev)
		r := run(t, append(f.direct(t), "show", "stripe", tc.ev.ID)...)
		if r.code != 0 || !strings.Contains(r.stdout, tc.want) {
			t.Errorf("%s:\n%s\nwant in it:\n%s", tc.ev.ID, r.stdout, tc.want)
		}
	}

	// -o yaml is the Event.
	r = run(t, append(f.direct(t), "show", "stripe", "evt_a", "-o", "yaml")...)
	var back eventsv1.Event
	if err := yaml.Unmarshal([]byte(r.stdout), &back); err != nil || !reflect.DeepEqual(back, ev) {
		t.Fatalf("yaml: %v\n%s", err, r.stdout)
	}
}

func TestErrorStatusPrintedAsKubectl(t *testing.T) {
	f := newFakeAPI(t)
	forbidden := `webhookendpoints.hookgate.io "stripe" is forbidden: User "alice" cannot list resource "webhookendpoints/events" in API group "hookgate.io" in the namespace "shop"`
	f.reply("GET", epPath+"/events", 403, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Code: 403, Reason: metav1.StatusReasonForbidden, Message: forbidden})
	r := run(t, append(f.direct(t), "events", "stripe")...)
	if r.code != 1 || r.stdout != "" || r.stderr != "Error from server (Forbidden): "+forbidden+"\n" {
		t.Fatalf("403: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	notFound := `event "nope" not found in the history of webhookendpoint shop/stripe`
	f.reply("GET", epPath+"/events/nope", 404, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Code: 404, Reason: metav1.StatusReasonNotFound, Message: notFound})
	if r := run(t, append(f.direct(t), "show", "stripe", "nope")...); r.code != 1 || r.stderr != "Error from server (NotFound): "+notFound+"\n" {
		t.Fatalf("404: exit %d stderr %q", r.code, r.stderr)
	}
	f.reply("POST", epPath+"/retry", 401, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Code: 401, Reason: metav1.StatusReasonUnauthorized, Message: "Unauthorized"})
	if r := run(t, append(f.direct(t), "retry", "stripe", "evt_a")...); r.code != 1 || r.stderr != "error: You must be logged in to the server (Unauthorized)\n" {
		t.Fatalf("401: exit %d stderr %q", r.code, r.stderr)
	}
	// Not a Status: made up from the code, as client-go does.
	f.handle("POST", epPath+"/replay", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("upstream broke\n"))
	})
	if r := run(t, append(f.direct(t), "replay", "stripe")...); r.code != 1 || !strings.HasPrefix(r.stderr, "Error from server") ||
		!strings.Contains(r.stderr, "upstream broke") {
		t.Fatalf("502: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestRetry(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("POST", epPath+"/retry", 200, eventsv1.ActionResult{Retried: 1, Items: []eventsv1.ActionItem{
		{ID: "evt_a", Result: eventsv1.ActionRetried},
		{ID: "evt_b", Result: eventsv1.ActionNotFound, Message: "no dead letter with id evt_b"},
	}})
	r := run(t, append(f.direct(t), "retry", "stripe", "evt_a", "-n", "shop", "evt_b", "evt_c")...)
	if r.code != 1 || r.stdout != "event evt_a retried\n" ||
		r.stderr != "event evt_b not retried: no dead letter with id evt_b\nevent evt_c not retried: the server said nothing about it\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	req := f.got()[0]
	checkAuth(t, req)
	var body eventsv1.RetryRequest
	if err := json.Unmarshal(req.body, &body); err != nil || !reflect.DeepEqual(body.IDs, []string{"evt_a", "evt_b", "evt_c"}) ||
		req.method != "POST" || req.header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %s %q: %v", req.method, req.header.Get("Content-Type"), req.body, err)
	}

	f.reply("POST", epPath+"/retry", 200, eventsv1.ActionResult{Retried: 2, Items: []eventsv1.ActionItem{
		{ID: "evt_a", Result: eventsv1.ActionRetried}, {ID: "evt_b", Result: eventsv1.ActionRetried}}})
	if r := run(t, append(f.direct(t), "retry", "stripe", "evt_a", "evt_b")...); r.code != 0 || r.stdout != "event evt_a retried\nevent evt_b retried\n" || r.stderr != "" {
		t.Fatalf("all retried: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := run(t, append(f.direct(t), "retry", "stripe")...); r.code != 1 || !strings.HasPrefix(r.stderr, "error: retry takes an ENDPOINT and at least one event ID\n") {
		t.Fatalf("no ids: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestReplay(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("POST", epPath+"/replay", 200, eventsv1.ActionResult{Items: []eventsv1.ActionItem{
		{ID: "evt_a", Result: eventsv1.ActionWouldRetry}, {ID: "evt_b", Result: eventsv1.ActionWouldRetry}}})
	r := run(t, append(f.direct(t), "replay", "--dry-run", "stripe", "--since", "30m", "--type", "invoice.paid", "--limit", "5", "-q", "cus_1")...)
	if r.code != 0 || r.stdout != "evt_a\nevt_b\n2 dead letters would be replayed (dry run)\n" || r.stderr != "" {
		t.Fatalf("dry run: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	var body eventsv1.ReplayRequest
	if err := json.Unmarshal(f.got()[0].body, &body); err != nil {
		t.Fatal(err)
	}
	since := testNow.Add(-30 * time.Minute)
	want := eventsv1.ReplayRequest{Since: &since, Type: "invoice.paid", Text: "cus_1", Limit: 5, DryRun: true}
	if !reflect.DeepEqual(body, want) {
		t.Fatalf("replay request %+v, want %+v", body, want)
	}

	f.reply("POST", epPath+"/replay", 200, eventsv1.ActionResult{Retried: 3, Items: []eventsv1.ActionItem{
		{ID: "evt_a", Result: eventsv1.ActionRetried}, {ID: "evt_b", Result: eventsv1.ActionRetried}, {ID: "evt_c", Result: eventsv1.ActionRetried}}})
	if r := run(t, append(f.direct(t), "replay", "stripe")...); r.code != 0 || r.stdout != "3 dead letters replayed\n" {
		t.Fatalf("replay: exit %d stdout %q", r.code, r.stdout)
	}
	body = eventsv1.ReplayRequest{}
	if err := json.Unmarshal(f.got()[1].body, &body); err != nil || !reflect.DeepEqual(body, eventsv1.ReplayRequest{}) {
		t.Fatalf("unfiltered replay request %s", f.got()[1].body)
	}
}
