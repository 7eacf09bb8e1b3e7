package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"syncer/backends"
)

// Remote state: the state object <key> in a backends.ConditionalStore,
// guarded by the lease lock object <key>.lock. The holder works on a local
// copy (a plain *Store) and uploads consistent snapshots of it with
// If-Match on the ETag it last saw, so a run that lost its lock, or any
// other writer, can never overwrite the state unseen.

// RemoteOptions configures OpenRemote.
type RemoteOptions struct {
	Key         string        // the state object; the lock is Key+".lock"
	CacheDir    string        // where working copies are kept (created 0700)
	Operation   string        // "plan", "apply", "push": for the lock
	Version     string        // syncer's, for the lock
	LockTTL     time.Duration // a lock not renewed for this long may be taken over
	LockTimeout time.Duration // wait this long for a live lock (0: fail at once)
	Log         *slog.Logger

	renewEvery time.Duration // tests: 0 = LockTTL/3, < 0 = never
}

// remoteLock is the JSON in a lock object.
type remoteLock struct {
	ID         string    `json:"id"`
	Operation  string    `json:"operation"`
	Who        string    `json:"who"` // user@host, as Terraform's
	Host       string    `json:"host"`
	Pod        string    `json:"pod,omitempty"`
	PID        int       `json:"pid"`
	Version    string    `json:"version"`
	Created    time.Time `json:"created"`
	Renewed    time.Time `json:"renewed"` // the holder's clock; staleness goes by the store's
	TTLSeconds float64   `json:"ttl_seconds"`
	Path       string    `json:"path"`
}

func (l *remoteLock) info() *LockInfo {
	return &LockInfo{Operation: l.Operation, Host: l.Host, PID: l.PID, Started: l.Created,
		Version: l.Version, Pod: l.Pod, ID: l.ID}
}

// maxLockSize bounds what is read of a lock object.
const maxLockSize = 64 << 10

// NotLockError says the lock object holds something syncer did not write.
type NotLockError struct {
	Where string
	Err   error
}

func (e *NotLockError) Error() string {
	return fmt.Sprintf("%s exists but is not a syncer lock (%v): refusing to take or remove it; if nothing else uses that key, delete the object by hand", e.Where, e.Err)
}

func (e *NotLockError) Unwrap() error { return e.Err }

// LockLostError says a run's remote lock was taken over, or could not be
// renewed, or the state object changed under it: it must stop, and it
// uploads nothing more.
type LockLostError struct{ msg string }

func (e *LockLostError) Error() string { return e.msg }

// Remote is remote state opened with its lock held.
type Remote struct {
	store   backends.ConditionalStore
	opts    RemoteOptions
	key     string
	lockKey string
	where   string // for messages
	st      *Store
	work    *workCopy // the working copy

	mu        sync.Mutex // one conditional write at a time
	etag      string     // of the state object as last seen or written; "" = none
	digest    string     // contentDigest of the state as last downloaded or uploaded; "" = unknown
	existed   bool       // the state object existed when opened
	unsaved   bool       // the last checkpoint failed, and not for a lost lock
	lock      *remoteLock
	lockETag  string // "" once released
	lastRenew time.Time
	leaseFrom atomic.Int64 // monotonic ns since procStart when the last good renewal was sent

	lostOnce sync.Once
	lost     chan struct{}
	lostErr  error

	stopRenew chan struct{}
	renewDone chan struct{}
}

