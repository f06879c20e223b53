package dispatch

import (
	"context"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookgate/hookgate/ingress/registry"
	"github.com/hookgate/hookgate/internal/filter"
	"github.com/hookgate/hookgate/internal/queue"
)

// fanoutTimeout bounds copying one event to every target of its endpoint.
const fanoutTimeout = 10 * time.Second

// fanout copies an event of an endpoint with several targets to each
// target's own queue, then acknowledges it: from there each target is
// delivered, retried, dead-lettered and counted on its own, and one that
// fails holds up only its own queue. A copy carries a Nats-Msg-Id made of
// the event's sequence and the target, so an event copied again (this
// replica died before the ack) is not stored twice for a target within the
// events stream's duplicate window.
func (d *Dispatcher) fanout(ctx context.Context, u *unit, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil || ctx.Err() != nil {
		_ = msg.Nak()
		return
	}
	seq := md.Sequence.Stream
	h := nats.Header{}
	for k, vs := range msg.Headers() {
		if !strings.HasPrefix(k, "Nats-") {
			h[k] = vs
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fanoutTimeout)
	defer cancel()
	// Filters see one decoded event (read once, if any target filters).
	var fev *filter.Event
	for _, t := range u.ep.Targets {
		if t.Filter != nil {
			if fev == nil {
				var err error
				if fev, err = d.filterEvent(cctx, u, msg); err != nil {
					_ = msg.NakWithDelay(time.Second)
					return
				}
			}
			if !d.wants(cctx, u, t, fev) {
				// Counted under the target, once: the sequence is the
				// endpoint's event's, unique in the events stream.
				if _, counted := d.countOnce(ctx, &unit{key: t.Key, ep: u.ep, t: t}, queue.CounterDropped, seq, "dropped"); !counted {
					_ = msg.NakWithDelay(time.Second)
					return
				}
				continue
			}
		}
		id := "fan." + u.key + "." + strconv.FormatUint(seq, 10) + "." + t.Name
		// A body stored by reference is copied for each target, which
		// releases its copy once it has delivered.
		th, err := d.Queue.CopyBody(cctx, h)
		if err != nil {
			d.Log.Error(err, "Copying an event's body for a target failed; will retry", "endpoint", u.ep.Name(), "target", t.Name)
			_ = msg.NakWithDelay(time.Second)
			return
		}
		dest := t.Key
		if t.OrderKey != nil {
			if fev == nil {
				if fev, err = d.filterEvent(cctx, u, msg); err != nil {
					_ = d.Queue.ReleaseBody(cctx, th)
					_ = msg.NakWithDelay(time.Second)
					return
				}
			}
			dest = queue.PartitionKey(t.Key, d.partition(u, t, fev))
		}
		ack, err := d.Queue.JS.PublishMsg(cctx, &nats.Msg{Subject: queue.EventsSubject(dest), Header: th, Data: msg.Data()}, jetstream.WithMsgID(id))
		if err != nil || ack.Duplicate {
			_ = d.Queue.ReleaseBody(cctx, th)
		}
		if err != nil {
			// Copied again later, to every target: those that have it
			// already drop the copy as a duplicate.
			d.Log.Error(err, "Copying an event to a target's queue failed; will retry", "endpoint", u.ep.Name(), "target", t.Name)
			_ = msg.NakWithDelay(time.Second)
			return
		}
		if !ack.Duplicate {
			// Queued for the target now: on its quota until it finishes.
			_ = d.Queue.Incr(dest, queue.CounterQueuedBytes, queue.BodySize(h, msg.Data()))
		}
	}
	first, counted := d.countOnce(ctx, u, queue.CounterDelivered, seq, "routed")
	if !counted {
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if err := msg.DoubleAck(cctx); err != nil {
		d.Log.Error(err, "Acknowledging a copied event failed; it may be copied again", "endpoint", u.ep.Name())
		return
	}
	d.Queue.Acked(u.key, seq)
	if first {
		d.unqueue(u.key, msg)
	}
	_ = d.Queue.ReleaseBody(cctx, msg.Headers())
}

// filterEvent is the event as filters and ordering keys see it, its body
// read once for all targets.
func (d *Dispatcher) filterEvent(ctx context.Context, u *unit, msg jetstream.Msg) (*filter.Event, error) {
	body, err := d.Queue.EventBody(ctx, msg.Headers(), msg.Data())
	if err != nil {
		d.Log.Error(err, "Reading an event's body for the targets' filters and keys failed; will retry", "endpoint", u.ep.Name())
		return nil, err
	}
	return eventOf(u.ep, msg.Headers(), body), nil
}

// partition is the ordered sequence of target t the event belongs to: the
// hash of its key. An event whose key cannot be evaluated goes with the
// key "", in order with the others that cannot.
func (d *Dispatcher) partition(u *unit, t *registry.Target, ev *filter.Event) int {
	key, err := t.OrderKey.Of(ev)
	if err != nil {
		d.Log.V(1).Info("Ordering key failed on an event; ordering it with key \"\"", "endpoint", u.ep.Name(), "target", t.Name, "error", err.Error())
		key = ""
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(t.Partitions))
}
