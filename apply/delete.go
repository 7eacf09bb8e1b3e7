package apply

import (
	"context"
	"errors"
	"fmt"

	"syncer/backends"
	"syncer/plan"
	"syncer/state"
)

// delete removes one key from the destination.
func (j *job) delete(ctx context.Context, key string) {
	j.deleted(ctx, key, j.to.Delete(ctx, key))
}

// deleted counts the outcome of one key's delete, alone or in a batch, and
// forgets the record of a key that went.
func (j *job) deleted(ctx context.Context, key string, err error) {
	if err != nil {
		j.failed(ctx, plan.Delete, key, err)
		return
	}
	j.e.deleted.Add(1)
	j.forget(key)
	finish(ctx, Deleted, nil)
}

// forget drops key's record from the state.
func (j *job) forget(key string) {
	j.e.rec.add(state.Change{Record: state.Record{Sync: j.s.Name, Key: key}, Forget: true})
}

// deleteBatches runs a sync's AfterCopies phase through a destination that
// removes many keys per request, in order, without the pool.
func (e *executor) deleteBatches(ctx context.Context, j *job, bd backends.BatchDeleter) error {
	keys := make([]string, 0, bd.MaxBatch())
	flush := func() {
		if len(keys) == 0 {
			return
		}
		defer func() { keys = keys[:0] }()
		acts := make([]context.Context, len(keys))
		for i, k := range keys {
			acts[i], _ = j.begin(ctx, plan.Action{Kind: plan.Delete, Key: k})
		}
		errs, err := bd.DeleteBatch(ctx, keys)
		if err != nil {
			outcome := Stopped
			if ctx.Err() == nil {
				outcome = Failed
				e.failed.Add(int64(len(keys)))
				e.log.Error(fmt.Sprintf("deleting %d objects failed", len(keys)), "sync", j.s.Name, "err", err)
			}
			for _, a := range acts {
				finish(a, outcome, err)
			}
			return
		}
		for i, k := range keys {
			var err error
			if i < len(errs) {
				err = errs[i]
			}
			j.deleted(acts[i], k, err)
		}
	}
	err := e.plan.EachInPhase(ctx, j.s.Name, plan.AfterCopies, func(page []plan.Action) error {
		if e.stop.Err() != nil {
			return errStopped
		}
		for _, a := range page {
			if a.Kind == plan.Forget {
				_, x := j.begin(ctx, a)
				j.forget(a.Key)
				x.finish(Forgotten, nil)
				continue
			}
			keys = append(keys, a.Key)
			if len(keys) == cap(keys) {
				flush()
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
	flush()
	return nil
}
