package eventsapi

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

func endpointKeys(t *testing.T, h *harness, name string) []string {
	t.Helper()
	var obj hookv1.WebhookEndpoint
	if err := h.srv.Endpoints.Get(context.Background(), types.NamespacedName{Namespace: nsA, Name: name}, &obj); err != nil {
		t.Fatal(err)
	}
	return queue.EndpointKeys(&obj)
}

func TestRetry(t *testing.T) {
	h := newHarness(t)
	h.dls.byKey["uid-ep"] = []DeadLetter{{EventID: "e1"}, {EventID: "e2"}, {EventID: "e3"}}

	res := decode[eventsv1.ActionResult](t, h.do("POST", epPath(nsA, "ep", "/retry"), tokAlice, `{"ids":["e1","e2","e1","zz"]}`))
	want := eventsv1.ActionResult{Retried: 2, Items: []eventsv1.ActionItem{
		{ID: "e1", Result: eventsv1.ActionRetried},
		{ID: "e2", Result: eventsv1.ActionRetried},
		{ID: "zz", Result: eventsv1.ActionNotFound, Message: "no dead letter with this id: it was delivered, is still being retried, or expired"},
	}}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("result %+v, want %+v", res, want)
	}
	if h.dls.count() != 1 || h.dls.byKey["uid-ep"][0].EventID != "e3" {
		t.Fatalf("left: %+v", h.dls.byKey)
	}
	call := h.dls.calls[0]
	if !reflect.DeepEqual(call.keys, endpointKeys(t, h, "ep")) || call.withBodies || call.dryRun || call.limit < 3 {
		t.Fatalf("ReplayMatching call %+v", call)
	}
	wantActions := []eventsv1.Attempt{
		{EventID: "e1", Time: testNow, Outcome: eventsv1.AttemptRetried, By: "alice"},
		{EventID: "e2", Time: testNow, Outcome: eventsv1.AttemptRetried, By: "alice"},
	}
	if got := h.actions.list(); !reflect.DeepEqual(got, wantActions) || h.actions.objs[0] != "team-a/ep" {
		t.Fatalf("actions %+v on %v, want %+v", got, h.actions.objs, wantActions)
	}

	// Nothing left to retry: all NotFound, no action.
	res = decode[eventsv1.ActionResult](t, h.do("POST", epPath(nsA, "ep", "/retry"), tokAlice, `{"ids":["e1"]}`))
	if res.Retried != 0 || res.Items[0].Result != eventsv1.ActionNotFound || len(h.actions.list()) != 2 {
		t.Fatalf("second retry %+v", res)
	}
}

func TestRetryOfAnEventDeadLetteredByTwoTargets(t *testing.T) {
	h := newHarness(t)
	keys := endpointKeys(t, h, "fan")
	if !reflect.DeepEqual(keys, []string{"uid-fan", "uid-fan_a", "uid-fan_b", "uid-fan_b=0", "uid-fan_b=1"}) {
		t.Fatalf("keys %v", keys)
	}
	h.dls.byKey["uid-fan_a"] = []DeadLetter{{EventID: "e1"}}
	h.dls.byKey["uid-fan_b=1"] = []DeadLetter{{EventID: "e1"}, {EventID: "e2"}}
	res := decode[eventsv1.ActionResult](t, h.do("POST", epPath(nsA, "fan", "/retry"), tokAlice, `{"ids":["e1"]}`))
	if res.Retried != 1 || len(res.Items) != 1 || res.Items[0].Result != eventsv1.ActionRetried {
		t.Fatalf("result %+v", res)
	}
	if h.dls.count() != 1 || len(h.actions.list()) != 1 {
		t.Fatalf("both targets' dead letters of e1 must go back, once in the history: left %+v, actions %+v", h.dls.byKey, h.actions.list())
	}
}

