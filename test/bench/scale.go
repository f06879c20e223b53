package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// runScale creates endpoints in steps up to each N of -endpoints and
// measures how long the manager and the receiver take to converge, what
// they hold in memory and burn at rest, and how long one event takes to
// reach the target among N endpoints.
func (b *bench) runScale(ctx context.Context) error {
	cl := b.cl
	if err := cl.createNamespace(ctx, scaleNS, b.wl.key); err != nil {
		return err
	}
	// The same readings before any of the N exist, to set them against.
	progress("endpoints: idle reading with no scale endpoints (%s)", b.cfg.idle)
	base := scaleRow{Fsync: fsyncLabel(cl.syncAlways)}
	if err := b.idleReading(ctx, &base); err != nil {
		return err
	}
	b.rep.addScale(base)
	created := 0
	for _, n := range b.cfg.endpoints {
		row := scaleRow{N: n, Created: n - created, Fsync: fsyncLabel(cl.syncAlways)}
		progress("endpoints: creating %d more, to %d (%d parallel requests)", n-created, n, b.cfg.workers)
		start := time.Now()
		if err := b.createScale(ctx, created+1, n); err != nil {
			return err
		}
		lastCreate := time.Now()
		row.CreateS = lastCreate.Sub(start).Seconds()
		created = n
		progress("endpoints: waiting until all %d are Ready (at most %s)", n, b.cfg.converge)
		ready, err := b.waitScaleReady(ctx, n)
		if err != nil {
			return err
		}
		row.ConvergeS = ready.Sub(lastCreate).Seconds()
		if err := cl.alive(); err != nil {
			return err
		}
		progress("endpoints: idle reading with %d endpoints (%s after %s to settle)", n, b.cfg.idle, b.cfg.settle)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(b.cfg.settle):
		}
		if err := b.idleReading(ctx, &row); err != nil {
			return err
		}
		if b.cfg.probes > 0 {
			progress("endpoints: %d events to random endpoints among %d", b.cfg.probes, n)
			lat, err := b.probe(ctx, n)
			if err != nil {
				return err
			}
			row.ProbeP50Ms, row.ProbeMaxMs = ms(percentile(lat, 50)), ms(lat[len(lat)-1])
		}
		b.rep.addScale(row)
	}
	return nil
}

func scaleName(i int) string { return fmt.Sprintf("ep-%05d", i) }

