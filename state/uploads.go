package state

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"syncer/backends"
)

// Upload is a multipart upload that an apply started and has not finished.
type Upload struct {
	Sync, Key string
	ID        string
	PartSize  int64
	Started   time.Time
	Src       Fingerprint // the source version being uploaded (size, mtime, etag)
}

// Journal returns the backends.UploadJournal of one sync, kept in the state;
// uploads it starts are tagged with src, the source version they copy. Each
// call commits at once: a part recorded is a part a resumed run skips.
func (s *Store) Journal(sync string, src Fingerprint) backends.UploadJournal {
	return &journal{s: s, sync: sync, src: src}
}

type journal struct {
	s    *Store
	sync string
	src  Fingerprint
}

func (j *journal) Load(ctx context.Context, key string) (string, int64, []backends.Part, error) {
	var id string
	var partSize int64
	err := j.s.db.QueryRowContext(ctx, `SELECT upload_id, part_size FROM uploads WHERE sync = ? AND key = ?`, j.sync, key).
		Scan(&id, &partSize)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, nil, nil
	}
	if err != nil {
		return "", 0, nil, j.s.wrap("read upload", err)
	}
	rows, err := j.s.db.QueryContext(ctx, `SELECT number, size, etag, checksum FROM upload_parts
		WHERE sync = ? AND key = ? ORDER BY number`, j.sync, key)
	if err != nil {
		return "", 0, nil, j.s.wrap("read upload parts", err)
	}
	defer rows.Close()
	var parts []backends.Part // at most 10,000 for one object
	for rows.Next() {
		var p backends.Part
		if err := rows.Scan(&p.Number, &p.Size, &p.ETag, &p.Checksum); err != nil {
			return "", 0, nil, j.s.wrap("read upload parts", err)
		}
		parts = append(parts, p)
	}
	return id, partSize, parts, j.s.wrap("read upload parts", rows.Err())
}

func (j *journal) Started(ctx context.Context, key, id string, partSize int64) error {
	tx, err := j.s.db.BeginTx(ctx, nil)
	if err != nil {
		return j.s.wrap("record upload", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM upload_parts WHERE sync = ? AND key = ?`, j.sync, key); err != nil {
		return j.s.wrap("record upload", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO uploads
		(sync, key, upload_id, part_size, started_at, src_size, src_mtime, src_etag)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, j.sync, key, id, partSize, time.Now().UnixNano(),
		j.src.Size, j.src.MTime, j.src.ETag); err != nil {
		return j.s.wrap("record upload", err)
	}
	return j.s.wrap("record upload", tx.Commit())
}

func (j *journal) PartDone(ctx context.Context, key string, p backends.Part) error {
	_, err := j.s.db.ExecContext(ctx, `INSERT OR REPLACE INTO upload_parts (sync, key, number, size, etag, checksum)
		VALUES (?, ?, ?, ?, ?, ?)`, j.sync, key, p.Number, p.Size, p.ETag, p.Checksum)
	return j.s.wrap("record upload part", err)
}

func (j *journal) Finished(ctx context.Context, key string) error {
	tx, err := j.s.db.BeginTx(ctx, nil)
	if err != nil {
		return j.s.wrap("finish upload", err)
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM upload_parts WHERE sync = ? AND key = ?`, `DELETE FROM uploads WHERE sync = ? AND key = ?`} {
		if _, err := tx.ExecContext(ctx, q, j.sync, key); err != nil {
			return j.s.wrap("finish upload", err)
		}
	}
	return j.s.wrap("finish upload", tx.Commit())
}

const uploadCols = `sync, key, upload_id, part_size, started_at, src_size, src_mtime, src_etag`

func scanUpload(sc interface{ Scan(...any) error }) (Upload, error) {
	var u Upload
	var started int64
	err := sc.Scan(&u.Sync, &u.Key, &u.ID, &u.PartSize, &started, &u.Src.Size, &u.Src.MTime, &u.Src.ETag)
	u.Started = time.Unix(0, started)
	return u, err
}

// Uploads returns the unfinished uploads of sync ("" for all). There are few:
// at most one per object that was in flight when a run stopped.
func (s *Store) Uploads(ctx context.Context, sync string) ([]Upload, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+uploadCols+` FROM uploads
		WHERE ? = '' OR sync = ? ORDER BY sync, key`, sync, sync)
	if err != nil {
		return nil, s.wrap("list uploads", err)
	}
	defer rows.Close()
	var out []Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, s.wrap("list uploads", err)
		}
		out = append(out, u)
	}
	return out, s.wrap("list uploads", rows.Err())
}

// UploadOf returns the unfinished upload of (sync, key), if any.
func (s *Store) UploadOf(ctx context.Context, sync, key string) (Upload, bool, error) {
	u, err := scanUpload(s.db.QueryRowContext(ctx, `SELECT `+uploadCols+` FROM uploads WHERE sync = ? AND key = ?`, sync, key))
	if errors.Is(err, sql.ErrNoRows) {
		return Upload{}, false, nil
	}
	if err != nil {
		return Upload{}, false, s.wrap("read upload", err)
	}
	return u, true, nil
}
