package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/history"
	"github.com/hookgate/hookgate/internal/queue"
)

// Every request to a known endpoint is in its history, with what was
// answered and why; an accepted event's record has the stored event's id,
// its type, and its headers and body as stored (credentials never were).
func TestEveryRequestIsRecordedInTheHistory(t *testing.T) {
	ep := githubEndpoint()
	ep.EventType = hookv1.EventTypeInfo{Header: "X-GitHub-Event"}
	ep.History = history.PolicyFor(hookv1.HistorySpec{RedactFields: []string{"number"}})
	f := newFixture(t, ep)
	ctx := context.Background()
	if err := history.Ensure(ctx, f.q.JS, history.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	rec := history.NewRecorder(f.q.JS, history.RecorderOptions{})
	f.h.History = rec

	for i, c := range []struct {
		req  *http.Request
		code int
	}{
		{githubRequest(payload, "d-1", githubKey), http.StatusOK},
		{githubRequest(payload, "d-1", githubKey), http.StatusOK},                 // a redelivery
		{githubRequest(payload, "d-2", []byte("wrong")), http.StatusUnauthorized}, // forged
	} {
		if got := f.serveAuth(c.req, "").Code; got != c.code {
			t.Fatalf("request %d answered %d, want %d", i, got, c.code)
		}
	}
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := history.NewReader(f.q.JS).List(ctx, endpointU, []string{"target"}, eventsv1.Query{Since: now.Add(-time.Minute)}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 3 {
		t.Fatalf("history has %d records, want 3: %+v", len(page.Items), page.Items)
	}
	acc, dup, bad := page.Items[0], page.Items[1], page.Items[2]
	if acc.Outcome != eventsv1.OutcomeAccepted || acc.Code != 200 || acc.DeliveryID != "d-1" || acc.Type != "pull_request" ||
		acc.Namespace != "team-a" || acc.Endpoint != "github" || acc.Status != eventsv1.StatusPending {
		t.Fatalf("accepted record: %+v", acc)
	}
	if string(acc.Body) != `{"action":"opened","number":"[REDACTED]"}` || len(acc.Redacted) != 1 {
		t.Fatalf("accepted body %q redacted %v", acc.Body, acc.Redacted)
	}
	if acc.Headers["Authorization"] != nil || acc.Headers["Cookie"] != nil || acc.Headers["X-Github-Event"][0] != "pull_request" {
		t.Fatalf("accepted headers: %v", acc.Headers)
	}
	stored := storedEvents(t, f.q)
	if len(stored) != 1 || stored[0].Header.Get(queue.HeaderEventID) != acc.ID {
		t.Fatalf("the record's id %q is not the stored event's Hookgate-Event-Id", acc.ID)
	}
	if dup.Outcome != eventsv1.OutcomeDuplicate || dup.Body != nil || dup.ID == acc.ID {
		t.Fatalf("duplicate record: %+v", dup)
	}
	if bad.Outcome != eventsv1.OutcomeRejected || bad.Code != 401 || bad.Reason == "" || bad.Body != nil || bad.Headers != nil {
		t.Fatalf("rejected record: %+v", bad)
	}
}