// createScale creates endpoints from..to with a bounded number of parallel
// requests, each retried a few times on a transient error.
func (b *bench) createScale(ctx context.Context, from, to int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range b.cfg.workers {
		wg.Go(func() {
			for i := range next {
				if err := b.createOne(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
feed:
	for i := from; i <= to; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return err
	}
	return ctx.Err()
}

func (b *bench) createOne(ctx context.Context, i int) error {
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		err = b.cl.k8s.Create(ctx, b.cl.newEndpoint(scaleNS, scaleName(i), false))
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
	return fmt.Errorf("creating WebhookEndpoint %s/%s: %w", scaleNS, scaleName(i), err)
}

// waitScaleReady follows the scale endpoints with one list and then a
// watch, as kubectl wait does, until n are reconciled, and returns when
// the change that made it n arrived. Polling the list instead (10,000
// objects a time) would load the API server the manager needs and measure
// the poll as much as the manager.
func (b *bench) waitScaleReady(ctx context.Context, n int) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.converge)
	defer cancel()
	ready := &readySet{}
	count := func() int { return ready.n }
	lastReport := time.Now()
	for {
		rv, err := b.listScale(ctx, ready)
		if err != nil {
			return time.Time{}, b.convergeErr(ctx, err, count(), n)
		}
		if count() >= n {
			return time.Now(), nil
		}
		w, err := b.cl.k8s.Watch(ctx, &hookv1.WebhookEndpointList{}, client.InNamespace(scaleNS), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
		if err != nil {
			return time.Time{}, b.convergeErr(ctx, err, count(), n)
		}
		done, err := func() (bool, error) {
			defer w.Stop()
			for ev := range w.ResultChan() {
				switch ev.Type {
				case watch.Error:
					// Expired or dropped: list again from now.
					return false, nil
				case watch.Deleted:
					if we, ok := ev.Object.(*hookv1.WebhookEndpoint); ok {
						ready.set(we.Name, false)
					}
				case watch.Added, watch.Modified:
					if we, ok := ev.Object.(*hookv1.WebhookEndpoint); ok {
						ready.set(we.Name, reconciled(we))
					}
				}
				if count() >= n {
					return true, nil
				}
				if time.Since(lastReport) > 30*time.Second {
					progress("endpoints: %d of %d Ready", count(), n)
					lastReport = time.Now()
				}
			}
			return false, ctx.Err()
		}()
		if done {
			return time.Now(), nil
		}
		if err != nil {
			return time.Time{}, b.convergeErr(ctx, err, count(), n)
		}
		if err := b.cl.alive(); err != nil {
			return time.Time{}, err
		}
	}
}

func (b *bench) convergeErr(ctx context.Context, err error, ready, n int) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%d of %d endpoints Ready after %s (manager log: %s)", ready, n, b.cfg.converge, b.cl.manager.log)
	}
	return fmt.Errorf("following endpoints: %w", err)
}

// readySet is which endpoints are reconciled, with their count kept as
// it changes: counting 10,000 names on every watch event would load the
// machine being measured.
type readySet struct {
	names map[string]bool
	n     int
}

func (r *readySet) set(name string, ready bool) {
	if r.names == nil {
		r.names = map[string]bool{}
	}
	if r.names[name] != ready {
		if ready {
			r.n++
		} else {
			r.n--
		}
	}
	if ready {
		r.names[name] = true
	} else {
		delete(r.names, name)
	}
}

// listScale records which scale endpoints are reconciled, a page at a
// time, and returns the resourceVersion to watch from.
func (b *bench) listScale(ctx context.Context, ready *readySet) (string, error) {
	*ready = readySet{}
	opts := []client.ListOption{client.InNamespace(scaleNS), client.Limit(500)}
	cont, rv := "", ""
	for {
		var list hookv1.WebhookEndpointList
		if err := b.cl.k8s.List(ctx, &list, append(opts, client.Continue(cont))...); err != nil {
			return "", fmt.Errorf("listing endpoints: %w", err)
		}
		if rv == "" {
			rv = list.ResourceVersion
		}
		for i := range list.Items {
			ready.set(list.Items[i].Name, reconciled(&list.Items[i]))
		}
		if cont = list.Continue; cont == "" {
			return rv, nil
		}
	}
}

// idleReading reads the receiver's and the manager's CPU over the idle
// window and their memory after it.
func (b *bench) idleReading(ctx context.Context, row *scaleRow) error {
	cl := b.cl
	meter := newCPUMeter().add(progReceiver, cl.receiver.pid()).add("manager", cl.manager.pid())
	meter.markStart()
	start := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(b.cfg.idle):
	}
	meter.markEnd()
	wall := time.Since(start)
	cpu, _, err := meter.result()
	if err != nil {
		return err
	}
	row.ReceiverIdleCPUPct = 100 * cpu[0].CPU.Seconds() / wall.Seconds()
	row.ManagerIdleCPUPct = 100 * cpu[1].CPU.Seconds() / wall.Seconds()
	if row.ReceiverRSS, err = procRSS(cl.receiver.pid()); err != nil {
		return err
	}
	row.ManagerRSS, err = procRSS(cl.manager.pid())
	return err
}

// probe sends one event at a time to random endpoints among the first n
// and returns how long each took from the request to the target, sorted.
func (b *bench) probe(ctx context.Context, n int) ([]time.Duration, error) {
	tag := b.wl.nextTag()
	var out []time.Duration
	for i := range b.cfg.probes {
		key := client.ObjectKey{Namespace: scaleNS, Name: scaleName(1 + rand.IntN(n))}
		var we hookv1.WebhookEndpoint
		if err := b.cl.k8s.Get(ctx, key, &we); err != nil {
			return nil, err
		}
		ep := endpoint{key: key, uid: string(we.UID), path: we.Status.WebhookPath}
		if err := b.cl.waitRouted(ctx, ep, time.Minute); err != nil {
			return nil, err
		}
		id := deliveryID(tag, 0, uint64(i))
		req, err := b.wl.request(ctx, b.cl.receiverURL()+ep.path, id)
		if err != nil {
			return nil, err
		}
		sent := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("sending to %s: %w", key, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.rep.fail(fmt.Sprintf("event to %s answered %s", key, resp.Status))
			continue
		}
		at, err := b.waitDelivered(ctx, tag, benchHookID+":"+id, b.cfg.drainTimeout)
		if err != nil {
			b.rep.fail(fmt.Sprintf("event to %s: %v", key, err))
			continue
		}
		out = append(out, at.Sub(sent))
	}
	b.rep.check(fmt.Sprintf("endpoints (%d): probe events delivered", n), int64(b.cfg.probes), int64(len(out)))
	if len(out) == 0 {
		return nil, fmt.Errorf("no probe event reached the target")
	}
	slices.Sort(out)
	return out, nil
}

func (b *bench) waitDelivered(ctx context.Context, tag uint32, id string, d time.Duration) (time.Time, error) {
	deadline := time.Now().Add(d)
	for {
		if at, ok := b.sink.deliveredAt(tag, id); ok {
			return at, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("not delivered within %s (receiver log: %s)", d, b.cl.receiver.log)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
