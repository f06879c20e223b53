package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	ingserver "github.com/hookgate/hookgate/ingress/server"
)

// Program names, as the tables print them.
const (
	progBare     = "bare"
	progFloor    = "floor"
	progReceiver = "receiver"
)

// runIngest is the interleaved section: for each round, for each
// concurrency, bare, floor and receiver with the same warm-up and window.
func (b *bench) runIngest(ctx context.Context) error {
	for round := 1; round <= b.cfg.rounds; round++ {
		for _, c := range b.cfg.concurrency {
			for _, prog := range []string{progBare, progFloor, progReceiver} {
				if err := b.ingestRun(ctx, sectionIngest, round, c, prog, b.cfg.baseSync); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// runSyncAlways repeats floor and receiver at the first concurrency with
// fsync always, then restores the receiver's default for what follows.
func (b *bench) runSyncAlways(ctx context.Context) error {
	if err := b.cl.restartReceiver(ctx, true, b.ingest, b.deliver); err != nil {
		return err
	}
	c := b.cfg.concurrency[0]
	for round := 1; round <= b.cfg.rounds; round++ {
		for _, prog := range []string{progFloor, progReceiver} {
			if err := b.ingestRun(ctx, sectionSyncAlways, round, c, prog, true); err != nil {
				return err
			}
		}
	}
	return b.cl.restartReceiver(ctx, false, b.ingest, b.deliver)
}

func (b *bench) loadSpec(c int, url string) loadSpec {
	return loadSpec{concurrency: c, warmup: b.cfg.warmup, duration: b.cfg.duration, maxRequests: b.cfg.maxRequests, url: url, tag: b.wl.nextTag()}
}

// ingestRun measures one program at concurrency c and checks what it
// stored against what it accepted.
func (b *bench) ingestRun(ctx context.Context, section string, round, c int, prog string, syncAlways bool) error {
	fsync := fsyncLabel(syncAlways)
	if prog == progBare {
		fsync = "-"
	}
	progress("%s round %d: %s, c%d, fsync %s: %s warm-up + %s", section, round, prog, c, fsync, b.cfg.warmup, b.cfg.duration)
	row := ingestRow{Section: section, Round: round, Concurrency: c, Program: prog, Fsync: fsync}
	var res *runResult
	var err error
	if prog == progReceiver {
		res, err = b.receiverRun(ctx, c, &row)
	} else {
		res, err = b.baselineRun(ctx, c, prog, syncAlways, &row)
	}
	if err != nil {
		return fmt.Errorf("%s %s c%d: %w", section, prog, c, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	row.fill(res)
	b.rep.addIngest(row, res)
	return nil
}

// baselineRun starts a fresh bare or floor process, loads it and reads
// its counts.
func (b *bench) baselineRun(ctx context.Context, c int, prog string, syncAlways bool, row *ingestRow) (*runResult, error) {
	args := []string{prog, "-store-dir", b.work}
	if prog == progFloor {
		args = append(args, "-sync-always="+strconv.FormatBool(syncAlways))
	}
	p, line, err := startProc(prog, b.logPath(prog), b.self, args, []string{keyEnv + "=" + hex.EncodeToString(b.wl.key)}, true)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	addr, ok := strings.CutPrefix(line, "listening ")
	if !ok {
		return nil, fmt.Errorf("%s announced %q, not its address", prog, line)
	}
	spec := b.loadSpec(c, "http://"+addr+ingserver.PathPrefix+"bench")
	spec.meter = newCPUMeter().add(prog, p.pid())
	res := generate(ctx, spec, b.wl, prog)
	if done, err := p.exited(); done {
		return nil, fmt.Errorf("%s exited during the run (%v); log: %s", prog, err, p.log)
	}
	st, err := childStatsOf(ctx, "http://"+addr+statsPath)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s c%d round %d (fsync %s)", prog, c, row.Round, row.Fsync)
	b.rep.check(name+": requests the program accepted = 2xx answers", res.OK, st.Accepted)
	if prog == progFloor {
		stored := int64(st.Stored)
		row.Stored = &stored
		b.rep.check(name+": events stored = 2xx answers", res.OK, stored)
	}
	return res, nil
}

func childStatsOf(ctx context.Context, url string) (childStats, error) {
	var st childStats
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("reading %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("reading %s: %s", url, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// receiverRun loads the receiver's suspended ingest endpoint, so nothing
// but ingest runs, then checks the events stream and the received counter
// against the 2xx answers and purges the stream for the next run.
func (b *bench) receiverRun(ctx context.Context, c int, row *ingestRow) (*runResult, error) {
	cl, ep := b.cl, b.ingest
	if err := cl.alive(); err != nil {
		return nil, err
	}
	stored0, err := cl.storedEvents(ctx, ep)
	if err != nil {
		return nil, err
	}
	var hist0 uint64
	if cl.history {
		if hist0, err = cl.historyRecords(ctx, ep, 0); err != nil {
			return nil, err
		}
	}
	recv0, err := cl.received(ctx, ep)
	if err != nil {
		return nil, err
	}
	spec := b.loadSpec(c, cl.receiverURL()+ep.path)
	spec.meter = newCPUMeter().add(progReceiver, cl.receiver.pid()).add("manager", cl.manager.pid())
	res := generate(ctx, spec, b.wl, progReceiver)
	if err := cl.alive(); err != nil {
		return nil, err
	}
	recv, err := cl.received(ctx, ep)
	if err != nil {
		return nil, err
	}
	stored1, err := cl.storedEvents(ctx, ep)
	if err != nil {
		return nil, err
	}
	stored := int64(stored1) - int64(stored0)
	row.Stored = &stored
	name := fmt.Sprintf("receiver c%d round %d (fsync %s)", c, row.Round, row.Fsync)
	b.rep.check(name+": events stored = 2xx answers", res.OK, stored)
	b.rep.check(name+": received counter = 2xx answers", res.OK, recv-recv0)
	if cl.history {
		// Every answered request is in the history (the ingest endpoint
		// is not flooded with refusals, whose records are budgeted).
		answered := res.OK + res.Non2xx
		hist, err := cl.historyRecords(ctx, ep, hist0+uint64(answered))
		if err != nil {
			return nil, err
		}
		b.rep.check(name+": history request records = answered requests", answered, int64(hist-hist0))
	}
	return res, cl.purge(ctx, ep)
}
