package dispatch

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/filter"
	"github.com/hookgate/hookgate/internal/queue"
)

// Headers of a delivery in CloudEvents binary mode (CloudEvents 1.0 HTTP
// binding); the body and its Content-Type are the provider's.
const (
	HeaderIdempotencyKey = hookv1.DeliveryHeaderIdempotencyKey
	ceSpecVersion        = "Ce-Specversion"
	ceID                 = "Ce-Id"
	ceSource             = "Ce-Source"
	ceType               = "Ce-Type"
	ceTime               = "Ce-Time"
	// ceProvider is an extension attribute: the Hookgate provider, so a
	// Knative Trigger or Argo sensor can filter on it.
	ceProvider = "Ce-Hookgateprovider"
)

// eventID is the stored event's own id: the same on every attempt, in
// every target's copy, in its dead letter and after a replay. An event
// stored before ids were given gets its queue key and sequence instead.
func eventID(key string, h nats.Header, seq uint64) string {
	if id := h.Get(queue.HeaderEventID); id != "" {
		return id
	}
	return key + "-" + strconv.FormatUint(seq, 10)
}

// originalHeader is the provider's request headers as stored.
func originalHeader(h nats.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if orig, ok := strings.CutPrefix(k, queue.HeaderOrigPrefix); ok {
			out[orig] = vs
		}
	}
	return out
}

// eventOf is the stored event as filters and CloudEvents see it.
func eventOf(ep *registry.Endpoint, h nats.Header, body []byte) *filter.Event {
	orig := originalHeader(h)
	at, _ := time.Parse(time.RFC3339Nano, h.Get(queue.HeaderReceivedAt))
	return &filter.Event{
		Provider: h.Get(queue.HeaderProvider), Type: ep.EventType.Of(orig, body), Endpoint: ep.Name(),
		DeliveryID: h.Get(queue.HeaderDelivery), Header: orig, Body: body, ReceivedAt: at,
	}
}

// ceSourceOf is an endpoint's CloudEvents source: its API path, unique in
// the cluster.
func ceSourceOf(ep *registry.Endpoint) string {
	return "/apis/hookgate.io/v1alpha1/namespaces/" + ep.Key.Namespace + "/webhookendpoints/" + ep.Key.Name
}

// setCloudEvent makes req a CloudEvents binary-mode message of the event.
func setCloudEvent(req *http.Request, ep *registry.Endpoint, h nats.Header, body []byte, id string) {
	ev := eventOf(ep, h, body)
	typ := ev.Type
	if typ == "" {
		typ = ev.Provider
	}
	req.Header.Set(ceSpecVersion, "1.0")
	req.Header.Set(ceID, id)
	req.Header.Set(ceSource, ceSourceOf(ep))
	req.Header.Set(ceType, typ)
	if !ev.ReceivedAt.IsZero() {
		req.Header.Set(ceTime, ev.ReceivedAt.UTC().Format(time.RFC3339Nano))
	}
	req.Header.Set(ceProvider, ev.Provider)
}

// wants reports whether target t's filter lets the event through. An
// expression that fails on this event (a field its body lacks, a result
// that is no bool) does not: it is logged and counted.
func (d *Dispatcher) wants(ctx context.Context, u *unit, t *registry.Target, ev *filter.Event) bool {
	ok, err := t.Filter.MatchContext(ctx, ev)
	if err != nil {
		if d.Metrics != nil {
			d.Metrics.FilterErrors.WithLabelValues(u.ep.Name(), t.Name).Inc()
		}
		d.Log.V(1).Info("Filter failed on an event; not delivering it to the target", "endpoint", u.ep.Name(), "target", t.Name, "error", err.Error())
		return false
	}
	return ok
}

// filteredOut finishes an event that target u.t's filter does not want: it
// is counted as dropped, once, and acknowledged. It reports false (deliver
// it) when the event passes. body is the event's, read by the caller (one
// whose body cannot be read is left to the delivery path).
func (d *Dispatcher) filteredOut(ctx context.Context, u *unit, msg jetstream.Msg, seq uint64, body []byte) bool {
	if d.wants(ctx, u, u.t, eventOf(u.ep, msg.Headers(), body)) {
		return false
	}
	first, counted := d.countOnce(ctx, u, queue.CounterDropped, seq, "dropped")
	if !counted {
		_ = msg.NakWithDelay(time.Second)
		return true
	}
	ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(ackCtx); err != nil {
		if !errors.Is(err, context.Canceled) {
			d.Log.Error(err, "Acknowledging a filtered-out event failed; it may be filtered again", "endpoint", u.ep.Name())
		}
		return true
	}
	d.Queue.Acked(u.key, seq)
	if first {
		d.unqueue(u.key, msg)
	}
	_ = d.Queue.ReleaseBody(ackCtx, msg.Headers())
	if d.History != nil && u.ep.History != nil && !u.ep.History.Disabled {
		d.History.Attempt(u.ep.UID, u.ep.History, &eventsv1.Attempt{EventID: eventID(u.key, msg.Headers(), seq), Target: u.t.Name,
			Time: time.Now().UTC(), Outcome: eventsv1.AttemptDropped, Reason: "FilteredOut", Error: "the target's filter did not select the event"})
	}
	return true
}
