package apply

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"syncer/state"
)

// failureLog records the run's failed actions in the state as they
// happen, in batches, through a small bounded queue: memory does not grow
// with the number of failures (a full queue makes the failing worker
// wait for the write).
type failureLog struct {
	st   *state.Store
	run  int64
	log  *slog.Logger
	ch   chan state.Failure
	wg   sync.WaitGroup
	once sync.Once
}

const failureBatch = 256

func newFailureLog(st *state.Store, run int64, log *slog.Logger) *failureLog {
	f := &failureLog{st: st, run: run, log: log, ch: make(chan state.Failure, failureBatch)}
	f.wg.Go(f.loop)
	return f
}

func (f *failureLog) loop() {
	batch := make([]state.Failure, 0, failureBatch)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	flush := func() {
		if err := f.st.AddFailures(context.Background(), batch); err != nil {
			f.log.Error("recording failed keys in the state failed", "err", err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case x, ok := <-f.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, x)
			if len(batch) == cap(batch) {
				flush()
			}
		case <-t.C:
			flush()
		}
	}
}

func (f *failureLog) RunStarted(RunInfo)   {}
func (f *failureLog) ObjectStarted(Object) {}
func (f *failureLog) Progress(Progress)    {}

func (f *failureLog) ObjectFinished(o Object) {
	if o.Outcome != Failed {
		return
	}
	msg := ""
	if o.Err != nil {
		msg = o.Err.Error()
	}
	f.ch <- state.Failure{Run: f.run, Sync: o.Sync, Key: o.Key, Action: string(o.Action), Error: msg, At: time.Now()}
}

// close writes what is queued and waits for it.
func (f *failureLog) close() {
	f.once.Do(func() { close(f.ch) })
	f.wg.Wait()
}