// OpenRemote checks that store keeps conditional writes, takes the lock on
// opts.Key, downloads the state object to a working copy in opts.CacheDir
// (a new state if there is none) and opens it. Close releases all.
func OpenRemote(ctx context.Context, store backends.ConditionalStore, opts RemoteOptions) (*Remote, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.LockTTL <= 0 {
		return nil, fmt.Errorf("remote state: lock TTL %s is not positive", opts.LockTTL)
	}
	r := &Remote{
		store: store, opts: opts, key: opts.Key, lockKey: opts.Key + ".lock",
		where: fmt.Sprintf("remote state %s key %q", store, opts.Key),
		lost:  make(chan struct{}),
	}
	if err := store.CheckConditional(ctx, r.key); err != nil {
		return nil, fmt.Errorf("%s: %w", r.where, err)
	}
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	r.startRenewing()
	if err := r.download(ctx); err != nil {
		r.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return r, nil
}

// newLock describes this process's lock.
func (r *Remote) newLock() *remoteLock {
	host, _ := os.Hostname()
	pod := ""
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		if pod = os.Getenv("POD_NAME"); pod == "" {
			pod = os.Getenv("HOSTNAME")
		}
	}
	user := os.Getenv("USER")
	if user == "" {
		user = fmt.Sprintf("uid%d", os.Getuid())
	}
	now := time.Now().UTC()
	return &remoteLock{
		ID: newLineage(), Operation: r.opts.Operation, Who: user + "@" + host, Host: host, Pod: pod,
		PID: os.Getpid(), Version: r.opts.Version, Created: now, Renewed: now,
		TTLSeconds: r.opts.LockTTL.Seconds(), Path: fmt.Sprintf("%s/%s", r.store, r.key),
	}
}

func (r *Remote) putLock(ctx context.Context, l *remoteLock, cond backends.Cond) (string, error) {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return "", err
	}
	return r.store.PutIf(ctx, r.lockKey, bytes.NewReader(b), int64(len(b)), cond)
}

// readLock reads the lock object: nil (and no error) when there is none.
func (r *Remote) readLock(ctx context.Context) (*remoteLock, backends.ObjectInfo, error) {
	rc, info, err := r.store.GetObject(ctx, r.lockKey)
	if errors.Is(err, backends.ErrNotFound) {
		return nil, info, nil
	}
	if err != nil {
		return nil, info, fmt.Errorf("%s: read the lock: %w", r.where, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxLockSize+1))
	if err != nil {
		return nil, info, fmt.Errorf("%s: read the lock: %w", r.where, err)
	}
	where := fmt.Sprintf("the lock object %q of %s", r.lockKey, r.store)
	if len(data) > maxLockSize {
		return nil, info, &NotLockError{Where: where, Err: fmt.Errorf("it is larger than %d bytes", maxLockSize)}
	}
	var l remoteLock
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&l); err != nil {
		return nil, info, &NotLockError{Where: where, Err: fmt.Errorf("not JSON: %v", err)}
	}
	if l.ID == "" || l.Operation == "" {
		return nil, info, &NotLockError{Where: where, Err: errors.New("it has no id or operation")}
	}
	return &l, info, nil
}

