package state

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"syncer/backends"
)

// memStore is a ConditionalStore in memory whose clock the test sets.
type memStore struct {
	mu        sync.Mutex
	objs      map[string]memObj
	now       time.Time
	ignore    bool // ignore conditions, as some stores do
	puts      atomic.Int64
	statePuts atomic.Int64     // PutIf of keys other than locks
	putHook   func(key string) // called before each PutIf
	failPuts  atomic.Bool      // PutIf of keys other than locks fails
}

type memObj struct {
	data []byte
	etag string
	mod  time.Time
}

func newMemStore() *memStore {
	return &memStore{objs: map[string]memObj{}, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (m *memStore) String() string { return `mem "test"` }

func (m *memStore) advance(d time.Duration) {
	m.mu.Lock()
	m.now = m.now.Add(d)
	m.mu.Unlock()
}

func (m *memStore) GetObject(ctx context.Context, key string) (io.ReadCloser, backends.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[key]
	if !ok {
		return nil, backends.ObjectInfo{}, fmt.Errorf("get %q: %w", key, backends.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(o.data)), backends.ObjectInfo{ETag: o.etag, LastModified: o.mod, Size: int64(len(o.data))}, nil
}

func (m *memStore) PutIf(ctx context.Context, key string, r io.ReadSeeker, size int64, cond backends.Cond) (string, error) {
	if m.putHook != nil {
		m.putHook(key)
	}
	if m.failPuts.Load() && !strings.HasSuffix(key, ".lock") {
		return "", errors.New("connection refused")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts.Add(1)
	if !strings.HasSuffix(key, ".lock") {
		m.statePuts.Add(1)
	}
	o, exists := m.objs[key]
	if !m.ignore && (cond.IfNoneMatch && exists || cond.IfMatch != "" && (!exists || o.etag != cond.IfMatch)) {
		return "", fmt.Errorf("put %q: %w", key, backends.ErrPrecondition)
	}
	sum := md5.Sum(append(data, []byte(m.now.String())...))
	etag := hex.EncodeToString(sum[:])
	m.objs[key] = memObj{data: data, etag: etag, mod: m.now.Truncate(time.Second)}
	return etag, nil
}

func (m *memStore) DeleteIf(ctx context.Context, key, ifMatch string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o, ok := m.objs[key]; ok && ifMatch != "" && o.etag != ifMatch {
		return fmt.Errorf("delete %q: %w", key, backends.ErrPrecondition)
	}
	delete(m.objs, key)
	return nil
}

func (m *memStore) Head(ctx context.Context, key string) (backends.ObjectInfo, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[key]
	if !ok {
		return backends.ObjectInfo{}, time.Time{}, fmt.Errorf("head %q: %w", key, backends.ErrNotFound)
	}
	return backends.ObjectInfo{ETag: o.etag, LastModified: o.mod, Size: int64(len(o.data))}, m.now, nil
}

func (m *memStore) CheckConditional(ctx context.Context, key string) error {
	if m.ignore {
		return fmt.Errorf("%s: %w", m, backends.ErrNoConditionalWrites)
	}
	return nil
}

func (m *memStore) put(key string, data []byte) {
	m.PutIf(context.Background(), key, bytes.NewReader(data), int64(len(data)), backends.Cond{})
}

func (m *memStore) has(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.objs[key]
	return ok
}

// logBuf collects log lines safely.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func remoteOpts(t *testing.T, op string) RemoteOptions {
	return RemoteOptions{Key: "s/state.db", CacheDir: t.TempDir(), Operation: op, Version: "test",
		LockTTL: time.Minute, renewEvery: -1}
}

func mustOpenRemote(t *testing.T, m backends.ConditionalStore, o RemoteOptions) *Remote {
	t.Helper()
	r, err := OpenRemote(t.Context(), m, o)
	if err != nil {
		t.Fatalf("OpenRemote: %v", err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func TestRemoteRoundTrip(t *testing.T) {
	ctx := t.Context()
	m := newMemStore()
	o := remoteOpts(t, "apply")
	r := mustOpenRemote(t, m, o)
	if r.Existed() || !m.has("s/state.db.lock") {
		t.Fatalf("existed %v, lock %v", r.Existed(), m.has("s/state.db.lock"))
	}
	v1, err := r.Store().BumpSerial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Checkpoint(ctx); err != nil {
		t.Fatalf("first checkpoint: %v", err)
	}
	r.Store().BumpSerial(ctx)
	if _, err := r.Checkpoint(ctx); err != nil {
		t.Fatalf("second checkpoint: %v", err)
	}
	work := r.work
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if m.has("s/state.db.lock") {
		t.Error("Close left the lock")
	}
	if _, err := os.Stat(work.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left the working copy: %v", err)
	}
	// Another run, elsewhere, sees it.
	r2 := mustOpenRemote(t, m, remoteOpts(t, "plan"))
	v2, err := r2.Store().Version(ctx)
	if err != nil || !r2.Existed() || v2.Lineage != v1.Lineage || v2.Serial != v1.Serial+1 {
		t.Fatalf("second run reads %+v (%v), want lineage %s serial %d", v2, err, v1.Lineage, v1.Serial+1)
	}
}

func TestRemoteLocked(t *testing.T) {
	m := newMemStore()
	r := mustOpenRemote(t, m, remoteOpts(t, "apply"))
	_, err := OpenRemote(t.Context(), m, remoteOpts(t, "plan"))
	var le *LockedError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.ID != r.LockID() {
		t.Fatalf("second open: %v, want a LockedError naming lock %s", err, r.LockID())
	}
	for _, want := range []string{"apply by pid", r.LockID(), `key "s/state.db"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	// -lock-timeout: waits, and gets it once released.
	o := remoteOpts(t, "plan")
	o.LockTimeout = time.Minute
	done := make(chan error, 1)
	go func() {
		r2, err := OpenRemote(t.Context(), m, o)
		if err == nil {
			r2.Close(context.Background())
		}
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	r.Close(t.Context())
	if err := <-done; err != nil {
		t.Fatalf("waiting open: %v", err)
	}
}

// A lock not renewed for its TTL by the store's clock is taken over, the
// log says whose, and the old holder can neither renew nor upload.
func TestRemoteTakeover(t *testing.T) {
	ctx := t.Context()
	m := newMemStore()
	old := mustOpenRemote(t, m, remoteOpts(t, "apply"))
	if _, err := old.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	m.advance(59 * time.Second)
	if _, err := OpenRemote(ctx, m, remoteOpts(t, "apply")); !errors.As(err, new(*LockedError)) {
		t.Fatalf("before the TTL: %v, want LockedError", err)
	}
	m.advance(2 * time.Second)
	var log logBuf
	o := remoteOpts(t, "apply")
	o.Log = slog.New(slog.NewTextHandler(&log, nil))
	taker := mustOpenRemote(t, m, o)
	if !strings.Contains(log.String(), "took over a stale state lock") || !strings.Contains(log.String(), old.LockID()) {
		t.Errorf("log does not say whose lock was taken:\n%s", log.String())
	}
	// The old holder's next checkpoint fails, and nothing is overwritten.
	before := m.objs["s/state.db"].etag
	_, err := old.Checkpoint(ctx)
	if !errors.As(err, new(*LockLostError)) || !strings.Contains(err.Error(), taker.LockID()) {
		t.Fatalf("old holder's checkpoint: %v, want LockLostError naming %s", err, taker.LockID())
	}
	select {
	case <-old.Lost():
	default:
		t.Error("Lost not closed")
	}
	if m.objs["s/state.db"].etag != before {
		t.Error("the old holder overwrote the state")
	}
	if _, err := taker.Checkpoint(ctx); err != nil {
		t.Fatalf("taker's checkpoint: %v", err)
	}
	// The old holder's Close does not remove the taker's lock.
	old.Close(ctx)
	if !m.has("s/state.db.lock") {
		t.Error("the old holder removed the taker's lock")
	}
}

// Of two takers racing for one stale lock, exactly one wins.
func TestRemoteTakeoverRace(t *testing.T) {
	for round := range 20 {
		m := newMemStore()
		dead := mustOpenRemote(t, m, remoteOpts(t, "apply"))
		dead.stopRenewing()
		m.advance(2 * time.Minute)
		var start sync.WaitGroup
		start.Add(2)
		var wins atomic.Int64
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start.Done()
				start.Wait()
				r, err := OpenRemote(context.Background(), m, remoteOpts(t, "apply"))
				if err == nil {
					wins.Add(1)
					t.Cleanup(func() { r.Close(context.Background()) })
				} else if !errors.As(err, new(*LockedError)) {
					t.Errorf("round %d: taker: %v", round, err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d takers won", round, wins.Load())
		}
	}
}

// Someone else writing the state object makes the next checkpoint fail
// without overwriting it.
func TestRemoteConflict(t *testing.T) {
	ctx := t.Context()
	m := newMemStore()
	r := mustOpenRemote(t, m, remoteOpts(t, "apply"))
	if _, err := r.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	m.put("s/state.db", []byte("someone else's"))
	r.Store().BumpSerial(ctx)
	_, err := r.Checkpoint(ctx)
	if !errors.As(err, new(*LockLostError)) || !strings.Contains(err.Error(), "changed by another process") {
		t.Fatalf("checkpoint: %v", err)
	}
	if string(m.objs["s/state.db"].data) != "someone else's" {
		t.Error("overwritten")
	}
	// A first upload where another created the object meanwhile.
	m2 := newMemStore()
	r2 := mustOpenRemote(t, m2, remoteOpts(t, "apply"))
	m2.put("s/state.db", []byte("x"))
	if _, err := r2.Checkpoint(ctx); err == nil || !strings.Contains(err.Error(), "created by another process") {
		t.Fatalf("first checkpoint over a new object: %v", err)
	}
}

func TestRemoteBadObjects(t *testing.T) {
	ctx := t.Context()
	m := newMemStore()
	m.put("s/state.db.lock", []byte("terraform was here"))
	_, err := OpenRemote(ctx, m, remoteOpts(t, "apply"))
	if !errors.As(err, new(*NotLockError)) || !strings.Contains(err.Error(), "not a syncer lock") {
		t.Fatalf("foreign lock: %v", err)
	}
	if _, err := ForceUnlock(ctx, m, "s/state.db", "x"); !errors.As(err, new(*NotLockError)) {
		t.Fatalf("force-unlock of a foreign lock: %v", err)
	}
	if string(m.objs["s/state.db.lock"].data) != "terraform was here" {
		t.Error("foreign lock changed")
	}

	m = newMemStore()
	m.put("s/state.db", []byte("not a database at all"))
	_, err = OpenRemote(ctx, m, remoteOpts(t, "apply"))
	if err == nil || !strings.Contains(err.Error(), "not a SQLite database") {
		t.Fatalf("foreign state: %v", err)
	}
	if m.has("s/state.db.lock") || string(m.objs["s/state.db"].data) != "not a database at all" {
		t.Error("a failed open left its lock or touched the state")
	}

	// A state from a newer syncer.
	m = newMemStore()
	path := filepath.Join(t.TempDir(), "new.db")
	st, err := Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	st.db.ExecContext(ctx, `UPDATE meta SET value = '99' WHERE key = 'schema_version'`)
	st.Close()
	data, _ := os.ReadFile(path)
	m.put("s/state.db", data)
	if _, err = OpenRemote(ctx, m, remoteOpts(t, "apply")); err == nil || !strings.Contains(err.Error(), "newer than this syncer knows") {
		t.Fatalf("newer state: %v", err)
	}

	m = newMemStore()
	m.ignore = true
	if _, err = OpenRemote(ctx, m, remoteOpts(t, "apply")); !errors.Is(err, backends.ErrNoConditionalWrites) {
		t.Fatalf("store without conditional writes: %v", err)
	}
	if m.puts.Load() != 0 {
		t.Error("wrote to a store without conditional writes")
	}
}

func TestForceUnlock(t *testing.T) {
	ctx := t.Context()
	m := newMemStore()
	r := mustOpenRemote(t, m, remoteOpts(t, "apply"))
	if _, err := ForceUnlock(ctx, m, "s/state.db", "wrong"); err == nil || !strings.Contains(err.Error(), "nothing was removed") {
		t.Fatalf("wrong id: %v", err)
	}
	holder, err := ForceUnlock(ctx, m, "s/state.db", r.LockID())
	if err != nil || holder.ID != r.LockID() {
		t.Fatalf("force-unlock: %+v, %v", holder, err)
	}
	if m.has("s/state.db.lock") {
		t.Error("lock still there")
	}
	if _, err := ForceUnlock(ctx, m, "s/state.db", r.LockID()); err == nil || !strings.Contains(err.Error(), "not locked") {
		t.Fatalf("second force-unlock: %v", err)
	}
	// The unlocked holder's next checkpoint fails.
	if _, err := r.Checkpoint(ctx); err == nil {
		t.Fatal("checkpoint after force-unlock succeeded")
	}
}

func TestPushPull(t *testing.T) {
	ctx := t.Context()
	m := newMemStore()
	r := mustOpenRemote(t, m, remoteOpts(t, "apply"))
	r.Store().BumpSerial(ctx)
	if _, err := r.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	r.Close(ctx)

	dir := t.TempDir()
	pulled := filepath.Join(dir, "pulled.db")
	f, _ := os.Create(pulled)
	if err := Pull(ctx, m, "s/state.db", f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st, err := Open(ctx, pulled, false)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := st.Version(ctx)
	st.Close()
	if v.Serial != 1 {
		t.Fatalf("pulled serial %d", v.Serial)
	}

	push := func(path string, force bool) (PushResult, error) {
		return Push(ctx, m, path, PushOptions{RemoteOptions: remoteOpts(t, "push"), Force: force})
	}
	// Same lineage, same serial: accepted.
	if _, err := push(pulled, false); err != nil {
		t.Fatalf("push back: %v", err)
	}
	// Remote moves on; the old file is refused.
	r = mustOpenRemote(t, m, remoteOpts(t, "apply"))
	r.Store().BumpSerial(ctx)
	r.Checkpoint(ctx)
	r.Close(ctx)
	if _, err := push(pulled, false); err == nil || !strings.Contains(err.Error(), "newer than the serial 1") {
		t.Fatalf("older serial: %v", err)
	}
	// Another lineage is refused; -force takes it.
	other := filepath.Join(dir, "other.db")
	st, _ = Open(ctx, other, true)
	ov, _ := st.BumpSerial(ctx)
	st.Close()
	if _, err := push(other, false); err == nil || !strings.Contains(err.Error(), "different states") {
		t.Fatalf("other lineage: %v", err)
	}
	if res, err := push(other, true); err != nil || res.From != ov {
		t.Fatalf("forced push: %+v, %v", res, err)
	}
	var buf bytes.Buffer
	Pull(ctx, m, "s/state.db", &buf)
	os.WriteFile(pulled, buf.Bytes(), 0o600)
	st, _ = Open(ctx, pulled, false)
	v, _ = st.Version(ctx)
	st.Close()
	if v != ov {
		t.Fatalf("remote is %+v after a forced push of %+v", v, ov)
	}
	if m.has("s/state.db.lock") {
		t.Error("push left its lock")
	}
	if err := Pull(ctx, newMemStore(), "s/state.db", io.Discard); !errors.Is(err, ErrNoRemoteState) {
		t.Errorf("pull of nothing: %v", err)
	}
}

// A checkpoint while the store's connection writes uploads a consistent
// state (VACUUM INTO on its own read connection).
func TestRemoteCheckpointDuringWrites(t *testing.T) {
	ctx := t.Context()
	m := newMemStore()
	r := mustOpenRemote(t, m, remoteOpts(t, "apply"))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tx, err := r.Store().db.BeginTx(ctx, nil)
			if err != nil {
				t.Error(err)
				return
			}
			// Two rows per transaction: a snapshot holds both or neither.
			tx.ExecContext(ctx, `INSERT INTO pending(sync, key) VALUES ('a', ?), ('b', ?)`, fmt.Sprint(i), fmt.Sprint(i))
			tx.Commit()
		}
	}()
	for range 5 {
		time.Sleep(20 * time.Millisecond)
		if _, err := r.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		Pull(ctx, m, "s/state.db", &buf)
		p := filepath.Join(t.TempDir(), "snap.db")
		os.WriteFile(p, buf.Bytes(), 0o600)
		st, err := Open(ctx, p, false)
		if err != nil {
			t.Fatal(err)
		}
		var a, b int
		st.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM pending WHERE sync='a'), (SELECT count(*) FROM pending WHERE sync='b')`).Scan(&a, &b)
		st.Close()
		if a != b {
			t.Fatalf("snapshot holds %d and %d rows", a, b)
		}
	}
	close(stop)
	wg.Wait()
}

// The holder's renewals keep its lock from going stale.
func TestRemoteRenewal(t *testing.T) {
	m := newMemStore()
	o := remoteOpts(t, "apply")
	o.renewEvery = 10 * time.Millisecond
	mustOpenRemote(t, m, o)
	m.advance(2 * time.Minute)
	before := m.puts.Load()
	for m.puts.Load() < before+2 {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := OpenRemote(t.Context(), m, remoteOpts(t, "apply")); !errors.As(err, new(*LockedError)) {
		t.Fatalf("open of a renewed lock: %v, want LockedError", err)
	}
}

// A checkpoint uploads only a state whose content changed since it was
// downloaded or last uploaded (runs' history aside), and still renews the
// lock; a new state is uploaded even when empty.
func TestRemoteCheckpointSkipsUnchanged(t *testing.T) {
	ctx := t.Context()
	m := newMemStore()
	r := mustOpenRemote(t, m, remoteOpts(t, "apply"))
	statePuts := func() int64 { return m.statePuts.Load() }
	if up, err := r.Checkpoint(ctx); err != nil || !up || statePuts() != 1 {
		t.Fatalf("first checkpoint of a new state: uploaded %v, %v, %d state PUTs", up, err, statePuts())
	}
	lockPuts := m.puts.Load() - statePuts()
	if up, err := r.Checkpoint(ctx); err != nil || up || statePuts() != 1 {
		t.Fatalf("checkpoint without changes: uploaded %v, %v, %d state PUTs", up, err, statePuts())
	}
	if m.puts.Load()-statePuts() != lockPuts+1 {
		t.Error("a checkpoint without changes did not renew the lock")
	}
	r.Store().BumpSerial(ctx)
	if up, err := r.Checkpoint(ctx); err != nil || !up || statePuts() != 2 {
		t.Fatalf("checkpoint after a change: uploaded %v, %v, %d state PUTs", up, err, statePuts())
	}
	r.Close(ctx)

	// A later run that only records its run's history uploads nothing;
	// one that changes an object row uploads.
	r = mustOpenRemote(t, m, remoteOpts(t, "apply"))
	id, err := r.Store().StartRun(ctx, "apply", "test")
	if err != nil {
		t.Fatal(err)
	}
	r.Store().FinishRun(ctx, Run{ID: id, Status: "complete"})
	if up, err := r.Checkpoint(ctx); err != nil || up || statePuts() != 2 {
		t.Fatalf("checkpoint of a run that changed nothing: uploaded %v, %v, %d state PUTs", up, err, statePuts())
	}
	if _, err := r.Store().db.ExecContext(ctx, `INSERT INTO objects VALUES ('s', 'k', 1, 2, 'e', '', 1, 2, 'e', '', 3, '', '')`); err != nil {
		t.Fatal(err)
	}
	if up, err := r.Checkpoint(ctx); err != nil || !up || statePuts() != 3 {
		t.Fatalf("checkpoint after an object row changed: uploaded %v, %v, %d state PUTs", up, err, statePuts())
	}
	if _, err := r.Store().db.ExecContext(ctx, `UPDATE objects SET dst_etag = 'f'`); err != nil {
		t.Fatal(err)
	}
	if up, err := r.Checkpoint(ctx); err != nil || !up || statePuts() != 4 {
		t.Fatalf("checkpoint after an object row was updated: uploaded %v, %v, %d state PUTs", up, err, statePuts())
	}
}

// Push sends a consistent snapshot of a state in WAL mode, with the
// commits still in its -wal file, and leaves the file as it was.
func TestPushReadsWAL(t *testing.T) {
	ctx := t.Context()
	m := newMemStore()
	path := filepath.Join(t.TempDir(), "local.db")
	st, err := Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Keep every later commit in the -wal file: no checkpoint into the
	// database file while the store stays open.
	if _, err := st.db.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	want, _ := st.BumpSerial(ctx)
	for i := range 50 {
		if _, err := st.db.ExecContext(ctx, `INSERT INTO objects VALUES ('s', ?, 1, 2, 'e', '', 1, 2, 'e', '', 3, '', '')`, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("precondition: the commits are not in %s-wal (%v)", path, err)
	}
	// A plain copy of the database file lacks them.
	plain := filepath.Join(t.TempDir(), "plain.db")
	data, _ := os.ReadFile(path)
	os.WriteFile(plain, data, 0o600)
	if n, _ := objectRows(t, plain); n == 50 {
		t.Fatal("precondition: the database file alone already holds the rows")
	}
	before, _ := os.ReadFile(path)

	if _, err := Push(ctx, m, path, PushOptions{RemoteOptions: remoteOpts(t, "push")}); err != nil {
		t.Fatalf("push: %v", err)
	}
	var buf bytes.Buffer
	if err := Pull(ctx, m, "s/state.db", &buf); err != nil {
		t.Fatal(err)
	}
	pulled := filepath.Join(t.TempDir(), "pulled.db")
	os.WriteFile(pulled, buf.Bytes(), 0o600)
	if n, v := objectRows(t, pulled); n != 50 || v != want {
		t.Errorf("pushed state holds %d object rows, version %+v; want 50, %+v", n, v, want)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("push changed the pushed database file")
	}
	// Not a state: refused, nothing pushed.
	for name, content := range map[string]string{"empty": "", "text": "not a database"} {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, []byte(content), 0o600)
		before := m.statePuts.Load()
		if _, err := Push(ctx, m, p, PushOptions{RemoteOptions: remoteOpts(t, "push"), Force: true}); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("push of a %s file: %v, want an error naming it", name, err)
		}
		if m.statePuts.Load() != before {
			t.Errorf("push of a %s file wrote the state", name)
		}
	}
}

func objectRows(t *testing.T, path string) (int, Version) {
	t.Helper()
	st, err := Open(t.Context(), path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int
	st.db.QueryRowContext(t.Context(), `SELECT count(*) FROM objects`).Scan(&n)
	v, _ := st.Version(t.Context())
	return n, v
}

// Working copies go when their run ends, and those of a process that died
// are removed by the next run using the cache folder.
func TestRemoteWorkCopiesCleanedUp(t *testing.T) {
	ctx := t.Context()
	m := newMemStore()
	o := remoteOpts(t, "apply")
	dir := o.CacheDir
	list := func() []string {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	r := mustOpenRemote(t, m, o)
	r.Store().BumpSerial(ctx)
	r.Checkpoint(ctx)
	if len(list()) == 0 {
		t.Fatal("no working copy while the run goes on")
	}
	r.Close(ctx)
	if left := list(); len(left) != 0 {
		t.Fatalf("working copies left after Close: %v", left)
	}
	st, done, err := ReadRemote(ctx, m, o.Key, dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Version(ctx)
	done()
	if left := list(); len(left) != 0 {
		t.Fatalf("copies left after a read: %v", left)
	}

	// A dead process's copy: its owner file is not locked. One of a
	// syncer before owner files: old enough. One in use: kept.
	dead := filepath.Join(dir, "s_state.db.work-99999-0123456789ab")
	for _, p := range []string{dead, dead + "-wal", dead + ".plan-123.tmp", dead + ownerSuffix} {
		os.WriteFile(p, []byte("x"), 0o600)
	}
	legacy := filepath.Join(dir, "s_state.db.snap-99998-ba9876543210")
	os.WriteFile(legacy, []byte("x"), 0o600)
	old := time.Now().Add(-2 * orphanAge)
	os.Chtimes(legacy, old, old)
	recent := filepath.Join(dir, "s_state.db.read-99997-aaaaaaaaaaaa")
	os.WriteFile(recent, []byte("x"), 0o600)
	other := filepath.Join(dir, "notes.txt")
	os.WriteFile(other, []byte("x"), 0o600)
	live, err := newWork(dir, o.Key, "read")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(live.path, []byte("x"), 0o600)
	os.WriteFile(live.path+".plan-1.tmp", []byte("x"), 0o600)

	r = mustOpenRemote(t, m, o)
	for _, p := range []string{dead, dead + "-wal", dead + ".plan-123.tmp", dead + ownerSuffix, legacy} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not swept: %v", filepath.Base(p), err)
		}
	}
	for _, p := range []string{recent, other, live.path, live.path + ".plan-1.tmp", live.path + ownerSuffix} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s swept: %v", filepath.Base(p), err)
		}
	}
	r.Close(ctx)
	live.remove()
	os.Remove(recent)
	os.Remove(other)
	if left := list(); len(left) != 0 {
		t.Fatalf("left: %v", left)
	}
}

// When the last checkpoint fails (the store is unreachable, say), Close
// keeps a copy of the working copy for state push, and says where; a run
// whose lock was lost keeps none.
func TestRemoteKeepsUnsaved(t *testing.T) {
	ctx := t.Context()
	m := newMemStore()
	o := remoteOpts(t, "apply")
	var log logBuf
	o.Log = slog.New(slog.NewTextHandler(&log, nil))
	r := mustOpenRemote(t, m, o)
	if _, err := r.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	want, _ := r.Store().BumpSerial(ctx)
	m.failPuts.Store(true)
	if _, err := r.Checkpoint(ctx); err == nil {
		t.Fatal("checkpoint succeeded through a failing store")
	}
	r.Close(ctx)
	kept, _ := filepath.Glob(filepath.Join(o.CacheDir, "s_state.db.unsaved-*.db"))
	if len(kept) != 1 {
		entries, _ := os.ReadDir(o.CacheDir)
		t.Fatalf("kept copies %v; the cache folder holds %v", kept, entries)
	}
	if !strings.Contains(log.String(), kept[0]) || !strings.Contains(log.String(), "syncer state push") {
		t.Errorf("the log does not say where the copy is:\n%s", log.String())
	}
	if _, v := objectRows(t, kept[0]); v != want {
		t.Errorf("kept copy is %+v; want %+v", v, want)
	}
	// Only it is left, and another run's sweep leaves it.
	r = mustOpenRemote(t, m, o)
	r.Close(ctx)
	entries, _ := os.ReadDir(o.CacheDir)
	if len(entries) != 1 {
		t.Errorf("the cache folder holds %v; want only the kept copy", entries)
	}
	m.failPuts.Store(false)
	if _, err := Push(ctx, m, kept[0], PushOptions{RemoteOptions: remoteOpts(t, "push")}); err != nil {
		t.Fatalf("push of the kept copy: %v", err)
	}

	// A lost lock: nothing kept.
	m2 := newMemStore()
	o2 := remoteOpts(t, "apply")
	r2 := mustOpenRemote(t, m2, o2)
	ForceUnlock(ctx, m2, o2.Key, r2.LockID())
	r2.Store().BumpSerial(ctx)
	if _, err := r2.Checkpoint(ctx); !errors.As(err, new(*LockLostError)) {
		t.Fatalf("checkpoint after force-unlock: %v", err)
	}
	r2.Close(ctx)
	if entries, _ := os.ReadDir(o2.CacheDir); len(entries) != 0 {
		t.Errorf("a run that lost its lock left %v", entries)
	}
}

// Runs sharing a cache folder never sweep each other's live copies.
func TestWorkCopiesConcurrentSweeps(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				w, err := newWork(dir, "k", "work")
				if err != nil {
					t.Error(err)
					return
				}
				if err := os.WriteFile(w.path, []byte("x"), 0o600); err != nil {
					t.Error(err)
					return
				}
				sweepWork(dir)
				if _, err := os.Stat(w.path); err != nil {
					t.Errorf("goroutine %d, round %d: a live copy was swept: %v", g, i, err)
				}
				w.remove()
			}
		}()
	}
	wg.Wait()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left: %v", entries)
	}
}
