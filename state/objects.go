package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Fingerprint identifies one version of an object on one side.
type Fingerprint struct {
	Size  int64
	MTime int64 // Unix nanoseconds; 0 when unknown
	ETag  string
	MD5   string // lowercase hex; "" when unknown
	ID    string // the store's id of the object (backends.Object.ID); "" when none
}

// Record is what the state keeps for one (sync, key) that syncer wrote.
type Record struct {
	Sync, Key string
	Src, Dst  Fingerprint
	Written   time.Time
}

// Change is one update to the objects table: a record to upsert, or, with
// Forget set, the (Sync, Key) to remove. Either way the key stops being
// pending.
type Change struct {
	Record
	Forget bool
}

// Apply writes changes in one transaction: all of them or none.
func (s *Store) Apply(ctx context.Context, changes []Change) error {
	if len(changes) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("record objects", err)
	}
	defer tx.Rollback()
	up, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO objects
		(sync, key, src_size, src_mtime, src_etag, src_md5, dst_size, dst_mtime, dst_etag, dst_md5, written_at, src_id, dst_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return s.wrap("record objects", err)
	}
	defer up.Close()
	del, err := tx.PrepareContext(ctx, `DELETE FROM objects WHERE sync = ? AND key = ?`)
	if err != nil {
		return s.wrap("record objects", err)
	}
	defer del.Close()
	unpend, err := tx.PrepareContext(ctx, `DELETE FROM pending WHERE sync = ? AND key = ?`)
	if err != nil {
		return s.wrap("record objects", err)
	}
	defer unpend.Close()
	for _, c := range changes {
		r := c.Record
		if c.Forget {
			_, err = del.ExecContext(ctx, r.Sync, r.Key)
		} else {
			_, err = up.ExecContext(ctx, r.Sync, r.Key,
				r.Src.Size, r.Src.MTime, r.Src.ETag, r.Src.MD5,
				r.Dst.Size, r.Dst.MTime, r.Dst.ETag, r.Dst.MD5, r.Written.UnixNano(), r.Src.ID, r.Dst.ID)
		}
		if err == nil {
			_, err = unpend.ExecContext(ctx, r.Sync, r.Key)
		}
		if err != nil {
			return s.wrap(fmt.Sprintf("record %s/%s", r.Sync, r.Key), err)
		}
	}
	return s.wrap("commit records", tx.Commit())
}

// MarkPending records, in one transaction, that copies of these keys of
// sync are about to start.
func (s *Store) MarkPending(ctx context.Context, sync string, keys []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("mark pending", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO pending (sync, key) VALUES (?, ?)`)
	if err != nil {
		return s.wrap("mark pending", err)
	}
	defer st.Close()
	// One short statement per key: a cancellable context would cost the
	// driver a goroutine per statement; the transaction still watches ctx.
	quick := context.WithoutCancel(ctx)
	for _, k := range keys {
		if _, err := st.ExecContext(quick, sync, k); err != nil {
			return s.wrap("mark pending", err)
		}
	}
	return s.wrap("mark pending", tx.Commit())
}

// ClearPending forgets the pending keys; a new apply calls it once its plan
// has taken them into account. Keys whose create announced the new
// object's id (PendingID) stay until recorded: the next copy of the key
// finds that object by id (DstID).
func (s *Store) ClearPending(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM pending WHERE id = ''`)
	return s.wrap("clear pending", err)
}

// Get returns the record for (sync, key), and false if there is none.
func (s *Store) Get(ctx context.Context, sync, key string) (Record, bool, error) {
	var r Record
	var written int64
	err := s.db.QueryRowContext(ctx, `SELECT sync, key, src_size, src_mtime, src_etag, src_md5,
		dst_size, dst_mtime, dst_etag, dst_md5, written_at, src_id, dst_id FROM objects WHERE sync = ? AND key = ?`, sync, key).
		Scan(&r.Sync, &r.Key, &r.Src.Size, &r.Src.MTime, &r.Src.ETag, &r.Src.MD5,
			&r.Dst.Size, &r.Dst.MTime, &r.Dst.ETag, &r.Dst.MD5, &written, &r.Src.ID, &r.Dst.ID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return r, false, nil
		}
		return r, false, s.wrap("read record", err)
	}
	r.Written = time.Unix(0, written)
	return r, true, nil
}

// DstID returns the destination id recorded for (sync, key) and the one
// a create of the key announced (PendingID); "" when none.
func (s *Store) DstID(ctx context.Context, sync, key string) (recorded, announced string, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT
		coalesce((SELECT dst_id FROM objects WHERE sync = ?1 AND key = ?2), ''),
		coalesce((SELECT id FROM pending WHERE sync = ?1 AND key = ?2), '')`, sync, key).Scan(&recorded, &announced)
	return recorded, announced, s.wrap("read record", err)
}

// PendingID records id as the one a create of the pending key (sync,
// key) gave its new object, before the create is sent.
func (s *Store) PendingID(ctx context.Context, sync, key, id string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE pending SET id = ? WHERE sync = ? AND key = ?`, id, sync, key)
	return s.wrap("mark pending", err)
}

// Each calls fn for every record of sync ("" for all syncs) in (sync, key)
// order, streaming. The store has one connection and the query holds it, so
// fn must not call the Store.
func (s *Store) Each(ctx context.Context, sync string, fn func(Record) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT sync, key, src_size, src_mtime, src_etag, src_md5,
		dst_size, dst_mtime, dst_etag, dst_md5, written_at, src_id, dst_id FROM objects
		WHERE ? = '' OR sync = ? ORDER BY sync, key`, sync, sync)
	if err != nil {
		return s.wrap("list records", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Record
		var written int64
		if err := rows.Scan(&r.Sync, &r.Key, &r.Src.Size, &r.Src.MTime, &r.Src.ETag, &r.Src.MD5,
			&r.Dst.Size, &r.Dst.MTime, &r.Dst.ETag, &r.Dst.MD5, &written, &r.Src.ID, &r.Dst.ID); err != nil {
			return s.wrap("list records", err)
		}
		r.Written = time.Unix(0, written)
		if err := fn(r); err != nil {
			return err
		}
	}
	return s.wrap("list records", rows.Err())
}

// SyncSummary counts what the state records for one sync.
type SyncSummary struct {
	Sync    string
	Objects int64
	Bytes   int64
	Last    time.Time
}

// Summary returns per-sync totals, ordered by sync name.
func (s *Store) Summary(ctx context.Context) ([]SyncSummary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sync, count(*), coalesce(sum(dst_size), 0), max(written_at)
		FROM objects GROUP BY sync ORDER BY sync`)
	if err != nil {
		return nil, s.wrap("summarize", err)
	}
	defer rows.Close()
	var out []SyncSummary
	for rows.Next() {
		var ss SyncSummary
		var last int64
		if err := rows.Scan(&ss.Sync, &ss.Objects, &ss.Bytes, &last); err != nil {
			return nil, s.wrap("summarize", err)
		}
		ss.Last = time.Unix(0, last)
		out = append(out, ss)
	}
	return out, s.wrap("summarize", rows.Err())
}
