package state

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"time"
)

// Run counts what one apply did.
type Run struct {
	ID                      int64
	Operation               string
	Started, Finished       time.Time
	Status                  string // running, complete, partial, interrupted, failed
	Copied, Deleted, Failed int64
	Bytes                   int64
}

// StartRun records the start of an operation and returns its id.
func (s *Store) StartRun(ctx context.Context, operation, version string) (int64, error) {
	host, _ := os.Hostname()
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs(operation, started_at, status, host, pid, version)
		VALUES (?, ?, 'running', ?, ?, ?)`, operation, time.Now().UnixNano(), host, os.Getpid(), version)
	if err != nil {
		return 0, s.wrap("start run", err)
	}
	return res.LastInsertId()
}

// FinishRun records a run's outcome.
func (s *Store) FinishRun(ctx context.Context, r Run) error {
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET finished_at = ?, status = ?, copied = ?, deleted = ?, failed = ?, bytes = ?
		WHERE id = ?`, time.Now().UnixNano(), r.Status, r.Copied, r.Deleted, r.Failed, r.Bytes, r.ID)
	return s.wrap("finish run", err)
}

// LastRun returns the newest run, or nil when there is none.
func (s *Store) LastRun(ctx context.Context) (*Run, error) {
	var r Run
	var started int64
	var finished *int64
	err := s.db.QueryRowContext(ctx, `SELECT id, operation, started_at, finished_at, status, copied, deleted, failed, bytes
		FROM runs ORDER BY id DESC LIMIT 1`).Scan(&r.ID, &r.Operation, &started, &finished, &r.Status,
		&r.Copied, &r.Deleted, &r.Failed, &r.Bytes)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, s.wrap("read last run", err)
	}
	r.Started = time.Unix(0, started)
	if finished != nil {
		r.Finished = time.Unix(0, *finished)
	}
	return &r, nil
}