// acquire creates the lock object; one that exists is waited for (up to
// LockTimeout) or, once not renewed for its TTL by the store's clock, taken
// over with If-Match on its ETag, so that of two takers one wins.
func (r *Remote) acquire(ctx context.Context) error {
	mine := r.newLock()
	deadline := time.Now().Add(r.opts.LockTimeout)
	wait := 200 * time.Millisecond
	var seenETag string
	var seenAt time.Time // when seenETag was first seen, monotonic
	for {
		sent := sinceStart()
		etag, err := r.putLock(ctx, mine, backends.Cond{IfNoneMatch: true})
		if err == nil {
			r.leaseFrom.Store(sent)
			r.lock, r.lockETag, r.lastRenew = mine, etag, time.Now()
			return nil
		}
		if !errors.Is(err, backends.ErrPrecondition) {
			return fmt.Errorf("%s: create the lock: %w", r.where, err)
		}
		holder, info, err := r.readLock(ctx)
		if err != nil {
			return err
		}
		if holder != nil {
			if info.ETag != seenETag {
				seenETag, seenAt = info.ETag, time.Now()
			}
			stale, age, err := r.isStale(ctx, holder, info, seenAt)
			if err != nil {
				return err
			}
			if stale {
				sent := sinceStart()
				etag, err := r.putLock(ctx, mine, backends.Cond{IfMatch: info.ETag})
				if err == nil {
					r.leaseFrom.Store(sent)
					r.lock, r.lockETag, r.lastRenew = mine, etag, time.Now()
					r.opts.Log.Warn("took over a stale state lock", "state", r.where, "holder", holder.info().String(),
						"not_renewed_for", age.Round(time.Second).String())
					return nil
				}
				if !errors.Is(err, backends.ErrPrecondition) {
					return fmt.Errorf("%s: take over the lock: %w", r.where, err)
				}
				continue // renewed, or another taker won: look again
			}
			if !time.Now().Add(wait).Before(deadline) {
				return &LockedError{Path: r.where, Holder: holder.info()}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 2*time.Second)
	}
}

// isStale says whether the holder's lock went unrenewed for its TTL: by
// the store's clock (a fresh HEAD's Date against the lock's LastModified),
// or, when the store sends no Date, by this process's monotonic clock
// since it first saw the lock's current ETag.
func (r *Remote) isStale(ctx context.Context, holder *remoteLock, info backends.ObjectInfo, seenAt time.Time) (bool, time.Duration, error) {
	ttl := r.opts.LockTTL
	if holder.TTLSeconds > 0 {
		ttl = time.Duration(holder.TTLSeconds * float64(time.Second))
	}
	head, now, err := r.store.Head(ctx, r.lockKey)
	if errors.Is(err, backends.ErrNotFound) {
		return false, 0, nil // released: create it again
	}
	if err != nil {
		return false, 0, fmt.Errorf("%s: read the lock: %w", r.where, err)
	}
	if head.ETag != info.ETag {
		return false, 0, nil // renewed meanwhile
	}
	if !now.IsZero() && !head.LastModified.IsZero() {
		age := now.Sub(head.LastModified)
		return age >= ttl, age, nil
	}
	age := time.Since(seenAt)
	return age >= ttl, age, nil
}

func (r *Remote) startRenewing() {
	every := r.opts.renewEvery
	if every == 0 {
		every = r.opts.LockTTL / 3
	}
	r.stopRenew, r.renewDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(r.renewDone)
		if every < 0 {
			<-r.stopRenew
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-r.stopRenew:
				return
			case <-r.lost:
				return
			case <-t.C:
				r.mu.Lock()
				err := r.renewLocked(context.Background())
				r.mu.Unlock()
				if err != nil {
					var lle *LockLostError
					if !errors.As(err, &lle) {
						r.opts.Log.Warn("could not renew the state lock; trying again", "state", r.where, "error", err)
					}
				}
			}
		}
	}()
}

// renewLocked rewrites the lock with If-Match on its ETag, which also
// proves it is still held. r.mu is held.
func (r *Remote) renewLocked(ctx context.Context) error {
	if err := r.Err(); err != nil {
		return err
	}
	if r.lockETag == "" {
		return &LockLostError{msg: fmt.Sprintf("%s: the lock was released", r.where)}
	}
	r.lock.Renewed = time.Now().UTC()
	sent := sinceStart()
	etag, err := r.putLock(ctx, r.lock, backends.Cond{IfMatch: r.lockETag})
	if err == nil {
		r.leaseFrom.Store(sent)
		r.lockETag, r.lastRenew = etag, time.Now()
		return nil
	}
	if errors.Is(err, backends.ErrPrecondition) {
		who := "another process"
		if l, _, rerr := r.readLock(ctx); rerr == nil && l != nil {
			who = l.info().String()
		} else if rerr == nil {
			who = "someone who then released or removed it"
		}
		return r.setLost(fmt.Sprintf("%s: this run's lock (ID %s) was taken over by %s: this run stops, and uploads nothing more", r.where, r.lock.ID, who))
	}
	if since := time.Since(r.lastRenew); since >= r.opts.LockTTL {
		return r.setLost(fmt.Sprintf("%s: the lock could not be renewed for %s (%v), so another syncer may take it over: this run stops, and uploads nothing more", r.where, since.Round(time.Second), err))
	}
	return fmt.Errorf("%s: renew the lock: %w", r.where, err)
}

func (r *Remote) setLost(msg string) error {
	r.lostOnce.Do(func() {
		r.lostErr = &LockLostError{msg: msg}
		close(r.lost)
	})
	<-r.lost
	return r.lostErr
}

var procStart = time.Now()

// sinceStart reads the monotonic clock.
func sinceStart() int64 { return int64(time.Since(procStart)) }

// leaseValid is how long after sending a renewal the holder counts on its
// lock: less than the TTL by the store's one-second LastModified and a
// tenth, so that it stops before anyone may take the lock over.
func (r *Remote) leaseValid() time.Duration {
	return max(r.opts.LockTTL-time.Second-r.opts.LockTTL/10, r.opts.LockTTL/2)
}

