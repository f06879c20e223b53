package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hookgate/hookgate/internal/queue"
)

// runDelivery measures delivery to the local target at the first
// concurrency: a backlog ingested while the endpoint is suspended and then
// drained, and ingest with delivery running alongside.
func (b *bench) runDelivery(ctx context.Context) error {
	if err := b.drainRun(ctx); err != nil {
		return fmt.Errorf("delivery (drain): %w", err)
	}
	if err := b.concurrentRun(ctx); err != nil {
		return fmt.Errorf("delivery (with ingest): %w", err)
	}
	return nil
}

// deliveryPhase is one of the two delivery runs: set up and checked the
// same way, measured differently.
type deliveryPhase struct {
	// name prefixes its checks.
	name   string
	ep     endpoint
	c      int
	deliv0 int64
	spec   loadSpec
}

// startDelivery announces a delivery run and reads the endpoint's delivered
// counter before it.
func (b *bench) startDelivery(ctx context.Context, name, announce string) (*deliveryPhase, error) {
	cl, ep, c := b.cl, b.deliver, b.cfg.concurrency[0]
	progress("delivery: "+announce+", c%d", c)
	if err := cl.alive(); err != nil {
		return nil, err
	}
	deliv0, err := cl.counter(ctx, ep, queue.CounterDelivered)
	if err != nil {
		return nil, err
	}
	spec := b.loadSpec(c, cl.receiverURL()+ep.path)
	spec.meter = newCPUMeter().add(progReceiver, cl.receiver.pid()).add("manager", cl.manager.pid())
	return &deliveryPhase{name: name, ep: ep, c: c, deliv0: deliv0, spec: spec}, nil
}

// finishDelivery checks that every 2xx answer reached the target once
// (werr: waiting for that failed), that the delivered counter says so and
// that nothing is left queued, and records the row.
func (b *bench) finishDelivery(ctx context.Context, p *deliveryPhase, res *runResult, row deliveryRow, werr error) error {
	got := b.sink.counts(p.spec.tag)
	row.Delivered, row.Repeats = int64(got.Distinct), got.Repeats
	b.rep.check(p.name+": distinct events delivered = 2xx answers", res.OK, int64(got.Distinct))
	if werr != nil {
		b.rep.fail(p.name + ": " + werr.Error())
	}
	deliv, err := b.cl.waitCounter(ctx, p.ep, queue.CounterDelivered, p.deliv0+res.OK, 30*time.Second)
	if err != nil {
		return err
	}
	b.rep.check(p.name+": delivered counter = 2xx answers", res.OK, deliv-p.deliv0)
	b.rep.addDelivery(row)
	return b.checkEmpty(ctx, p.ep, p.name)
}

// drainRun ingests into the suspended deliver endpoint, then resumes it
// and times the drain from the first delivery to the last.
func (b *bench) drainRun(ctx context.Context) error {
	p, err := b.startDelivery(ctx, "delivery drain", "ingest with delivery suspended, then resume and drain")
	if err != nil {
		return err
	}
	cl := b.cl
	res := generate(ctx, p.spec, b.wl, progReceiver)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	stored, err := cl.storedEvents(ctx, p.ep)
	if err != nil {
		return err
	}
	row := deliveryRow{Phase: "ingest suspended, then drain", Fsync: fsyncLabel(cl.syncAlways), Concurrency: p.c}
	row.fillIngest(res)
	stored64 := int64(stored)
	row.Stored = &stored64
	b.rep.check("delivery drain: events stored while suspended = 2xx answers", res.OK, stored64)

	meter := newCPUMeter().add(progReceiver, cl.receiver.pid()).add("manager", cl.manager.pid())
	meter.markStart()
	resumed := time.Now()
	if err := cl.setSuspend(ctx, p.ep, false); err != nil {
		return err
	}
	werr := b.sink.waitDistinct(ctx, p.spec.tag, int(res.OK), b.cfg.drainTimeout)
	meter.markEnd()
	if got := b.sink.counts(p.spec.tag); got.Distinct > 0 {
		row.ResumeToFirstMs = ms(got.First.Sub(resumed))
		if span := got.Last.Sub(got.First); got.Distinct > 1 && span > 0 {
			row.DeliveredPerSec = float64(got.Distinct-1) / span.Seconds()
		}
		if cpu, _, err := meter.result(); err == nil {
			row.DeliveryCPUPerEventUs = us(cpu[0].CPU / time.Duration(got.Distinct))
		}
	}
	return b.finishDelivery(ctx, p, res, row, werr)
}

// concurrentRun loads the resumed deliver endpoint and counts deliveries
// inside the same window as the answers.
func (b *bench) concurrentRun(ctx context.Context) error {
	p, err := b.startDelivery(ctx, "delivery with ingest", "ingest and delivery together")
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var inWindow [2]int
	p.spec.onWindow = func(start bool) {
		n := b.sink.distinct(p.spec.tag)
		mu.Lock()
		defer mu.Unlock()
		if start {
			inWindow[0] = n
		} else {
			inWindow[1] = n
		}
	}
	res := generate(ctx, p.spec, b.wl, progReceiver)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	loadEnd := time.Now()
	row := deliveryRow{Phase: "ingest and delivery together", Fsync: fsyncLabel(b.cl.syncAlways), Concurrency: p.c}
	row.fillIngest(res)
	mu.Lock()
	row.DeliveredPerSec = float64(inWindow[1]-inWindow[0]) / p.spec.duration.Seconds()
	mu.Unlock()
	werr := b.sink.waitDistinct(ctx, p.spec.tag, int(res.OK), b.cfg.drainTimeout)
	row.TailMs = ms(time.Since(loadEnd))
	return b.finishDelivery(ctx, p, res, row, werr)
}

// checkEmpty checks that nothing of ep waits in the events stream once
// everything was delivered: the dispatcher acknowledged what it delivered.
func (b *bench) checkEmpty(ctx context.Context, ep endpoint, name string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := b.cl.storedEvents(ctx, ep)
		if err != nil {
			return err
		}
		if n == 0 || time.Now().After(deadline) {
			b.rep.check(name+": events left in the stream after the drain", 0, int64(n))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
