// Package apply executes a plan: it streams each copy from source to
// destination through a small, tuned pool of workers, records every finished
// object in the state (batched, about a second behind at most), and runs a
// sync's deletes only once all its copies succeeded.
package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"syncer/backends"
	"syncer/config"
	"syncer/plan"
	"syncer/state"
)

// Options steer Run.
type Options struct {
	Log *slog.Logger
	// Stop, when done, makes Run take no new work: objects in flight
	// finish (under ctx), state is committed, and the result says
	// Interrupted. ctx itself aborts in-flight transfers.
	Stop context.Context
	// Progress receives the progress bar when Terminal is set.
	Progress      io.Writer
	Terminal      bool
	StatsInterval time.Duration // stats line period without a terminal; default 10 s
	Version       string
	// Deadline is when limits.duration ends, counted from the process's
	// start; zero: limits.duration from Run's start.
	Deadline time.Time
	// Observer, when set, is told of every action and of the progress
	// every ProgressInterval (default 5 s).
	Observer         Observer
	ProgressInterval time.Duration
}

// Result counts what Run did.
type Result struct {
	Created, Updated, Deleted, Failed int64
	Bytes                             int64 // sizes of the objects written
	// Transferred is the bytes this run moved, whatever the outcome: read
	// from sources (a resumed upload's remaining parts only) or copied
	// server-side.
	Transferred int64
	Elapsed     time.Duration
	Workers     int
	Interrupted bool
	// StopReason says why the run stopped early ("interrupted", "duration
	// limit reached"); empty when it ran to the end.
	StopReason string
	// Skipped counts the plan's keys that the destination cannot hold
	// (plan.Skip): never tried, not failures.
	Skipped int64
	// Archived counts the archived source objects not copied, and not
	// failures: skipped (archived = "skip") or waiting for a restore;
	// Restoring counts those whose restore is pending (asked for by this
	// run or before). See archive.go.
	Archived, Restoring int64
	// BackedUp counts the destination objects saved to a backup place
	// before they were overwritten or deleted.
	BackedUp int64
	// Run is the state's id of this run (its failures carry it).
	Run int64
}

// perWorkerBuffer is what one streamed transfer holds at least (the local
// backend's copy buffer plus slack), for the tuner's budget.
const perWorkerBuffer = 1 << 20

// perWorkerMemory is the largest buffer one transfer may hold: a
// destination's part size where it uploads in parts.
func perWorkerMemory(cfg *config.Config, open plan.Opener) int64 {
	n := int64(perWorkerBuffer)
	for _, s := range cfg.Syncs {
		to, err := open(s.To)
		if err != nil {
			continue
		}
		if p, ok := to.(backends.BufferSizer); ok {
			n = max(n, p.PartSize()+perWorkerBuffer)
		}
	}
	return n
}

