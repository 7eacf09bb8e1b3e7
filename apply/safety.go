package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// backup saves the destination's current version of key in the sync's
// backup place (see config.Backup), before an update or a delete replaces
// it: as a hard link between local folders on one filesystem (the delete
// that follows makes it a rename), else server-side where the backup store
// can copy from the destination (S3 CopyObject with the same credentials;
// file to file in the kernel on one machine), else streamed through
// syncer, read pinned to the version it found. A key absent from the destination needs no backup. An error
// means the caller must not touch key.
func (j *job) backup(ctx context.Context, key string) error {
	if j.bak == nil {
		return nil
	}
	o, err := j.to.Stat(ctx, key)
	if errors.Is(err, backends.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup first: %w", err)
	}
	to := j.s.Backup.KeyFor(j.e.start, key)
	if err := backends.CheckKey(to); err != nil {
		return fmt.Errorf("backup first: %w", err)
	}
	linked := false
	if l, ok := j.bak.(backends.Linker); ok {
		// A second name for the file, where the filesystem allows it;
		// otherwise one of the copies below.
		if _, lerr := l.LinkFrom(ctx, j.to, key, to, o); lerr == nil {
			linked = true
		} else {
			j.e.log.Debug("backup: no hard link, copying", "sync", j.s.Name, "key", key, "err", lerr)
		}
	}
	sc, copier := j.bak.(backends.ServerSideCopier)
	switch {
	case linked:
	case copier && sc.CanCopyFrom(j.to):
		_, err = sc.CopyFrom(ctx, j.to, key, to, o)
	default:
		var rc io.ReadCloser
		if rc, err = backends.OpenPinned(ctx, j.to, o, 0, -1); err == nil {
			_, err = j.bak.Put(ctx, to, rc, withMeta(o, backends.MetaOf(rc)))
			rc.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("backup first to %s %q: %w; the destination was left as it was", j.bak, to, err)
	}
	j.e.backedUp.Add(1)
	j.e.log.Info("backed up", "sync", j.s.Name, "key", key, "to", j.bak.String(), "backup_key", to)
	return nil
}
