package state

import (
	"context"
	"strings"
	"time"
)

// Failure is one key that failed in the last apply.
type Failure struct {
	Run               int64
	Sync, Key, Action string
	Error             string
	At                time.Time
}

// maxErrorLen bounds a recorded error message, in bytes.
const maxErrorLen = 4096

// ClearFailures forgets the failures recorded so far: a new apply's
// replace the last one's.
func (s *Store) ClearFailures(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM failures`)
	return s.wrap("clear failures", err)
}

// AddFailures records failures in one transaction.
func (s *Store) AddFailures(ctx context.Context, fs []Failure) error {
	if len(fs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("record failures", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO failures(run_id, sync, key, action, error, at) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return s.wrap("record failures", err)
	}
	defer stmt.Close()
	for _, f := range fs {
		msg := f.Error
		if len(msg) > maxErrorLen {
			msg = strings.ToValidUTF8(msg[:maxErrorLen], "") + "..."
		}
		if _, err := stmt.ExecContext(ctx, f.Run, f.Sync, f.Key, f.Action, msg, f.At.UnixNano()); err != nil {
			return s.wrap("record failures", err)
		}
	}
	return s.wrap("record failures", tx.Commit())
}

// EachFailure calls fn with each recorded failure, in the order they
// happened, streaming.
func (s *Store) EachFailure(ctx context.Context, fn func(Failure) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT run_id, sync, key, action, error, at FROM failures ORDER BY id`)
	if err != nil {
		return s.wrap("read failures", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f Failure
		var at int64
		if err := rows.Scan(&f.Run, &f.Sync, &f.Key, &f.Action, &f.Error, &at); err != nil {
			return s.wrap("read failures", err)
		}
		f.At = time.Unix(0, at)
		if err := fn(f); err != nil {
			return err
		}
	}
	return s.wrap("read failures", rows.Err())
}