func TestRetryBadRequests(t *testing.T) {
	h := newHarness(t)
	many := make([]string, eventsv1.MaxRetryIDs+1)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprint("e", i))
	}
	cases := map[string]string{
		`{"ids":[]}`: "ids: give at least one",
		`{}`:         "ids: give at least one",
		`{"ids":[` + strings.Join(many, ",") + `]}`: "ids: 1001 ids, at most 1000",
		`{"ids":["ok","a.b"]}`:                      `ids[1]: "a.b" is not an event id`,
		`{"ids":["*"]}`:                             `ids[0]: "*" is not an event id`,
		`{"ids":["ev>"]}`:                           `ids[0]: "ev>" is not an event id`,
		`{"ids":["a b"]}`:                           `ids[0]: "a b" is not an event id`,
		`{"ids":[""]}`:                              "ids[0]: an id is empty",
		`{"ids":"e1"}`:                              "request body: not a valid RetryRequest",
		`{"ids":["e1"],"all":true}`:                 `unknown field "all"`,
		`{"ids":["e1"]} {}`:                         "data after the JSON value",
		`{"ids":[`:                                  "request body: not a valid RetryRequest",
		``:                                          "request body: empty",
	}
	for body, msg := range cases {
		t.Run(body[:min(len(body), 30)], func(t *testing.T) {
			st := status(t, h.do("POST", epPath(nsA, "ep", "/retry"), tokAlice, body), http.StatusBadRequest)
			if st.Reason != metav1.StatusReasonBadRequest || !strings.Contains(st.Message, msg) {
				t.Fatalf("Status %+v, want a message with %q", st, msg)
			}
		})
	}
	big := `{"ids":["` + strings.Repeat("x", MaxRequestBytes) + `"]}`
	st := status(t, h.do("POST", epPath(nsA, "ep", "/retry"), tokAlice, big), http.StatusRequestEntityTooLarge)
	if st.Reason != metav1.StatusReasonRequestEntityTooLarge {
		t.Fatalf("big body: %+v", st)
	}
	if len(h.dls.calls) != 0 {
		t.Fatal("a bad request reached the dead letters")
	}
	// Without create on replay: 403, even with list on events.
	st = status(t, h.do("POST", epPath(nsA, "ep", "/retry"), tokBob, `{"ids":["e1"]}`), http.StatusForbidden)
	if st.Message != forbiddenMessage("bob", "create", "replay", nsA, "ep") {
		t.Fatalf("bob: %q", st.Message)
	}
}

// replayHarness has four dead letters of the github endpoint ep and two of
// the stripe endpoint fan.
func replayHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.dls.byKey["uid-ep"] = []DeadLetter{
		{EventID: "d1", Provider: "github", ReceivedAt: testNow.Add(-3 * time.Hour),
			Header: map[string][]string{"X-GitHub-Event": {"push"}}, Body: []byte(`{"ref":"main"}`)},
		{EventID: "d2", Provider: "github", ReceivedAt: testNow.Add(-2 * time.Hour),
			Header: map[string][]string{"x-github-event": {"issues"}}, Body: []byte(`{"title":"A Needle in the haystack"}`)},
		{EventID: "d3", Provider: "github", ReceivedAt: testNow.Add(-time.Hour),
			Header: map[string][]string{"X-GitHub-Event": {"push"}, "User-Agent": {"GitHub-Hookshot/NEEDLE"}}, Body: []byte(`{}`)},
		{EventID: "d4", Provider: "github", ReceivedAt: testNow.Add(-30 * time.Minute), Body: []byte(`{"zen":"x"}`)},
	}
	h.dls.byKey["uid-fan_a"] = []DeadLetter{
		{EventID: "s1", Provider: "stripe", ReceivedAt: testNow, Body: []byte(`{"id":"evt_1","type":"invoice.paid"}`)},
		{EventID: "s2", Provider: "stripe", ReceivedAt: testNow, Body: []byte(`{"id":"evt_2","type":"charge.failed"}`)},
	}
	return h
}

func ts(t time.Time) string { return `"` + t.Format(time.RFC3339Nano) + `"` }

