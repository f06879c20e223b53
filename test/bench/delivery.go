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

// drainRun ingests into the suspended deliver endpoint, then resumes it
// and times the drain from the first delivery to the last.
func (b *bench) drainRun(ctx context.Context) error {
	cl, ep, c := b.cl, b.deliver, b.cfg.concurrency[0]
	progress("delivery: ingest with delivery suspended, c%d, then resume and drain", c)
	if err := cl.alive(); err != nil {
		return err
	}
	deliv0, err := cl.counter(ctx, ep, queue.CounterDelivered)
	if err != nil {
		return err
	}
	spec := b.loadSpec(c, cl.receiverURL()+ep.path)
	spec.meter = newCPUMeter().add(progReceiver, cl.receiver.pid()).add("manager", cl.manager.pid())
	res := generate(ctx, spec, b.wl, progReceiver)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	stored, err := cl.storedEvents(ctx, ep)
	if err != nil {
		return err
	}
	row := deliveryRow{Phase: "ingest suspended, then drain", Fsync: fsyncLabel(cl.syncAlways), Concurrency: c}
	row.fillIngest(res)
	stored64 := int64(stored)
	row.Stored = &stored64
	b.rep.check("delivery drain: events stored while suspended = 2xx answers", res.OK, stored64)

	meter := newCPUMeter().add(progReceiver, cl.receiver.pid()).add("manager", cl.manager.pid())
	meter.markStart()
	resumed := time.Now()
	if err := cl.setSuspend(ctx, ep, false); err != nil {
		return err
	}
	werr := b.sink.waitDistinct(ctx, spec.tag, int(res.OK), b.cfg.drainTimeout)
	meter.markEnd()
	got := b.sink.counts(spec.tag)
	row.Delivered, row.Repeats = int64(got.Distinct), got.Repeats
	if got.Distinct > 0 {
		row.ResumeToFirstMs = ms(got.First.Sub(resumed))
		if span := got.Last.Sub(got.First); got.Distinct > 1 && span > 0 {
			row.DeliveredPerSec = float64(got.Distinct-1) / span.Seconds()
		}
		if cpu, _, err := meter.result(); err == nil {
			row.DeliveryCPUPerEventUs = us(cpu[0].CPU / time.Duration(got.Distinct))
		}
	}
	b.rep.check("delivery drain: distinct events delivered = 2xx answers", res.OK, int64(got.Distinct))
	if werr != nil {
		b.rep.fail("delivery drain: " + werr.Error())
	}
	deliv, err := cl.waitCounter(ctx, ep, queue.CounterDelivered, deliv0+res.OK, 30*time.Second)
	if err != nil {
		return err
	}
	b.rep.check("delivery drain: delivered counter = 2xx answers", res.OK, deliv-deliv0)
	b.rep.addDelivery(row)
	return b.checkEmpty(ctx, ep, "delivery drain")
}

// concurrentRun loads the resumed deliver endpoint and counts deliveries
// inside the same window as the answers.
func (b *bench) concurrentRun(ctx context.Context) error {
	cl, ep, c := b.cl, b.deliver, b.cfg.concurrency[0]
	progress("delivery: ingest and delivery together, c%d", c)
	if err := cl.alive(); err != nil {
		return err
	}
	deliv0, err := cl.counter(ctx, ep, queue.CounterDelivered)
	if err != nil {
		return err
	}
	spec := b.loadSpec(c, cl.receiverURL()+ep.path)
	spec.meter = newCPUMeter().add(progReceiver, cl.receiver.pid()).add("manager", cl.manager.pid())
	var mu sync.Mutex
	var inWindow [2]int
	spec.onWindow = func(start bool) {
		n := b.sink.distinct(spec.tag)
		mu.Lock()
		defer mu.Unlock()
		if start {
			inWindow[0] = n
		} else {
			inWindow[1] = n
		}
	}
	res := generate(ctx, spec, b.wl, progReceiver)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	loadEnd := time.Now()
	row := deliveryRow{Phase: "ingest and delivery together", Fsync: fsyncLabel(cl.syncAlways), Concurrency: c}
	row.fillIngest(res)
	mu.Lock()
	row.DeliveredPerSec = float64(inWindow[1]-inWindow[0]) / spec.duration.Seconds()
	mu.Unlock()
	werr := b.sink.waitDistinct(ctx, spec.tag, int(res.OK), b.cfg.drainTimeout)
	row.TailMs = ms(time.Since(loadEnd))
	got := b.sink.counts(spec.tag)
	row.Delivered, row.Repeats = int64(got.Distinct), got.Repeats
	b.rep.check("delivery with ingest: distinct events delivered = 2xx answers", res.OK, int64(got.Distinct))
	if werr != nil {
		b.rep.fail("delivery with ingest: " + werr.Error())
	}
	deliv, err := cl.waitCounter(ctx, ep, queue.CounterDelivered, deliv0+res.OK, 30*time.Second)
	if err != nil {
		return err
	}
	b.rep.check("delivery with ingest: delivered counter = 2xx answers", res.OK, deliv-deliv0)
	b.rep.addDelivery(row)
	return b.checkEmpty(ctx, ep, "delivery with ingest")
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
