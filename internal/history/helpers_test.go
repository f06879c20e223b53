package history

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
	"github.com/hookgate/hookgate/internal/queue/queuetest"
)

// start runs an embedded JetStream with the history stream.
func start(t testing.TB) jetstream.JetStream {
	t.Helper()
	q, _ := queuetest.Start(t, queue.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Ensure(ctx, q.JS, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return q.JS
}

// flush waits until every record r published is acknowledged.
func flush(t testing.TB, r *Recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func value(t testing.TB, c prometheus.Counter) int {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return int(m.GetCounter().GetValue())
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// accepted is an accepted event with a JSON body.
func accepted(id string, at time.Time) *eventsv1.Event {
	return &eventsv1.Event{
		ID: id, Namespace: "ns", Endpoint: "ep", Time: at, Outcome: eventsv1.OutcomeAccepted, Code: 202,
		Status: eventsv1.StatusPending, Provider: "github", Method: "POST",
		Headers: map[string][]string{"Content-Type": {"application/json"}, "X-Github-Event": {"push"}},
		Body:    []byte(`{"action":"opened"}`), Size: 19,
	}
}

func rejected(at time.Time) *eventsv1.Event {
	return &eventsv1.Event{
		ID: nuid.Next(), Namespace: "ns", Endpoint: "ep", Time: at, Outcome: eventsv1.OutcomeRejected, Code: 401,
		Reason: "SignatureMismatch", Method: "POST", Size: 10,
		Headers: map[string][]string{"X-Secret-Ish": {"abc"}}, Body: []byte("not stored"),
	}
}

func ids(l *eventsv1.EventList) []string {
	out := make([]string, len(l.Items))
	for i, ev := range l.Items {
		out[i] = ev.ID
	}
	return out
}

// count returns how many records match filter.
func count(t testing.TB, js jetstream.JetStream, filter string) int {
	t.Helper()
	s, err := js.Stream(context.Background(), Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}
