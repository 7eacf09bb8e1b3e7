package apply

import (
	"context"
	"fmt"
	"slices"

	"syncer/backends"
	"syncer/plan"
)

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

// dropUpload aborts the recorded upload of a.Key, if any, and forgets it,
// after its source changed while it was read. Failures are logged: a
// stale upload left behind is aborted by a later run.
func (j *job) dropUpload(ctx context.Context, a plan.Action) {
	ctx = context.WithoutCancel(ctx)
	u, ok, err := j.e.st.UploadOf(ctx, j.s.Name, a.Key)
	if err != nil || !ok {
		if err != nil {
			j.e.log.Warn("finding the upload of a changed source", "sync", j.s.Name, "key", a.Key, "err", err)
		}
		return
	}
	if ab, ok := j.to.(backends.UploadAborter); ok {
		if err := ab.AbortUpload(ctx, a.Key, u.ID); err != nil {
			j.e.log.Warn("aborting the upload of a changed source", "sync", j.s.Name, "key", a.Key, "err", err)
			return
		}
	}
	if err := j.e.st.Journal(j.s.Name, u.Src).Finished(ctx, a.Key); err != nil {
		j.e.log.Warn("forgetting the upload of a changed source", "sync", j.s.Name, "key", a.Key, "err", err)
	}
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