// leaseLapsed reports whether the run must stop: its lock is lost, or not
// renewed within leaseValid by the monotonic clock (a process stalled or
// frozen, whose lock another syncer may already hold).
func (r *Remote) leaseLapsed() bool {
	if r.Err() != nil {
		return true
	}
	if r.leaseFrom.Load() == 0 {
		return false // released by Release; nothing more is uploaded
	}
	gap := time.Duration(sinceStart() - r.leaseFrom.Load())
	if gap < r.leaseValid() {
		return false
	}
	r.setLost(fmt.Sprintf("%s: the lock was not renewed for %s (the process stalled?), so another syncer may have taken it over: this run stops, and uploads nothing more",
		r.where, gap.Round(100*time.Millisecond)))
	return true
}

// guardCtx is a context whose Err also says the run must stop once the
// lease lapsed: checked when asked, so a frozen and resumed process takes
// no new work before a timer could fire.
type guardCtx struct {
	context.Context
	r *Remote
}

func (g guardCtx) Err() error {
	if err := g.Context.Err(); err != nil {
		return err
	}
	if g.r.leaseLapsed() {
		return context.Canceled
	}
	return nil
}

// Guard returns a context that is cancelled when the run must stop (see
// Lost), and whose Err says so as soon as the lease lapsed.
func (r *Remote) Guard(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		t := time.NewTicker(max(r.leaseValid()/4, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-r.lost:
				cancel()
				return
			case <-ctx.Done():
				return
			case <-t.C:
				r.leaseLapsed()
			}
		}
	}()
	return guardCtx{ctx, r}, cancel
}

// Lost is closed when the run must stop: its lock was taken over or not
// renewed in time, or the state object changed under it. Err says why.
func (r *Remote) Lost() <-chan struct{} { return r.lost }

// Err is why Lost was closed, or nil.
func (r *Remote) Err() error {
	select {
	case <-r.lost:
		return r.lostErr
	default:
		return nil
	}
}

// Store is the working copy.
func (r *Remote) Store() *Store { return r.st }

// Existed reports whether the state object existed when opened.
func (r *Remote) Existed() bool { return r.existed }

// Where names the remote state for messages.
func (r *Remote) Where() string { return r.where }

// LockID is the ID of the lock held.
func (r *Remote) LockID() string { return r.lock.ID }

