// Package apply executes a plan: it streams each copy from source to
// destination through a small, tuned pool of workers, records every finished
// object in the state (batched, about a second behind at most), and runs a
// sync's deletes only once all its copies succeeded.
package apply

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"reflect"
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
}

// Result counts what Run did.
type Result struct {
	Created, Updated, Deleted, Failed int64
	Bytes                             int64
	Elapsed                           time.Duration
	Workers                           int
	Interrupted                       bool
	// StopReason says why the run stopped early ("interrupted", "duration
	// limit reached"); empty when it ran to the end.
	StopReason string
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
	if cfg.Limits.Duration > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeoutCause(stop, cfg.Limits.Duration, errDuration)
		defer cancel()
	}
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
	interval := opts.StatsInterval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	e := &executor{
		cfg: cfg, st: st, plan: p, open: open, log: log, stop: stop,
		workers: dec.Workers, limiter: newLimiter(cfg.Limits.Bandwidth),
		prog: newProgress(opts.Progress, opts.Terminal, log, stats.Count+sum.Delete, stats.Bytes, interval),
		rec:  newRecorder(st, log),
	}
	runErr := e.run(ctx)
	e.prog.finish()
	recErr := e.rec.close()

	res := Result{
		Created: e.created.Load(), Updated: e.updated.Load(), Deleted: e.deleted.Load(),
		Failed: e.failed.Load(), Bytes: e.bytes.Load(), Elapsed: time.Since(start), Workers: dec.Workers,
	}
	if e.cut.Load() || ctx.Err() != nil {
		res.Interrupted = true
		res.StopReason = "interrupted"
		if errors.Is(context.Cause(stop), errDuration) {
			res.StopReason = "duration limit reached"
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

var errDuration = errors.New("limits.duration reached")

type executor struct {
	cfg     *config.Config
	st      *state.Store
	plan    *plan.Plan
	open    plan.Opener
	log     *slog.Logger
	stop    context.Context
	workers int
	limiter *rate.Limiter
	prog    *progress
	rec     *recorder

	created, updated, deleted, failed, bytes atomic.Int64
	// cut is set when Stop or an abort left planned work undone.
	cut atomic.Bool
}

// errStopped ends dispatch when Stop fires.
var errStopped = errors.New("stopped")

func (e *executor) run(ctx context.Context) error {
	names, err := e.plan.Syncs(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		s := e.syncByName(name)
		if s == nil {
			return fmt.Errorf("plan has sync %q, which the configuration no longer declares", name)
		}
		from, err := e.open(s.From)
		if err != nil {
			return fmt.Errorf("sync %q: %w", name, err)
		}
		to, err := e.open(s.To)
		if err != nil {
			return fmt.Errorf("sync %q: %w", name, err)
		}
		copies, err := e.plan.CopyStats(ctx, name)
		if err != nil {
			return err
		}
		// Leftovers of a killed run are invisible to listings; clear them
		// when this run writes to the destination anyway.
		if c, ok := to.(backends.TempCleaner); ok && copies.Count > 0 {
			if n, err := c.CleanTemp(ctx, 0); err != nil {
				e.log.Warn("cleaning leftover temporary files", "backend", to.String(), "err", err)
			} else if n > 0 {
				e.log.Info("removed leftover temporary files", "backend", to.String(), "count", n)
			}
		}
		j := &job{e: e, s: s, from: from, to: to, sc: e.copier(s, from, to)}
		if copies.Count > 0 {
			_, isCopier := to.(backends.ServerSideCopier)
			switch {
			case j.sc != nil && onHost(j.sc):
				e.log.Info("copying file to file in the kernel (copy_file_range)", "sync", name)
			case j.sc != nil:
				e.log.Info("copying server-side: object bytes do not pass through syncer", "sync", name)
			case isCopier && !onHost(to) && reflect.TypeOf(from) == reflect.TypeOf(to):
				e.log.Info("streaming through syncer: these backends cannot copy server-side (different stores or credentials)", "sync", name)
			}
		}
		failedBefore := e.failed.Load()
		if err := e.phase(ctx, j, plan.BeforeCopies); err != nil {
			return err
		}
		if err := e.phase(ctx, j, plan.Copies); err != nil {
			return err
		}
		if e.stop.Err() != nil || ctx.Err() != nil {
			e.cut.Store(true)
			return nil
		}
		if e.failed.Load() > failedBefore {
			e.log.Warn("skipping deletes: some copies of this sync failed", "sync", name)
			continue
		}
		if bd, ok := to.(backends.BatchDeleter); ok {
			err = e.batchDeletes(ctx, j, bd)
		} else {
			err = e.phase(ctx, j, plan.AfterCopies)
		}
		if err != nil {
			return err
		}
		if e.failed.Load() == failedBefore && e.stop.Err() == nil {
			e.abortOrphans(ctx, j)
		}
	}
	return e.abortIdleOrphans(ctx, names)
}

// abortIdleOrphans abandons the unfinished uploads of targeted syncs that
// had nothing to do this run (their object left the source, say).
func (e *executor) abortIdleOrphans(ctx context.Context, done []string) error {
	if e.stop.Err() != nil || ctx.Err() != nil || e.failed.Load() > 0 {
		return nil
	}
	syncs, err := plan.Targets(e.cfg, e.plan.Meta.Targets)
	if err != nil {
		return err
	}
	for _, s := range syncs {
		if slices.Contains(done, s.Name) {
			continue
		}
		ups, err := e.st.Uploads(ctx, s.Name)
		if err != nil || len(ups) == 0 {
			continue
		}
		to, err := e.open(s.To)
		if err != nil {
			e.log.Warn("opening a destination to abort unfinished uploads", "sync", s.Name, "err", err)
			continue
		}
		e.abortOrphans(ctx, &job{e: e, s: s, to: to})
	}
	return nil
}

// batchDeletes runs a sync's deletes through a backend that removes many
// keys per request.
func (e *executor) batchDeletes(ctx context.Context, j *job, bd backends.BatchDeleter) error {
	keys := make([]string, 0, bd.MaxBatch())
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		errs, err := bd.DeleteBatch(ctx, keys)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			e.failed.Add(int64(len(keys)))
			e.log.Error(fmt.Sprintf("deleting %d objects failed", len(keys)), "sync", j.s.Name, "err", err)
			keys = keys[:0]
			return nil
		}
		for i, k := range keys {
			e.prog.addObject()
			if i < len(errs) && errs[i] != nil {
				e.failed.Add(1)
				e.log.Error(fmt.Sprintf("delete %s failed", k), "sync", j.s.Name, "key", k, "err", errs[i])
				continue
			}
			e.deleted.Add(1)
			e.rec.add(state.Change{Record: state.Record{Sync: j.s.Name, Key: k}, Forget: true})
		}
		keys = keys[:0]
		return nil
	}
	err := e.plan.EachInPhase(ctx, j.s.Name, plan.AfterCopies, func(page []plan.Action) error {
		if e.stop.Err() != nil {
			return errStopped
		}
		for _, a := range page {
			if a.Kind == plan.Forget {
				e.rec.add(state.Change{Record: state.Record{Sync: j.s.Name, Key: a.Key}, Forget: true})
				continue
			}
			keys = append(keys, a.Key)
			if len(keys) == cap(keys) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if errors.Is(err, errStopped) {
		e.cut.Store(true)
		return nil // the keys gathered so far stay for the next run
	}
	if err != nil {
		return err
	}
	return flush()
}

// abortOrphans abandons uploads the journal still holds for a sync that
// just finished without failures: no run will resume them.
func (e *executor) abortOrphans(ctx context.Context, j *job) {
	ab, ok := j.to.(backends.UploadAborter)
	if !ok {
		return
	}
	ups, err := e.st.Uploads(ctx, j.s.Name)
	if err != nil {
		e.log.Warn("listing unfinished uploads", "sync", j.s.Name, "err", err)
		return
	}
	for _, u := range ups {
		jr := e.st.Journal(j.s.Name, u.Src)
		if err := ab.AbortUpload(ctx, u.Key, u.ID); err != nil {
			e.log.Warn("aborting an unfinished upload", "sync", j.s.Name, "key", u.Key, "err", err)
			continue
		}
		if err := jr.Finished(ctx, u.Key); err != nil {
			e.log.Warn("forgetting an aborted upload", "sync", j.s.Name, "key", u.Key, "err", err)
			continue
		}
		e.log.Info("aborted an unfinished upload", "sync", j.s.Name, "key", u.Key)
	}
}

func (e *executor) syncByName(name string) *config.Sync {
	for _, s := range e.cfg.Syncs {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// phase runs one sync's actions of phase ph through the pool. Copy keys
// are marked pending page by page first.
func (e *executor) phase(ctx context.Context, j *job, ph plan.Phase) error {
	work := make(chan plan.Action)
	var wg sync.WaitGroup
	for range e.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				// Stop may fire while an action waits in the channel.
				if e.stop.Err() != nil {
					e.cut.Store(true)
					continue
				}
				j.do(ctx, a)
			}
		}()
	}
	keys := make([]string, 0, 512)
	err := e.plan.EachInPhase(ctx, j.s.Name, ph, func(page []plan.Action) error {
		if e.stop.Err() != nil {
			return errStopped
		}
		if ph == plan.Copies {
			keys = keys[:0]
			for _, a := range page {
				if a.Kind != plan.Adopt {
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

// job is one sync's context for its actions.
type job struct {
	e        *executor
	s        *config.Sync
	from, to backends.Backend
	sc       backends.ServerSideCopier // nil: stream every copy
}

// copier returns to's server-side copier if it can reach from. A copy that
// runs on this machine still moves the bytes here, so it is not used under
// a bandwidth limit, nor in checksum mode, which hashes the stream.
func (e *executor) copier(s *config.Sync, from, to backends.Backend) backends.ServerSideCopier {
	sc, ok := to.(backends.ServerSideCopier)
	if !ok || !sc.CanCopyFrom(from) {
		return nil
	}
	if onHost(sc) && (e.limiter != nil || s.Compare == config.CompareChecksum) {
		return nil
	}
	return sc
}

func onHost(b any) bool {
	_, ok := b.(backends.HostCopier)
	return ok
}

func (j *job) do(ctx context.Context, a plan.Action) {
	e := j.e
	var err error
	switch a.Kind {
	case plan.Create, plan.Update:
		err = j.copy(ctx, a)
		if err == nil {
			if a.Kind == plan.Create {
				e.created.Add(1)
			} else {
				e.updated.Add(1)
			}
		}
	case plan.Delete:
		err = j.to.Delete(ctx, a.Key)
		if err == nil {
			e.deleted.Add(1)
			e.rec.add(state.Change{Record: state.Record{Sync: j.s.Name, Key: a.Key}, Forget: true})
		}
	case plan.Forget:
		e.rec.add(state.Change{Record: state.Record{Sync: j.s.Name, Key: a.Key}, Forget: true})
	case plan.Adopt:
		e.rec.add(state.Change{Record: state.Record{Sync: j.s.Name, Key: a.Key, Src: a.Src, Dst: a.Dst, Written: time.Now()}})
	}
	if a.Kind != plan.Forget && a.Kind != plan.Adopt {
		e.prog.addObject()
	}
	if err != nil {
		if ctx.Err() != nil {
			return // aborted: not a failure of the object
		}
		e.failed.Add(1)
		e.log.Error(fmt.Sprintf("%s %s failed", a.Kind, a.Key), "sync", j.s.Name, "key", a.Key, "err", err)
	}
}

// copy moves one object from source to destination and records it: by a
// server-side copy when the destination can reach the source, else streamed
// (resumably, in parts, where the destination supports it).
func (j *job) copy(ctx context.Context, a plan.Action) error {
	e := j.e
	src := backends.Object{Key: a.Key, Size: a.Size, ETag: a.Src.ETag}
	if a.Src.MTime != 0 {
		src.ModTime = time.Unix(0, a.Src.MTime)
	}
	if hc, ok := j.sc.(backends.HostCopier); ok {
		got, err := hc.CopyOnHost(ctx, j.from, a.Key, a.Key, src, e.prog.addBytes)
		if err != nil {
			return fmt.Errorf("copy %s -> %s: %w", j.from, j.to, err)
		}
		return j.record(ctx, a, got, a.Src.MD5)
	}
	if j.sc != nil {
		got, err := j.sc.CopyFrom(ctx, j.from, a.Key, a.Key, src)
		if err != nil {
			return fmt.Errorf("server-side copy %s -> %s: %w", j.from, j.to, err)
		}
		e.prog.addBytes(max(a.Size, 0))
		return j.record(ctx, a, got, a.Src.MD5)
	}
	if rp, ok := j.to.(backends.ResumablePutter); ok {
		if err := j.dropStaleUpload(ctx, a); err != nil {
			return err
		}
		open := func(ctx context.Context, offset, length int64) (io.ReadCloser, error) {
			rc, err := j.from.Open(ctx, a.Key, offset, length)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", j.from, err)
			}
			return readCloser{j.wrap(ctx, rc), rc}, nil
		}
		got, err := rp.PutResumable(ctx, a.Key, open, src, e.st.Journal(j.s.Name, a.Src))
		if err != nil {
			return fmt.Errorf("write %s: %w", j.to, err)
		}
		return j.record(ctx, a, got, a.Src.MD5)
	}
	rc, err := j.from.Open(ctx, a.Key, 0, -1)
	if err != nil {
		return fmt.Errorf("read %s: %w", j.from, err)
	}
	defer rc.Close()
	r := j.wrap(ctx, rc)
	var h hash.Hash
	if j.s.Compare == config.CompareChecksum {
		h = md5.New()
		r = io.TeeReader(r, h)
	}
	got, err := j.to.Put(ctx, a.Key, r, src)
	if err != nil {
		return fmt.Errorf("write %s: %w", j.to, err)
	}
	sum := a.Src.MD5
	if h != nil {
		sum = hex.EncodeToString(h.Sum(nil))
		if a.Src.MD5 != "" && sum != a.Src.MD5 {
			return fmt.Errorf("source changed since the plan (md5 %s, planned %s); not recorded, plan again", sum, a.Src.MD5)
		}
	}
	return j.record(ctx, a, got, sum)
}

// dropStaleUpload abandons a recorded upload of a.Key that was started
// from another version of the source: resuming it would splice two versions.
func (j *job) dropStaleUpload(ctx context.Context, a plan.Action) error {
	u, ok, err := j.e.st.UploadOf(ctx, j.s.Name, a.Key)
	if err != nil || !ok || u.Src.Size == a.Src.Size && u.Src.MTime == a.Src.MTime && u.Src.ETag == a.Src.ETag {
		return err
	}
	if ab, ok := j.to.(backends.UploadAborter); ok {
		if err := ab.AbortUpload(ctx, a.Key, u.ID); err != nil {
			return fmt.Errorf("abort the upload of an older version: %w", err)
		}
	}
	j.e.log.Info("source changed since its upload began; starting over", "sync", j.s.Name, "key", a.Key)
	return j.e.st.Journal(j.s.Name, a.Src).Finished(ctx, a.Key)
}

// wrap adds progress counting and the bandwidth limit to a source stream.
func (j *job) wrap(ctx context.Context, r io.Reader) io.Reader {
	r = &countingReader{ctx: ctx, r: r, p: j.e.prog}
	if j.e.limiter != nil {
		r = &limitedReader{ctx: ctx, r: r, l: j.e.limiter}
	}
	return r
}

type readCloser struct {
	io.Reader
	io.Closer
}

// record verifies a finished write (in checksum mode) and queues its record.
// srcMD5 is the source's md5 when known ("" otherwise).
func (j *job) record(ctx context.Context, a plan.Action, got backends.Object, srcMD5 string) error {
	e := j.e
	srcFP := a.Src
	srcFP.MD5 = srcMD5
	dstFP := state.Fingerprint{Size: got.Size, ETag: got.ETag, MD5: got.Hash(backends.MD5)}
	if !got.ModTime.IsZero() {
		dstFP.MTime = got.ModTime.UnixNano()
	}
	if a.Size >= 0 && got.Size >= 0 && got.Size != a.Size {
		return fmt.Errorf("verify %s: wrote %d bytes, source has %d", j.to, got.Size, a.Size)
	}
	if j.s.Compare == config.CompareChecksum && srcMD5 != "" {
		sum := srcMD5
		if dstFP.MD5 == "" {
			if hs, ok := j.to.(backends.Hasher); ok {
				var err error
				if dstFP.MD5, err = hs.Hash(ctx, a.Key, backends.MD5); err != nil {
					return fmt.Errorf("verify %s: %w", j.to, err)
				}
			}
		}
		if dstFP.MD5 != "" && dstFP.MD5 != sum {
			return fmt.Errorf("verify %s: written md5 %s does not match source md5 %s", j.to, dstFP.MD5, sum)
		}
	}
	e.bytes.Add(max(got.Size, 0))
	e.rec.add(state.Change{Record: state.Record{Sync: j.s.Name, Key: a.Key, Src: srcFP, Dst: dstFP, Written: time.Now()}})
	return nil
}

// recorder batches state changes: a batch commits when it reaches
// batchSize or when its oldest change is flushEvery old.
type recorder struct {
	st   *state.Store
	log  *slog.Logger
	ch   chan state.Change
	done chan struct{}
	err  error
}

const (
	batchSize  = 1000
	flushEvery = 500 * time.Millisecond
)

func newRecorder(st *state.Store, log *slog.Logger) *recorder {
	r := &recorder{st: st, log: log, ch: make(chan state.Change, batchSize), done: make(chan struct{})}
	go r.loop()
	return r
}

func (r *recorder) add(c state.Change) { r.ch <- c }

func (r *recorder) loop() {
	defer close(r.done)
	batch := make([]state.Change, 0, batchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// Never cancelled: a finished copy must be recorded even when the
		// run is being interrupted.
		if err := r.st.Apply(context.Background(), batch); err != nil && r.err == nil {
			r.err = err
			r.log.Error("recording finished objects in the state failed", "err", err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case c, ok := <-r.ch:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				timer.Reset(flushEvery)
			}
			batch = append(batch, c)
			if len(batch) >= batchSize {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

// close flushes what is left and reports the first recording error.
func (r *recorder) close() error {
	close(r.ch)
	<-r.done
	return r.err
}
