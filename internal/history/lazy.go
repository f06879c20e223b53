package history

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// Lazy is the history as the manager uses it: read by the events API,
// written to when a person retries an event, trimmed and purged by the
// controller. It connects on first use and again after a failure, so the
// manager starts while the receiver (which hosts the embedded JetStream)
// is still coming up. The receivers make the stream; Lazy never does.
type Lazy struct {
	// Conn returns the manager's NATS connection.
	Conn func(ctx context.Context) (*nats.Conn, error)
	// Log gets failures to record an action.
	Log logr.Logger

	mu  sync.Mutex
	js  jetstream.JetStream
	rd  *Reader
	rec *Recorder
}

func (l *Lazy) get(ctx context.Context) (jetstream.JetStream, *Reader, *Recorder, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.js != nil {
		return l.js, l.rd, l.rec, nil
	}
	nc, err := l.Conn(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if !nc.IsConnected() {
		return nil, nil, nil, fmt.Errorf("not connected to NATS")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating JetStream context: %w", err)
	}
	l.js, l.rd = js, NewReader(js)
	// Actions are few: no budget for them, a small bound on pending acks.
	l.rec = NewRecorder(js, RecorderOptions{MaxPending: 256, RejectedPerSecond: -1, Log: l.Log})
	return l.js, l.rd, l.rec, nil
}

// List implements the events API's History.
func (l *Lazy) List(ctx context.Context, uid string, targets []string, q eventsv1.Query, withBodies bool) (*eventsv1.EventList, error) {
	_, rd, _, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return rd.List(ctx, uid, targets, q, withBodies)
}

// Get implements the events API's History.
func (l *Lazy) Get(ctx context.Context, uid, id string, targets []string, withBodies bool) (*eventsv1.Event, error) {
	_, rd, _, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return rd.Get(ctx, uid, id, targets, withBodies)
}

// Watch implements the events API's History.
func (l *Lazy) Watch(ctx context.Context, uid string, withBodies bool, fn func(eventsv1.WatchEvent) error) error {
	_, rd, _, err := l.get(ctx)
	if err != nil {
		return err
	}
	return rd.Watch(ctx, uid, withBodies, fn)
}

// Trim implements the controller's HistoryKeeper.
func (l *Lazy) Trim(ctx context.Context, uid string, keep int64) error {
	js, _, _, err := l.get(ctx)
	if err != nil {
		return err
	}
	return Trim(ctx, js, uid, keep)
}

// Purge implements the controller's HistoryKeeper.
func (l *Lazy) Purge(ctx context.Context, uid string) error {
	js, _, _, err := l.get(ctx)
	if err != nil {
		return err
	}
	return Purge(ctx, js, uid)
}

// Retried implements the events API's ActionLog: the retry shows in the
// event's history as an attempt with outcome Retried and who did it.
func (l *Lazy) Retried(obj *hookv1.WebhookEndpoint, a *eventsv1.Attempt) {
	p := PolicyFor(obj.Spec.History)
	if p.Disabled {
		return
	}
	_, _, rec, err := l.get(context.Background())
	if err != nil {
		l.Log.Error(err, "Recording a retry in the history failed", "endpoint", obj.Namespace+"/"+obj.Name, "event", a.EventID)
		return
	}
	// With one target the retry decides the event's status (Pending again
	// until the next attempt); with several it is a note beside theirs,
	// since only some of them may have dead-lettered it.
	if ts := obj.Spec.DeliveryTargets(); a.Target == "" && len(ts) == 1 {
		cp := *a
		cp.Target = ts[0].Name
		a = &cp
	}
	rec.Attempt(string(obj.UID), p, a)
}

// Close flushes recorded actions.
func (l *Lazy) Close(ctx context.Context) error {
	l.mu.Lock()
	rec := l.rec
	l.mu.Unlock()
	if rec == nil {
		return nil
	}
	return rec.Close(ctx)
}