// fetch streams the state object to a new file at path: its ETag, or ""
// when there is none (and then no file).
func fetch(ctx context.Context, store backends.ConditionalStore, key, path string) (string, error) {
	rc, info, err := store.GetObject(ctx, key)
	if errors.Is(err, backends.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	n, err := io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && info.Size >= 0 && n != info.Size {
		err = fmt.Errorf("read %d bytes of %d", n, info.Size)
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("download %s key %q: %w", store, key, err)
	}
	return info.ETag, nil
}

// download fetches the state object to the working copy and opens it.
func (r *Remote) download(ctx context.Context) error {
	w, err := newWork(r.opts.CacheDir, r.key, "work")
	if err != nil {
		return fmt.Errorf("%s: %w", r.where, err)
	}
	r.work = w
	etag, err := fetch(ctx, r.store, r.key, w.path)
	if err != nil {
		return fmt.Errorf("%s: %w", r.where, err)
	}
	r.etag, r.existed = etag, etag != ""
	st, err := Open(ctx, w.path, !r.existed)
	if err != nil {
		return fmt.Errorf("%s (downloaded to %s): %w", r.where, w.path, err)
	}
	r.st = st
	if r.existed && r.opts.Operation == "apply" {
		// What an upload is compared with, so that a run that changed
		// nothing uploads nothing.
		if r.digest, err = contentDigest(ctx, w.path); err != nil {
			return fmt.Errorf("%s: %w", r.where, err)
		}
	}
	return nil
}

// Checkpoint uploads a consistent snapshot of the working copy with
// If-Match on the ETag last seen (If-None-Match: * for the first), after
// renewing the lock, which proves it is still held. If the object changed,
// nothing is written and the run is lost. A snapshot whose content (all
// but the runs' history) equals what was last downloaded or uploaded is
// not uploaded: uploaded says whether it was.
func (r *Remote) Checkpoint(ctx context.Context) (uploaded bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	up, err := r.uploadLocked(ctx, r.st, false)
	r.unsaved = err != nil && r.Err() == nil
	return up, err
}

// uploadLocked uploads a snapshot of st; unless force, only when its
// content differs from r.digest. r.mu is held.
func (r *Remote) uploadLocked(ctx context.Context, st *Store, force bool) (bool, error) {
	if err := r.renewLocked(ctx); err != nil {
		return false, err
	}
	snap, err := snapshotFile(ctx, st.path, r.opts.CacheDir, r.key, "snap")
	if err != nil {
		return false, fmt.Errorf("%s: %w", r.where, err)
	}
	defer snap.remove()
	digest := ""
	if !force {
		if digest, err = contentDigest(ctx, snap.path); err != nil {
			return false, fmt.Errorf("%s: %w", r.where, err)
		}
		if r.etag != "" && digest == r.digest {
			r.opts.Log.Debug("state unchanged; not uploaded", "state", r.where)
			return false, nil
		}
	}
	f, err := os.Open(snap.path)
	if err != nil {
		return false, fmt.Errorf("%s: %w", r.where, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("%s: %w", r.where, err)
	}
	cond := backends.Cond{IfMatch: r.etag, IfNoneMatch: r.etag == ""}
	etag, err := r.store.PutIf(ctx, r.key, f, fi.Size(), cond)
	if err == nil {
		r.etag, r.digest = etag, digest
		return true, nil
	}
	if !errors.Is(err, backends.ErrPrecondition) {
		return false, fmt.Errorf("%s: upload: %w", r.where, err)
	}
	what := "was created by another process"
	if r.etag != "" {
		what = "was changed by another process"
		if info, _, herr := r.store.Head(ctx, r.key); errors.Is(herr, backends.ErrNotFound) {
			what = "was deleted"
		} else if herr == nil {
			what = fmt.Sprintf("was changed by another process at %s", info.LastModified.UTC().Format(time.RFC3339))
		}
	}
	who := ""
	if l, _, rerr := r.readLock(ctx); rerr == nil && l != nil && l.ID != r.lock.ID {
		who = "; the lock is now held by " + l.info().String()
	}
	return false, r.setLost(fmt.Sprintf("%s: the state object %s since this run read it%s: nothing was overwritten, and this run stops", r.where, what, who))
}

// Release gives the lock up and goes on with the working copy alone,
// uploading nothing more (plan without -out).
func (r *Remote) Release(ctx context.Context) {
	r.stopRenewing()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releaseLocked(ctx)
}

func (r *Remote) stopRenewing() {
	if r.stopRenew != nil {
		close(r.stopRenew)
		<-r.renewDone
		r.stopRenew = nil
	}
}

func (r *Remote) releaseLocked(ctx context.Context) {
	r.leaseFrom.Store(0)
	if r.lockETag == "" {
		return
	}
	if err := r.store.DeleteIf(ctx, r.lockKey, r.lockETag); err != nil && r.Err() == nil {
		r.opts.Log.Warn("could not remove the state lock", "state", r.where, "lock_id", r.lock.ID, "error", err)
	}
	r.lockETag = ""
}

// Close releases the lock (if held), closes the working copy and removes
// it. It uploads nothing: Checkpoint first to keep the work. When the last
// checkpoint failed (and the lock was not lost), a copy of the working
// copy is kept in the cache folder for `syncer state push`, and the log
// says where.
func (r *Remote) Close(ctx context.Context) error {
	r.stopRenewing()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releaseLocked(ctx)
	var err error
	if r.st != nil {
		if r.unsaved && r.Err() == nil {
			if kept, kerr := r.work.keep(ctx); kerr != nil {
				r.opts.Log.Error("the state could not be uploaded, nor its working copy kept", "state", r.where, "error", kerr)
			} else {
				r.opts.Log.Warn("the state could not be uploaded; a copy of it is kept: once the store works again, upload it with `syncer state push` (the next apply adopts what this run copied in any case)",
					"state", r.where, "copy", kept)
			}
		}
		err = r.st.Close()
		r.st = nil
	}
	r.work.remove()
	return err
}
