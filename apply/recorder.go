package apply

import (
	"context"
	"log/slog"
	"time"

	"syncer/state"
)

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
