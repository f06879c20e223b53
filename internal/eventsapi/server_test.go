package eventsapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
)

func TestListParsesTheQueryExactly(t *testing.T) {
	h := newHarness(t)
	since := time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2031, 5, 2, 3, 4, 5, 600_000_000, time.FixedZone("x", 3600))
	cases := []struct {
		name  string
		query string
		want  eventsv1.Query
	}{
		{"no parameters: the default limit", "", eventsv1.Query{Limit: eventsv1.DefaultLimit}},
		{"every parameter", url.Values{
			"outcome": {"accepted"}, "status": {"Failed"}, "since": {since.Format(time.RFC3339)},
			"until": {until.Format(time.RFC3339Nano)}, "delivery": {"d-1"}, "type": {"push"}, "q": {"Needle"},
			"limit": {"500"}, "continue": {"tok123"},
		}.Encode(), eventsv1.Query{Outcome: eventsv1.OutcomeAccepted, Status: eventsv1.StatusFailed, Since: since, Until: until,
			DeliveryID: "d-1", Type: "push", Text: "Needle", Limit: 500, Continue: "tok123"}},
		{"Query.Values round-trips", eventsv1.Query{Outcome: eventsv1.OutcomeRejected, Status: eventsv1.StatusDeadLettered,
			Since: since, Limit: 7}.Values().Encode(),
			eventsv1.Query{Outcome: eventsv1.OutcomeRejected, Status: eventsv1.StatusDeadLettered, Since: since, Limit: 7}},
		{"values are case-insensitive, normalised", "outcome=REJECTED&status=deadlettered",
			eventsv1.Query{Outcome: eventsv1.OutcomeRejected, Status: eventsv1.StatusDeadLettered, Limit: eventsv1.DefaultLimit}},
		{"a duration is that long before now", "since=90m&until=1h&limit=1",
			eventsv1.Query{Since: testNow.Add(-90 * time.Minute), Until: testNow.Add(-time.Hour), Limit: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.hist.listCalls = nil
			w := h.do("GET", epPath(nsA, "ep", "/events?"+c.query), tokAlice, "")
			decode[eventsv1.EventList](t, w)
			if len(h.hist.listCalls) != 1 {
				t.Fatalf("%d List calls", len(h.hist.listCalls))
			}
			call := h.hist.listCalls[0]
			if !call.q.Since.Equal(c.want.Since) || !call.q.Until.Equal(c.want.Until) {
				t.Fatalf("since/until %v/%v, want %v/%v", call.q.Since, call.q.Until, c.want.Since, c.want.Until)
			}
			got, want := call.q, c.want
			got.Since, got.Until, want.Since, want.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if got != want {
				t.Fatalf("query %+v, want %+v", got, want)
			}
			if call.uid != "uid-ep" || !reflect.DeepEqual(call.targets, []string{"svc"}) || !call.withBodies {
				t.Fatalf("call %+v: want uid-ep, targets [svc], withBodies", call)
			}
		})
	}
}

func TestListHidesBodiesFromAUserWithoutGet(t *testing.T) {
	h := newHarness(t)
	h.hist.list = eventsv1.EventList{Items: []eventsv1.Event{{ID: "e1", Headers: map[string][]string{"X": {"secret"}}, Body: []byte(`{"card":"4242"}`),
		Attempts: []eventsv1.Attempt{{EventID: "e1", Response: []byte("resp")}}}}, Continue: "next", Scanned: 3}

	l := decode[eventsv1.EventList](t, h.do("GET", epPath(nsA, "ep", "/events"), tokBob, ""))
	if h.hist.listCalls[0].withBodies {
		t.Fatal("List asked for bodies for a user without get")
	}
	ev := l.Items[0]
	if !ev.Hidden || ev.Headers != nil || ev.Body != nil || ev.Attempts[0].Response != nil || l.Continue != "next" || l.Scanned != 3 {
		t.Fatalf("list for bob: %+v", l)
	}

	l = decode[eventsv1.EventList](t, h.do("GET", epPath(nsA, "ep", "/events"), tokAlice, ""))
	if ev := l.Items[0]; ev.Hidden || string(ev.Body) != `{"card":"4242"}` || string(ev.Attempts[0].Response) != "resp" {
		t.Fatalf("list for alice: %+v", l)
	}

	// An empty history is an empty list, not null.
	h.hist.list = eventsv1.EventList{}
	for _, tok := range []string{tokAlice, tokBob} {
		w := h.do("GET", epPath(nsA, "ep", "/events"), tok, "")
		if !strings.Contains(w.Body.String(), `"items":[]`) {
			t.Fatalf("empty list for %s: %s", tok, w.Body)
		}
	}
}

