package v1alpha1

import (
	"testing"
	"time"
)

func TestQueryMatch(t *testing.T) {
	at := time.Date(2026, 12, 1, 14, 10, 0, 0, time.UTC)
	ev := &Event{Outcome: OutcomeAccepted, DeliveryID: "d-1", Type: "push", Time: at,
		Headers: map[string][]string{"X-Github-Event": {"Push"}}, Body: []byte(`{"Customer":"ACME"}`)}
	rejected := &Event{Outcome: OutcomeRejected, Time: at}
	for _, c := range []struct {
		name    string
		q       Query
		ev, rej bool
	}{
		{"everything", Query{}, true, true},
		{"outcome", Query{Outcome: OutcomeRejected}, false, true},
		{"a status selects accepted events only", Query{Status: StatusDelivered}, true, false},
		{"delivery", Query{DeliveryID: "d-1"}, true, false},
		{"other delivery", Query{DeliveryID: "d-2"}, false, false},
		{"type", Query{Type: "push"}, true, false},
		{"since is inclusive", Query{Since: at}, true, true},
		{"until is exclusive", Query{Until: at}, false, false},
		{"in the window", Query{Since: at.Add(-time.Minute), Until: at.Add(time.Minute)}, true, true},
		{"text in a header, any case", Query{Text: "pUsH"}, true, false},
		{"text in the body, any case", Query{Text: "acme"}, true, false},
		{"text nowhere", Query{Text: "nope"}, false, false},
	} {
		m := c.q.Match()
		if got := m(ev); got != c.ev {
			t.Errorf("%s: accepted event matched %v, want %v", c.name, got, c.ev)
		}
		if got := m(rejected); got != c.rej {
			t.Errorf("%s: rejected request matched %v, want %v", c.name, got, c.rej)
		}
	}
}
