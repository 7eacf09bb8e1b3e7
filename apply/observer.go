package apply

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"syncer/plan"
)

// Outcome is how one action ended.
type Outcome string

// Outcomes of an action. An aborted action (ctx cancelled) or one stopped
// at a part boundary (backends.ErrStopped, a store's limit) is Stopped: not
// a failure, the next run does it.
const (
	Created          Outcome = "created"
	Updated          Outcome = "updated"
	Deleted          Outcome = "deleted"
	Adopted          Outcome = "adopted"
	Forgotten        Outcome = "forgotten" // a record dropped: the key is gone on both sides
	Archived         Outcome = "archived"  // not copied: the source object is archived
	RestoreRequested Outcome = "restore_requested"
	Failed           Outcome = "failed"
	Stopped          Outcome = "stopped"
)

// Object describes one action of the plan as it starts or finishes.
type Object struct {
	Sync, Key string
	Action    plan.Kind
	Bytes     int64 // the planned size (-1: unknown); 0 for deletes
	// Set on finish only.
	// Transferred is the bytes this action moved: read from the source
	// (only the parts sent, for a resumed upload) or copied server-side.
	Transferred int64
	Elapsed     time.Duration
	Outcome     Outcome
	Err         error // set when Outcome is Failed (or Stopped by an error)
}

// Progress is a snapshot of the run's counts. Objects count copies and
// deletes (the work the plan sized), finished however they ended.
type Progress struct {
	Objects, ObjectsTotal int64
	Bytes, BytesTotal     int64         // bytes read from sources so far; planned
	Rate                  float64       // bytes per second since the start
	ETA                   time.Duration // negative: unknown
	Elapsed               time.Duration
}

// RunInfo describes a run as it starts.
type RunInfo struct {
	Workers int   // the tuned worker count
	Objects int64 // copies and deletes planned
	Bytes   int64 // bytes planned
	Run     int64 // the state's id of the run
	Skipped int64 // keys the destination cannot hold: never tried
}

// Observer is told what a run does. Its methods are called from several
// workers at once and must be safe for concurrent use, and quick: a worker
// waits for them. Each started action finishes exactly once; an action
// never started (Stop fired first) reports neither.
type Observer interface {
	// RunStarted is called once, before any object.
	RunStarted(RunInfo)
	ObjectStarted(Object)
	ObjectFinished(Object)
	// Progress is called every Options.ProgressInterval, and once at the
	// end of the run.
	Progress(Progress)
}

// observers fans events out to several observers in turn.
type observers []Observer

func (o observers) RunStarted(r RunInfo) {
	for _, ob := range o {
		ob.RunStarted(r)
	}
}

func (o observers) ObjectStarted(x Object) {
	for _, ob := range o {
		ob.ObjectStarted(x)
	}
}

func (o observers) ObjectFinished(x Object) {
	for _, ob := range o {
		ob.ObjectFinished(x)
	}
}

func (o observers) Progress(p Progress) {
	for _, ob := range o {
		ob.Progress(p)
	}
}

// act is one action in flight; it reports its outcome once, whichever of
// the helpers it passes through (through ctx) decides it first.
type act struct {
	obj   Object
	obs   Observer
	once  sync.Once
	t0    time.Time
	moved atomic.Int64 // bytes transferred so far
}

type actKey struct{}

// begin reports a's start and returns ctx carrying it for finish.
func (j *job) begin(ctx context.Context, a plan.Action) (context.Context, *act) {
	size := a.Size
	if a.Kind == plan.Delete || a.Kind == plan.Forget {
		size = 0
	}
	x := &act{obj: Object{Sync: j.s.Name, Key: a.Key, Action: a.Kind, Bytes: size}, obs: j.e.obs, t0: time.Now()}
	j.e.obs.ObjectStarted(x.obj)
	return context.WithValue(ctx, actKey{}, x), x
}

// finish reports the outcome of the action ctx carries, if not done yet.
func finish(ctx context.Context, o Outcome, err error) {
	if x, ok := ctx.Value(actKey{}).(*act); ok {
		x.finish(o, err)
	}
}

func (x *act) finish(o Outcome, err error) {
	x.once.Do(func() {
		x.obj.Outcome, x.obj.Err, x.obj.Elapsed = o, err, time.Since(x.t0)
		x.obj.Transferred = x.moved.Load()
		x.obs.ObjectFinished(x.obj)
	})
}

// moved returns the function that counts n bytes transferred for the
// action ctx carries (if any) and in the run's progress.
func (e *executor) moved(ctx context.Context) func(n int64) {
	x, _ := ctx.Value(actKey{}).(*act)
	return func(n int64) {
		if x != nil {
			x.moved.Add(n)
		}
		e.prog.addBytes(n)
	}
}

// tick calls obs.Progress every interval until stop is closed.
func (e *executor) tick(obs Observer, every time.Duration, stop <-chan struct{}, wg *sync.WaitGroup) {
	if obs == nil || every <= 0 {
		return
	}
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				obs.Progress(e.prog.snapshot())
			}
		}
	})
}

// Observers returns one Observer telling each of obs in turn; nil when
// there is none.
func Observers(obs ...Observer) Observer {
	switch len(obs) {
	case 0:
		return nil
	case 1:
		return obs[0]
	}
	return observers(obs)
}