func TestListBadParametersAre400(t *testing.T) {
	h := newHarness(t)
	cases := map[string]string{
		"since=yesterday":         "since",
		"until=2031-13-01T00:00Z": "until",
		"since=-5m":               "since",
		"since=2031-05-02T00:00:00Z&until=2031-05-01T00:00:00Z": "since",
		"status=Lost":                    "status",
		"outcome=maybe":                  "outcome",
		"limit=0":                        "limit",
		"limit=501":                      "limit",
		"limit=ten":                      "limit",
		"watch=sometimes":                "watch",
		"limit=1&limit=2":                "limit",
		"q=" + strings.Repeat("x", 2000): "q",
		"type=%07bell":                   "type",
		"watch=true&status=Failed":       "status",
	}
	for query, param := range cases {
		t.Run(query, func(t *testing.T) {
			h.hist.listCalls = nil
			st := status(t, h.do("GET", epPath(nsA, "ep", "/events?"+query), tokAlice, ""), http.StatusBadRequest)
			if st.Reason != metav1.StatusReasonBadRequest || !strings.Contains(st.Message, "parameter "+param) {
				t.Fatalf("Status %+v: want BadRequest naming parameter %s", st, param)
			}
			if len(h.hist.listCalls) != 0 {
				t.Fatal("a bad query reached the history")
			}
		})
	}
}

func TestAContinueTokenTheHistoryRefusesIs400(t *testing.T) {
	h := newHarness(t)
	errBad := errors.New("invalid continue token")
	h.srv.BadContinue = errBad
	h.hist.err = fmt.Errorf("listing: %w", errBad)
	st := status(t, h.do("GET", epPath(nsA, "ep", "/events?continue=bogus"), tokAlice, ""), http.StatusBadRequest)
	if st.Reason != metav1.StatusReasonBadRequest || !strings.Contains(st.Message, "parameter continue") {
		t.Fatalf("Status %+v: want BadRequest naming parameter continue", st)
	}
	// Any other failure of the history is ours: 500.
	h.hist.err = errors.New("stream gone")
	status(t, h.do("GET", epPath(nsA, "ep", "/events"), tokAlice, ""), http.StatusInternalServerError)
}

func TestUnauthenticatedIs401(t *testing.T) {
	h := newHarness(t)
	st := status(t, h.do("GET", epPath(nsA, "ep", "/events"), "", ""), http.StatusUnauthorized)
	if st.Reason != metav1.StatusReasonUnauthorized || !strings.HasPrefix(st.Message, "the events API needs a bearer token: ") {
		t.Fatalf("no token: %+v", st)
	}
	st = status(t, h.do("GET", epPath(nsA, "ep", "/events"), "wrong", ""), http.StatusUnauthorized)
	if st.Reason != metav1.StatusReasonUnauthorized || strings.Contains(st.Message, "wrong") {
		t.Fatalf("bad token: %+v", st)
	}
	if len(h.hist.listCalls) != 0 {
		t.Fatal("an unauthenticated request reached the history")
	}
}

