package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// LockInfo says who holds the state lock.
type LockInfo struct {
	Operation string
	Host      string
	PID       int
	Started   time.Time
	Version   string
	Pod       string // remote locks: the Kubernetes pod, if any
	ID        string // remote locks: what force-unlock takes
}

func (l LockInfo) String() string {
	host := "host " + l.Host
	if l.Pod != "" && l.Pod != l.Host {
		host += " (pod " + l.Pod + ")"
	}
	s := fmt.Sprintf("%s by pid %d on %s since %s (syncer %s)",
		l.Operation, l.PID, host, l.Started.Format(time.RFC3339), l.Version)
	if l.ID != "" {
		s += ", lock ID " + l.ID
	}
	return s
}

// LockedError is returned when another process holds the lock.
type LockedError struct {
	Path   string
	Holder *LockInfo // nil when the holder has not written its row yet
}

func (e *LockedError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("state %s is locked by another syncer process", e.Path)
	}
	return fmt.Sprintf("state %s is locked: %s", e.Path, e.Holder)
}

// Lock takes the state's exclusive lock for operation ("plan", "apply"),
// waiting up to timeout (0: fail at once). The lock is an flock on
// "<state>.lock", so a holder killed with -9 releases it; the row in the lock
// table only names the holder. The returned func releases the lock.
func (s *Store) Lock(ctx context.Context, operation, version string, timeout time.Duration) (func(), error) {
	f, err := os.OpenFile(s.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state %s: %w", s.path, err)
	}
	deadline := time.Now().Add(timeout)
	wait := 100 * time.Millisecond
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock state %s: %w", s.path, err)
		}
		if time.Now().Add(wait).After(deadline) {
			f.Close()
			holder, _ := s.LockHolder(ctx)
			return nil, &LockedError{Path: s.path, Holder: holder}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 2*time.Second)
	}
	host, _ := os.Hostname()
	_, err = s.db.ExecContext(ctx, `INSERT OR REPLACE INTO lock(id, operation, host, pid, started_at, version) VALUES (1, ?, ?, ?, ?, ?)`,
		operation, host, os.Getpid(), time.Now().UnixNano(), version)
	if err != nil {
		f.Close()
		return nil, s.wrap("write lock", err)
	}
	return func() {
		s.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM lock WHERE id = 1`)
		f.Close() // releases the flock
	}, nil
}

// Held reports whether a live process holds the state's lock (the lock
// row outlives a holder killed with -9; the flock does not).
func (s *Store) Held() (bool, error) {
	f, err := os.Open(s.path + ".lock")
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock state %s: %w", s.path, err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock state %s: %w", s.path, err)
	}
	return false, nil // closing f drops the shared lock
}

// LockHolder returns the recorded holder, or nil if none is recorded.
func (s *Store) LockHolder(ctx context.Context) (*LockInfo, error) {
	var l LockInfo
	var started int64
	err := s.db.QueryRowContext(ctx, `SELECT operation, host, pid, started_at, version FROM lock WHERE id = 1`).
		Scan(&l.Operation, &l.Host, &l.PID, &started, &l.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap("read lock", err)
	}
	l.Started = time.Unix(0, started)
	return &l, nil
}
