package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"syncer/backends"
)

// IDJournal is the journal of the ids of the folders syncer made in the
// store whose root place names (backends.JournalUser.JournalPlace).
func (s *Store) IDJournal(place string) backends.IDJournal { return idJournal{s, place} }

type idJournal struct {
	s     *Store
	place string
}

// Get returns the id recorded for key, or "".
func (j idJournal) Get(ctx context.Context, key string) (string, error) {
	var id string
	err := j.s.db.QueryRowContext(ctx, `SELECT id FROM backend_ids WHERE place = ? AND key = ?`, j.place, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, j.s.wrap(fmt.Sprintf("read the id of %s %q", j.place, key), err)
}

// Put records id for key; "" forgets it.
func (j idJournal) Put(ctx context.Context, key, id string) error {
	q, args := `INSERT OR REPLACE INTO backend_ids (place, key, id) VALUES (?, ?, ?)`, []any{j.place, key, id}
	if id == "" {
		q, args = `DELETE FROM backend_ids WHERE place = ? AND key = ?`, args[:2]
	}
	_, err := j.s.db.ExecContext(ctx, q, args...)
	return j.s.wrap(fmt.Sprintf("record the id of %s %q", j.place, key), err)
}