func TestTokenHeaders(t *testing.T) {
	h := newHarness(t)
	req := func(set func(http.Header)) int {
		r, _ := http.NewRequest("GET", epPath(nsA, "ep", "/events"), nil)
		set(r.Header)
		w := newRecorder()
		h.srv.Handler().ServeHTTP(w, r)
		return w.Code
	}
	if c := req(func(hd http.Header) { hd.Set(eventsv1.AuthorizationHeader, "Bearer "+tokAlice) }); c != 200 {
		t.Fatalf("X-Hookgate-Authorization: %d", c)
	}
	if c := req(func(hd http.Header) { hd.Set("Authorization", "bearer "+tokAlice) }); c != 200 {
		t.Fatalf("Authorization, lower-case scheme: %d", c)
	}
	// Both: the X-Hookgate one wins, whichever is valid.
	if c := req(func(hd http.Header) {
		hd.Set(eventsv1.AuthorizationHeader, "Bearer "+tokAlice)
		hd.Set("Authorization", "Bearer proxy-token")
	}); c != 200 {
		t.Fatalf("both, X-Hookgate valid: %d", c)
	}
	if c := req(func(hd http.Header) {
		hd.Set(eventsv1.AuthorizationHeader, "Bearer wrong")
		hd.Set("Authorization", "Bearer "+tokAlice)
	}); c != 401 {
		t.Fatalf("both, X-Hookgate invalid: %d, want 401", c)
	}
	if c := req(func(hd http.Header) { hd.Set("Authorization", "Basic "+tokAlice) }); c != 401 {
		t.Fatalf("Basic: %d, want 401", c)
	}
}

func TestAuthorizationComesBeforeTheEndpoint(t *testing.T) {
	h := newHarness(t)
	// dave may not: the same 403 whether the endpoint exists or not.
	for _, name := range []string{"ep", "missing"} {
		st := status(t, h.do("GET", epPath(nsA, name, "/events"), tokDave, ""), http.StatusForbidden)
		if st.Message != forbiddenMessage("dave", "list", "events", nsA, name) || st.Reason != metav1.StatusReasonForbidden ||
			st.Details == nil || st.Details.Name != name || st.Details.Group != "hookgate.io" || st.Details.Kind != "webhookendpoints" {
			t.Fatalf("dave on %s: %+v", name, st)
		}
	}
	// Other namespaces: alice's rights are team-a's only.
	st := status(t, h.do("POST", epPath("team-b", "ep", "/retry"), tokAlice, `{"ids":["a"]}`), http.StatusForbidden)
	if st.Message != forbiddenMessage("alice", "create", "replay", "team-b", "ep") {
		t.Fatalf("alice in team-b: %q", st.Message)
	}
	// alice may: then a missing endpoint is the API server's 404.
	st = status(t, h.do("GET", epPath(nsA, "missing", "/events"), tokAlice, ""), http.StatusNotFound)
	if st.Message != `webhookendpoints.hookgate.io "missing" not found` || st.Reason != metav1.StatusReasonNotFound {
		t.Fatalf("missing endpoint: %+v", st)
	}
	// The SubjectAccessReview names the user as the TokenReview did.
	for _, sar := range h.api.sars {
		if sar.User == "alice" && (sar.UID != "u-alice" || !reflect.DeepEqual(sar.Groups, []string{"devs", "system:authenticated"}) ||
			len(sar.Extra["scopes"]) != 1 || sar.ResourceAttributes.Name == "") {
			t.Fatalf("SAR %+v", sar)
		}
	}
}

func TestTextSearchNeedsGet(t *testing.T) {
	h := newHarness(t)
	st := status(t, h.do("GET", epPath(nsA, "ep", "/events?q=card"), tokBob, ""), http.StatusForbidden)
	if st.Message != forbiddenMessage("bob", "get", "events", nsA, "ep") {
		t.Fatalf("bob's text search: %q", st.Message)
	}
	decode[eventsv1.EventList](t, h.do("GET", epPath(nsA, "ep", "/events?q=card"), tokAlice, ""))
}