// Run executes p, which must be fresh against st (the caller checks).
func Run(ctx context.Context, cfg *config.Config, st *state.Store, p *plan.Plan, open plan.Opener, opts Options) (Result, error) {
	start := time.Now()
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stop := opts.Stop
	if stop == nil {
		stop = context.Background()
	}
	deadline := opts.Deadline
	if deadline.IsZero() && cfg.Limits.Duration > 0 {
		deadline = start.Add(cfg.Limits.Duration)
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		stop, cancel = context.WithDeadlineCause(stop, deadline, ErrDuration)
		defer cancel()
	}
	// limits.max_transfer (ErrMaxTransfer) and a store's limit (a
	// *backends.StopError from an action) stop the run as Stop does.
	stop, halt := context.WithCancelCause(stop)
	defer halt(nil)
	stats, err := p.CopyStats(ctx, "")
	if err != nil {
		return Result{}, err
	}
	if err := p.CheckMaxDelete(ctx, cfg.Limits.MaxDelete); err != nil {
		return Result{}, err
	}
	sum, err := p.Summary(ctx)
	if err != nil {
		return Result{}, err
	}
	dec := Tune(cfg.Limits, stats, perWorkerMemory(cfg, open))
	workers := "workers"
	if dec.Workers == 1 {
		workers = "worker"
	}
	log.Info(fmt.Sprintf("using %d %s (%s)", dec.Workers, workers, dec.Reason))

	runID, err := st.StartRun(ctx, "apply", opts.Version)
	if err != nil {
		return Result{}, err
	}
	// Pending keys were taken into account by the plan; start afresh.
	if err := st.ClearPending(ctx); err != nil {
		return Result{}, err
	}
	// The state keeps the last apply's failures only.
	if err := st.ClearFailures(ctx); err != nil {
		return Result{}, err
	}
	fails := newFailureLog(st, runID, log)
	interval := opts.StatsInterval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	e := &executor{
		cfg: cfg, st: st, plan: p, open: open, log: log, stop: stop, halt: halt,
		workers: dec.Workers, limiter: newLimiter(cfg.Limits.Bandwidth),
		prog: newProgress(opts.Progress, opts.Terminal, log, stats.Count+sum.Delete, stats.Bytes),
		rec:  newRecorder(st, log),
	}
	e.start = start
	e.obs = observers{e.prog, fails}
	if opts.Observer != nil {
		e.obs = observers{e.prog, fails, opts.Observer}
	}
	every := opts.ProgressInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	ticks := make(chan struct{})
	var tickers sync.WaitGroup
	if !opts.Terminal {
		e.tick(e.prog, interval, ticks, &tickers)
	}
	e.obs.RunStarted(RunInfo{Workers: dec.Workers, Objects: stats.Count + sum.Delete, Bytes: stats.Bytes, Run: runID, Skipped: sum.Skip})
	e.tick(opts.Observer, every, ticks, &tickers)
	// Long transfers (multipart uploads) see Stop too, and end at their
	// next part boundary, resumable, rather than run on until aborted.
	runErr := e.run(backends.WithStop(ctx, stop))
	close(ticks)
	tickers.Wait()
	e.prog.finish()
	if opts.Observer != nil {
		opts.Observer.Progress(e.prog.snapshot())
	}
	recErr := e.rec.close()
	fails.close()

	res := Result{
		Created: e.created.Load(), Updated: e.updated.Load(), Deleted: e.deleted.Load(),
		Failed: e.failed.Load(), Skipped: sum.Skip, BackedUp: e.backedUp.Load(), Bytes: e.bytes.Load(), Transferred: e.prog.bytes.Load(), Elapsed: time.Since(start), Workers: dec.Workers,
		Archived: e.archived.Load(), Restoring: e.restoring.Load(), Run: runID,
	}
	if e.cut.Load() || ctx.Err() != nil {
		res.Interrupted = true
		res.StopReason = "interrupted"
		if errors.Is(context.Cause(stop), ErrDuration) {
			res.StopReason = "duration limit reached"
		}
		if errors.Is(context.Cause(stop), ErrMaxTransfer) {
			res.StopReason = "transfer limit reached"
		}
		if se := backends.AsStop(context.Cause(stop)); se != nil {
			res.StopReason = "stopped (" + se.Reason + ")"
		}
	}
	status := "complete"
	switch {
	case res.Interrupted:
		status = "interrupted"
	case runErr != nil || recErr != nil:
		status = "failed"
	case res.Failed > 0:
		status = "partial"
	}
	run := state.Run{ID: runID, Status: status, Copied: res.Created + res.Updated, Deleted: res.Deleted, Failed: res.Failed, Bytes: res.Bytes}
	if err := st.FinishRun(context.WithoutCancel(ctx), run); err != nil && recErr == nil {
		recErr = err
	}
	if recErr != nil {
		return res, fmt.Errorf("recording results in the state: %w", recErr)
	}
	if runErr != nil && !res.Interrupted {
		return res, runErr
	}
	return res, nil
}

// ErrDuration is the cause of a stop at limits.duration's deadline.
var ErrDuration = errors.New("limits.duration reached")

// ErrMaxTransfer is the cause of a stop once limits.max_transfer bytes
// were written.
var ErrMaxTransfer = errors.New("limits.max_transfer reached")

type executor struct {
	cfg     *config.Config
	st      *state.Store
	plan    *plan.Plan
	open    plan.Opener
	log     *slog.Logger
	stop    context.Context
	halt    context.CancelCauseFunc // stops the run for a *backends.StopError
	workers int
	limiter *rate.Limiter
	prog    *progress
	obs     Observer // prog and Options.Observer
	rec     *recorder

	created, updated, deleted, failed, bytes atomic.Int64
	archived, restoring                      atomic.Int64
	// cut is set when Stop or an abort left planned work undone.
	cut      atomic.Bool
	start    time.Time // the run's start, which names its backups
	backedUp atomic.Int64
}

// errStopped ends dispatch when Stop fires.
var errStopped = errors.New("stopped")

func (e *executor) run(ctx context.Context) error {
	names, err := e.plan.Syncs(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		j, err := e.newJob(ctx, name)
		if err != nil {
			return err
		}
		if err := e.runSync(ctx, j); errors.Is(err, errStopped) {
			return nil
		} else if err != nil {
			return err
		}
	}
	return e.abortIdleOrphans(ctx, names)
}