func TestReplayFilters(t *testing.T) {
	cases := []struct {
		name, endpoint, body string
		want                 []string
		withBodies           bool
	}{
		{"time window, until exclusive", "ep", `{"since":` + ts(testNow.Add(-150*time.Minute)) + `,"until":` + ts(testNow.Add(-time.Hour)) + `}`,
			[]string{"d2"}, false},
		{"since is inclusive", "ep", `{"since":` + ts(testNow.Add(-time.Hour)) + `}`, []string{"d3", "d4"}, false},
		{"type from the provider's header, without bodies", "ep", `{"type":"push"}`, []string{"d1", "d3"}, false},
		{"a lower-case stored header name", "ep", `{"type":"issues"}`, []string{"d2"}, false},
		{"no type named: the provider's name", "ep", `{"type":"github"}`, []string{"d4"}, false},
		{"text in a body or a header value, any case", "ep", `{"text":"needle"}`, []string{"d2", "d3"}, true},
		{"filters combine", "ep", `{"text":"NEEDLE","type":"push"}`, []string{"d3"}, true},
		{"limit", "ep", `{"limit":2}`, []string{"d1", "d2"}, false},
		{"no filter: all", "ep", `{}`, []string{"d1", "d2", "d3", "d4"}, false},
		{"type from the JSON body loads bodies", "fan", `{"type":"invoice.paid"}`, []string{"s1"}, true},
	}
	for _, c := range cases {
		for _, dry := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s dryRun=%v", c.name, dry), func(t *testing.T) {
				h := replayHarness(t)
				before := h.dls.count()
				body := strings.TrimSuffix(c.body, "}")
				if dry {
					if body != "{" {
						body += ","
					}
					body += `"dryRun":true`
				}
				body += "}"
				res := decode[eventsv1.ActionResult](t, h.do("POST", epPath(nsA, c.endpoint, "/replay"), tokAlice, body))
				var ids []string
				want := eventsv1.ActionRetried
				if dry {
					want = eventsv1.ActionWouldRetry
				}
				for _, it := range res.Items {
					ids = append(ids, it.ID)
					if it.Result != want {
						t.Fatalf("item %+v, want %s", it, want)
					}
				}
				if !reflect.DeepEqual(ids, c.want) {
					t.Fatalf("ids %v, want %v", ids, c.want)
				}
				call := h.dls.calls[0]
				if call.withBodies != c.withBodies || call.dryRun != dry || !reflect.DeepEqual(call.keys, endpointKeys(t, h, c.endpoint)) {
					t.Fatalf("call %+v: want withBodies %v, dryRun %v", call, c.withBodies, dry)
				}
				if dry {
					if res.Retried != 0 || h.dls.count() != before || len(h.actions.list()) != 0 {
						t.Fatalf("a dry run moved or recorded: %+v, %d left, actions %+v", res, h.dls.count(), h.actions.list())
					}
					return
				}
				if res.Retried != len(c.want) || h.dls.count() != before-len(c.want) {
					t.Fatalf("result %+v, %d left of %d", res, h.dls.count(), before)
				}
				acts := h.actions.list()
				if len(acts) != len(c.want) {
					t.Fatalf("actions %+v", acts)
				}
				for i, a := range acts {
					if !reflect.DeepEqual(a, eventsv1.Attempt{EventID: c.want[i], Time: testNow, Outcome: eventsv1.AttemptRetried, By: "alice"}) {
						t.Fatalf("action %+v", a)
					}
				}
			})
		}
	}
}

func TestReplayLimitsAndPermissions(t *testing.T) {
	h := replayHarness(t)
	decode[eventsv1.ActionResult](t, h.do("POST", epPath(nsA, "ep", "/replay"), tokAlice, `{"dryRun":true}`))
	if h.dls.calls[0].limit != eventsv1.MaxRetryIDs {
		t.Fatalf("default limit %d", h.dls.calls[0].limit)
	}
	for body, msg := range map[string]string{
		`{"limit":1001}`: "limit: 1001 is out of range",
		`{"limit":-1}`:   "limit: -1 is out of range",
		`{"since":` + ts(testNow) + `,"until":` + ts(testNow) + `}`: "since must be before until",
		`{"since":"yesterday"}`:                       "request body: not a valid ReplayRequest",
		`{"typ":"push"}`:                              `unknown field "typ"`,
		`{"type":"` + strings.Repeat("t", 300) + `"}`: "type is too long",
	} {
		st := status(t, h.do("POST", epPath(nsA, "ep", "/replay"), tokAlice, body), http.StatusBadRequest)
		if !strings.Contains(st.Message, msg) {
			t.Fatalf("%s: %q, want %q", body, st.Message, msg)
		}
	}
	// carol may replay, but not search the bodies.
	st := status(t, h.do("POST", epPath(nsA, "ep", "/replay"), tokCarol, `{"text":"needle"}`), http.StatusForbidden)
	if st.Message != forbiddenMessage("carol", "get", "events", nsA, "ep") {
		t.Fatalf("carol's text replay: %q", st.Message)
	}
	res := decode[eventsv1.ActionResult](t, h.do("POST", epPath(nsA, "ep", "/replay"), tokCarol, `{"type":"push"}`))
	if res.Retried != 2 || h.actions.list()[0].By != "carol" {
		t.Fatalf("carol's replay %+v", res)
	}
	st = status(t, h.do("POST", epPath(nsA, "ep", "/replay"), tokBob, `{}`), http.StatusForbidden)
	if st.Message != forbiddenMessage("bob", "create", "replay", nsA, "ep") {
		t.Fatalf("bob: %q", st.Message)
	}
}
