package apply

import (
	"context"
	"fmt"

	"syncer/backends"
	"syncer/plan"
)

// policy returns the source's archived policy (backends.Archived*).
func (j *job) policy() string {
	if a, ok := j.from.(backends.Archiver); ok {
		return a.ArchivedPolicy()
	}
	return backends.ArchivedSkip
}

// countArchived counts the sync's archived copies the plan skips (phase
// Never): with archived = "restore", their restores are in progress.
func (j *job) countArchived(ctx context.Context) error {
	ss, err := j.e.plan.SyncSummary(ctx, j.s.Name)
	if err != nil {
		return err
	}
	j.e.archived.Add(ss.Archived)
	if j.policy() == backends.ArchivedRestore {
		j.e.restoring.Add(ss.Archived)
	}
	return nil
}

// archived handles a copy whose source read answered that the object is
// archived (one the listing could not tell, such as S3 Intelligent-Tiering's
// archive tiers, or a restored copy expired since the plan), by the
// source's policy.
func (j *job) archived(ctx context.Context, a plan.Action, err error) {
	switch j.policy() {
	case backends.ArchivedFail:
		j.failed(ctx, a.Kind, a.Key, err)
	case backends.ArchivedRestore:
		j.restore(ctx, a.Key)
	default:
		j.e.archived.Add(1)
		j.e.log.Warn("not copied: the source object is archived; restore it first, or set archived = \"restore\"", "sync", j.s.Name, "key", a.Key, "err", err)
	}
}

// restore asks the source to restore key. A failed request is a failure
// of the run; one asked for, in progress or done counts as archived: a
// later run copies it.
func (j *job) restore(ctx context.Context, key string) {
	ar, ok := j.from.(backends.Archiver)
	if !ok {
		j.failed(ctx, "restore", key, fmt.Errorf("%s cannot restore archived objects", j.from))
		return
	}
	st, err := ar.Restore(ctx, key)
	if err != nil {
		j.failed(ctx, "restore", key, err)
		return
	}
	j.e.archived.Add(1)
	switch st {
	case backends.RestoreRequested:
		j.e.restoring.Add(1)
		j.e.log.Info("restore requested", "sync", j.s.Name, "key", key)
	case backends.RestoreInProgress:
		j.e.restoring.Add(1)
	case backends.RestoreDone:
		j.e.log.Info("restored since the plan: the next run copies it", "sync", j.s.Name, "key", key)
	}
}