func TestGetOneEvent(t *testing.T) {
	h := newHarness(t)
	h.hist.events["e1"] = eventsv1.Event{ID: "e1", Body: []byte("body"), Headers: map[string][]string{"A": {"b"}},
		Attempts: []eventsv1.Attempt{{EventID: "e1", Response: []byte("r")}, {EventID: "e1", Response: []byte("r2")}}}

	ev := decode[eventsv1.Event](t, h.do("GET", epPath(nsA, "ep", "/events/e1"), tokAlice, ""))
	if ev.Hidden || string(ev.Body) != "body" || len(ev.Attempts) != 2 || !h.hist.getCalls[0].withBodies ||
		h.hist.getCalls[0].uid != "uid-ep" || h.hist.getCalls[0].id != "e1" {
		t.Fatalf("alice: %+v, call %+v", ev, h.hist.getCalls[0])
	}
	// List without get: the event, hidden.
	ev = decode[eventsv1.Event](t, h.do("GET", epPath(nsA, "ep", "/events/e1"), tokBob, ""))
	if !ev.Hidden || ev.Body != nil || ev.Headers != nil || ev.Attempts[1].Response != nil || h.hist.getCalls[1].withBodies {
		t.Fatalf("bob: %+v", ev)
	}
	// Neither: forbidden, named by the verb that would give the most.
	st := status(t, h.do("GET", epPath(nsA, "ep", "/events/e1"), tokDave, ""), http.StatusForbidden)
	if st.Message != forbiddenMessage("dave", "get", "events", nsA, "ep") {
		t.Fatalf("dave: %q", st.Message)
	}
	st = status(t, h.do("GET", epPath(nsA, "ep", "/events/nope"), tokAlice, ""), http.StatusNotFound)
	if st.Message != `event "nope" not found in the history of webhookendpoint team-a/ep` || st.Reason != metav1.StatusReasonNotFound {
		t.Fatalf("missing event: %+v", st)
	}
	st = status(t, h.do("GET", epPath(nsA, "gone", "/events/e1"), tokAlice, ""), http.StatusNotFound)
	if st.Message != `webhookendpoints.hookgate.io "gone" not found` {
		t.Fatalf("missing endpoint: %+v", st)
	}
	// An id with an escaped slash is one path segment.
	h.hist.events["a/b"] = eventsv1.Event{ID: "a/b"}
	if ev := decode[eventsv1.Event](t, h.do("GET", epPath(nsA, "ep", "/events/a%2Fb"), tokAlice, "")); ev.ID != "a/b" {
		t.Fatalf("escaped id: %+v", ev)
	}
}

func TestRoutes(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{
		eventsv1.PathPrefix,
		eventsv1.PathPrefix + "namespaces/team-a",
		eventsv1.PathPrefix + "namespaces/team-a/webhookendpoints/ep",
		epPath(nsA, "ep", "/history"),
		epPath(nsA, "ep", "/events/e1/attempts"),
		epPath(nsA, "ep", "/events/"),
		epPath(nsA, "ep", "/retry/x"),
		eventsv1.PathPrefix + "namespaces//webhookendpoints/ep/events",
		eventsv1.PathPrefix + "namespaces/team-a/services/ep/events",
		"/apis/events.hookgate.io/v1beta1/namespaces/team-a/webhookendpoints/ep/events",
	} {
		st := status(t, h.do("GET", p, tokAlice, ""), http.StatusNotFound)
		if st.Reason != metav1.StatusReasonNotFound {
			t.Fatalf("%s: %+v", p, st)
		}
	}
	for _, c := range []struct{ method, path, allow string }{
		{"POST", epPath(nsA, "ep", "/events"), "GET"},
		{"DELETE", epPath(nsA, "ep", "/events/e1"), "GET"},
		{"GET", epPath(nsA, "ep", "/retry"), "POST"},
		{"PUT", epPath(nsA, "ep", "/replay"), "POST"},
	} {
		w := h.do(c.method, c.path, tokAlice, "")
		st := status(t, w, http.StatusMethodNotAllowed)
		if st.Reason != metav1.StatusReasonMethodNotAllowed || w.Header().Get("Allow") != c.allow {
			t.Fatalf("%s %s: %+v, Allow %q", c.method, c.path, st, w.Header().Get("Allow"))
		}
	}
}
