package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"syncer/backends"
)

// ErrNoRemoteState is returned when the state object does not exist.
var ErrNoRemoteState = errors.New("no state object")

// Pull streams the state object at key to w, as it is.
func Pull(ctx context.Context, store backends.ConditionalStore, key string, w io.Writer) error {
	rc, _, err := store.GetObject(ctx, key)
	if errors.Is(err, backends.ErrNotFound) {
		return fmt.Errorf("remote state %s key %q: %w: nothing has been applied yet", store, key, ErrNoRemoteState)
	}
	if err != nil {
		return fmt.Errorf("remote state %s key %q: %w", store, key, err)
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("remote state %s key %q: %w", store, key, err)
	}
	return nil
}

// ReadRemote downloads the state object at key, without the lock, to a
// working copy in cacheDir and opens it, for reading (show, state list).
// A missing object gives an error wrapping ErrNoRemoteState. close
// removes the copy.
func ReadRemote(ctx context.Context, store backends.ConditionalStore, key, cacheDir string) (st *Store, close func(), err error) {
	w, err := newWork(cacheDir, key, "read")
	if err != nil {
		return nil, nil, err
	}
	where := fmt.Sprintf("remote state %s key %q", store, key)
	etag, err := fetch(ctx, store, key, w.path)
	if err != nil {
		w.remove()
		return nil, nil, fmt.Errorf("%s: %w", where, err)
	}
	if etag == "" {
		w.remove()
		return nil, nil, fmt.Errorf("%s: %w", where, ErrNoRemoteState)
	}
	st, err = Open(ctx, w.path, false)
	if err != nil {
		w.remove()
		return nil, nil, fmt.Errorf("%s (downloaded to %s): %w", where, w.path, err)
	}
	return st, func() { st.Close(); w.remove() }, nil
}

// RemoteLockHolder returns who holds the lock on key, or nil.
func RemoteLockHolder(ctx context.Context, store backends.ConditionalStore, key string) (*LockInfo, error) {
	r := &Remote{store: store, key: key, lockKey: key + ".lock", where: fmt.Sprintf("remote state %s key %q", store, key)}
	l, _, err := r.readLock(ctx)
	if err != nil || l == nil {
		return nil, err
	}
	return l.info(), nil
}

// ForceUnlock removes the lock on key if its ID is id, and returns who
// held it. A lock with another ID, or none, is an error.
func ForceUnlock(ctx context.Context, store backends.ConditionalStore, key, id string) (*LockInfo, error) {
	r := &Remote{store: store, key: key, lockKey: key + ".lock", where: fmt.Sprintf("remote state %s key %q", store, key)}
	l, info, err := r.readLock(ctx)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, fmt.Errorf("%s is not locked: nothing to unlock", r.where)
	}
	if l.ID != id {
		return nil, fmt.Errorf("%s: the lock's ID is %s, not %s (held by %s): nothing was removed", r.where, l.ID, id, l.info())
	}
	if err := store.DeleteIf(ctx, r.lockKey, info.ETag); err != nil {
		if errors.Is(err, backends.ErrPrecondition) {
			return nil, fmt.Errorf("%s: the lock changed while being removed (renewed or taken over): nothing was removed; look again", r.where)
		}
		return nil, fmt.Errorf("%s: remove the lock: %w", r.where, err)
	}
	return l.info(), nil
}

// PushOptions configures Push.
type PushOptions struct {
	RemoteOptions
	Force bool // push a different lineage or an older serial
}

// PushResult says what Push replaced.
type PushResult struct {
	From, To Version
	Existed  bool // a remote state was there
}

// Push replaces the state object with the state file at path, under the
// lock: refused, unless opts.Force, when the remote state has another
// lineage or a newer serial. What is pushed is a consistent snapshot of the
// file taken by SQLite (commits still in its -wal file included); only
// that copy is opened (an older schema is migrated there, never in the
// file).
func Push(ctx context.Context, store backends.ConditionalStore, path string, opts PushOptions) (PushResult, error) {
	var res PushResult
	if err := checkFile(path, false); err != nil {
		return res, fmt.Errorf("push: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		return res, fmt.Errorf("push: %s is empty, not a syncer state: nothing was pushed", path)
	}
	local, err := snapshotFile(ctx, path, opts.CacheDir, opts.Key, "push")
	if err != nil {
		return res, fmt.Errorf("push: %w", err)
	}
	defer local.remove()
	st, err := Open(ctx, local.path, false)
	if err != nil {
		return res, fmt.Errorf("push %s: %w", path, err)
	}
	defer st.Close()
	if res.From, err = st.Version(ctx); err != nil {
		return res, fmt.Errorf("push %s: %w", path, err)
	}
	r, err := OpenRemote(ctx, store, opts.RemoteOptions)
	if err != nil {
		return res, err
	}
	defer r.Close(context.WithoutCancel(ctx))
	res.Existed = r.Existed()
	if res.Existed {
		if res.To, err = r.Store().Version(ctx); err != nil {
			return res, err
		}
		switch {
		case opts.Force:
		case res.To.Lineage != res.From.Lineage:
			return res, fmt.Errorf("%s has lineage %s, and %s has lineage %s: they are different states; nothing was pushed (-force replaces it)",
				r.where, res.To.Lineage, path, res.From.Lineage)
		case res.From.Serial < res.To.Serial:
			return res, fmt.Errorf("%s has serial %d, newer than the serial %d of %s: nothing was pushed (-force replaces it)",
				r.where, res.To.Serial, res.From.Serial, path)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err = r.uploadLocked(ctx, st, true)
	return res, err
}