// job is one sync's context for its actions.
type job struct {
	e        *executor
	s        *config.Sync
	from, to backends.Backend
	how      transfer
	bak      backends.Backend // the sync's backup place; nil: none
}

// newJob opens sync name's backends and chooses its transfer. When the sync
// copies anything, it clears the destination's leftover temporary files and
// says how it copies.
func (e *executor) newJob(ctx context.Context, name string) (*job, error) {
	i := slices.IndexFunc(e.cfg.Syncs, func(s *config.Sync) bool { return s.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("plan has sync %q, which the configuration no longer declares", name)
	}
	s := e.cfg.Syncs[i]
	from, err := e.open(s.From)
	if err != nil {
		return nil, fmt.Errorf("sync %q: %w", name, err)
	}
	to, err := e.open(s.To)
	if err != nil {
		return nil, fmt.Errorf("sync %q: %w", name, err)
	}
	copies, err := e.plan.CopyStats(ctx, name)
	if err != nil {
		return nil, err
	}
	e.useJournal(from)
	e.useJournal(to)
	j := &job{e: e, s: s, from: from, to: to}
	if s.Backup != nil {
		if j.bak, err = e.open(s.Backup.To); err != nil {
			return nil, fmt.Errorf("sync %q: backup: %w", name, err)
		}
	}
	how, line := j.chooseTransfer()
	j.how = how
	if copies.Count > 0 {
		e.cleanTemp(ctx, to)
		if line != "" {
			e.log.Info(line, "sync", name)
		}
	}
	return j, nil
}

// cleanTemp clears the leftovers of a killed run, invisible to listings,
// from a destination this run writes to anyway.
func (e *executor) cleanTemp(ctx context.Context, to backends.Backend) {
	c, ok := to.(backends.TempCleaner)
	if !ok {
		return
	}
	if n, err := c.CleanTemp(ctx, 0); err != nil {
		e.log.Warn("cleaning leftover temporary files", "backend", to.String(), "err", err)
	} else if n > 0 {
		e.log.Info("removed leftover temporary files", "backend", to.String(), "count", n)
	}
}

// runSync runs one sync's phases in turn; skips (phase Never) are not run.
// The AfterCopies phase, and the abort of uploads no run will resume, wait
// until every copy of the sync succeeded. It returns errStopped when Stop
// or an abort cut the copies.
func (e *executor) runSync(ctx context.Context, j *job) error {
	failedBefore := e.failed.Load()
	if err := j.countArchived(ctx); err != nil {
		return err
	}
	for _, ph := range []plan.Phase{plan.BeforeCopies, plan.Copies} {
		if err := e.phase(ctx, j, ph); err != nil {
			return err
		}
	}
	if e.stop.Err() != nil || ctx.Err() != nil {
		e.cut.Store(true)
		return errStopped
	}
	if e.failed.Load() > failedBefore {
		e.log.Warn("skipping deletes: some copies of this sync failed", "sync", j.s.Name)
		return nil
	}
	var err error
	if bd, ok := j.to.(backends.BatchDeleter); ok && j.bak == nil {
		err = e.deleteBatches(ctx, j, bd)
	} else {
		err = e.phase(ctx, j, plan.AfterCopies)
	}
	if err != nil {
		return err
	}
	if e.failed.Load() == failedBefore && e.stop.Err() == nil {
		e.abortOrphans(ctx, j)
	}
	return nil
}

// phase runs one sync's actions of phase ph through the pool. Copy keys
// are marked pending page by page first.
func (e *executor) phase(ctx context.Context, j *job, ph plan.Phase) error {
	work := make(chan plan.Action)
	var wg sync.WaitGroup
	for range e.workers {
		wg.Go(func() {
			for a := range work {
				// Stop may fire while an action waits in the channel.
				if e.stop.Err() != nil {
					e.cut.Store(true)
					continue
				}
				j.do(ctx, a)
			}
		})
	}
	keys := make([]string, 0, 512)
	err := e.plan.EachInPhase(ctx, j.s.Name, ph, func(page []plan.Action) error {
		if e.stop.Err() != nil {
			return errStopped
		}
		if ph == plan.Copies {
			keys = keys[:0]
			for _, a := range page {
				if a.Kind == plan.Create || a.Kind == plan.Update {
					keys = append(keys, a.Key)
				}
			}
			if err := e.st.MarkPending(ctx, j.s.Name, keys); err != nil {
				return err
			}
		}
		for _, a := range page {
			select {
			case work <- a:
			case <-e.stop.Done():
				return errStopped
			case <-ctx.Done():
				return errStopped
			}
		}
		return nil
	})
	close(work)
	wg.Wait()
	if errors.Is(err, errStopped) {
		e.cut.Store(true)
		return nil
	}
	return err
}

// do runs one action; it reports exactly one outcome to the observers
// (through ctx, which the helpers pass to failed).
func (j *job) do(ctx context.Context, a plan.Action) {
	ctx, x := j.begin(ctx, a)
	switch a.Kind {
	case plan.Create, plan.Update:
		err := j.guard(ctx, a)
		if err == nil {
			err = j.copy(ctx, a)
		}
		switch {
		case errors.Is(err, backends.ErrArchived) && ctx.Err() == nil:
			j.archived(ctx, a, err)
			if j.policy() == backends.ArchivedRestore {
				x.finish(RestoreRequested, nil)
			}
			x.finish(Archived, nil)
		case err != nil:
			j.failed(ctx, a.Kind, a.Key, err)
		case a.Kind == plan.Create:
			j.e.created.Add(1)
			x.finish(Created, nil)
		default:
			j.e.updated.Add(1)
			x.finish(Updated, nil)
		}
		if limit := j.e.cfg.Limits.MaxTransfer; err == nil && limit > 0 && j.e.bytes.Load() >= limit {
			// Objects in flight finish; no new one starts.
			j.e.halt(ErrMaxTransfer)
		}
	case plan.Delete:
		if err := j.backup(ctx, a.Key); err != nil {
			j.failed(ctx, a.Kind, a.Key, err)
			return
		}
		ctx, err := j.withIDs(ctx, a)
		if err != nil {
			j.failed(ctx, a.Kind, a.Key, err)
			return
		}
		j.delete(ctx, a.Key)
	case plan.Forget:
		j.forget(a.Key)
		x.finish(Forgotten, nil)
	case plan.Restore:
		j.restore(ctx, a.Key)
		x.finish(RestoreRequested, nil)
	case plan.Archived:
		// Only archived = "fail" puts them in a phase that runs.
		j.failed(ctx, a.Kind, a.Key, fmt.Errorf("%s: %s", j.from, a.Reason))
	case plan.Adopt:
		j.e.rec.add(state.Change{Record: state.Record{Sync: j.s.Name, Key: a.Key, Src: a.Src, Dst: a.Dst, Written: time.Now()}})
		x.finish(Adopted, nil)
	}
	// Every path above has finished x; this is a safety net.
	x.finish(Stopped, nil)
}

// copy moves one object by the sync's transfer, verifies and records it.
func (j *job) copy(ctx context.Context, a plan.Action) error {
	if a.Kind == plan.Update {
		ctx = backends.WithExisting(ctx) // the state records the key
	}
	ctx, err := j.withIDs(ctx, a)
	if err != nil {
		return err
	}
	src := backends.Object{Key: a.Key, Size: a.Size, ETag: a.Src.ETag, MetaEdit: j.s.Metadata}
	if a.Src.MTime != 0 {
		src.ModTime = time.Unix(0, a.Src.MTime)
	}
	got, srcMD5, err := j.how.copy(ctx, a, src)
	if err != nil {
		return err
	}
	return j.record(ctx, a, got, srcMD5)
}

// failed counts and logs an action that failed, unless ctx was cancelled:
// an aborted action is not a failure of its object.
func (j *job) failed(ctx context.Context, kind plan.Kind, key string, err error) {
	if ctx.Err() != nil {
		finish(ctx, Stopped, err)
		return
	}
	if errors.Is(err, backends.ErrStopped) {
		// Stopped at a boundary with its progress recorded: unfinished,
		// not failed.
		j.e.cut.Store(true)
		j.e.log.Info(fmt.Sprintf("%s %s stopped; the next run resumes it", kind, key), "sync", j.s.Name, "key", key, "err", err)
		finish(ctx, Stopped, err)
		return
	}
	if se := backends.AsStop(err); se != nil {
		// Not this object's failure: the store takes no more today.
		if j.e.stop.Err() == nil {
			j.e.log.Warn("stopping: "+se.Reason, "sync", j.s.Name, "key", key, "err", err)
		}
		j.e.halt(se)
		finish(ctx, Stopped, err)
		return
	}
	j.e.failed.Add(1)
	finish(ctx, Failed, err)
	j.e.log.Error(fmt.Sprintf("%s %s failed", kind, key), "sync", j.s.Name, "key", key, "err", err)
}
