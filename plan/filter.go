package plan

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"syncer/config"
)

// Filters beyond prefix, include and exclude (min/max size and age,
// files_from) run in SQL once both sides are listed:
//
//   - source rows they leave out move from src to excl (keys only);
//   - destination rows they leave out, and those whose key excl holds,
//     leave the sync's scope (dst.inscope), so no delete touches them;
//   - with delete_excluded, every destination row under the prefix is in
//     scope instead: what the filters left out of src is then "not in the
//     source" and a deleting policy deletes it.
//
// The files_from list is streamed into the table ff, never held in memory.
// The number of source objects left out by any filter is kept in the plan's
// meta table as "excluded.SYNC".

// filterCond is the SQL condition that an object of the given columns
// passes the sync's size, age and files_from filters ("1" when none).
func (d *differ) filterCond(size, mtime, key string) string {
	f := d.s.Filters
	var c []string
	if f.MinSize > 0 {
		c = append(c, fmt.Sprintf("(%s < 0 OR %s >= @f_min_size)", size, size))
	}
	if f.MaxSize >= 0 {
		c = append(c, fmt.Sprintf("(%s < 0 OR %s <= @f_max_size)", size, size))
	}
	if f.MinAge > 0 {
		c = append(c, fmt.Sprintf("(%s = 0 OR %s <= @f_oldest)", mtime, mtime))
	}
	if f.MaxAge > 0 {
		c = append(c, fmt.Sprintf("(%s = 0 OR %s >= @f_newest)", mtime, mtime))
	}
	if f.FilesFrom != "" {
		c = append(c, fmt.Sprintf("EXISTS (SELECT 1 FROM ff WHERE ff.key = %s)", key))
	}
	if len(c) == 0 {
		return "1"
	}
	return strings.Join(c, " AND ")
}

// filterArgs are the named arguments of filterCond's SQL.
func (d *differ) filterArgs() []any {
	f := d.s.Filters
	return []any{
		sql.Named("f_min_size", f.MinSize), sql.Named("f_max_size", f.MaxSize),
		sql.Named("f_oldest", d.now.Add(-f.MinAge).UnixNano()), sql.Named("f_newest", d.now.Add(-f.MaxAge).UnixNano()),
	}
}

// applyFilters runs the filters over the listings (see above).
func (d *differ) applyFilters(ctx context.Context) error {
	for _, q := range []string{
		`DROP TABLE IF EXISTS excl`, `DROP TABLE IF EXISTS ff`,
		`CREATE TABLE excl (key TEXT PRIMARY KEY) WITHOUT ROWID`,
		`CREATE TABLE ff (key TEXT PRIMARY KEY) WITHOUT ROWID`,
	} {
		if _, err := d.tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("filters: %w", err)
		}
	}
	if err := d.loadFilesFrom(ctx); err != nil {
		return err
	}
	excluded := d.excluded.Load()
	args := append(d.filterArgs(), sql.Named("prefix", d.s.Prefix))
	if d.s.Filters.Active() {
		cond := d.filterCond("src.size", "src.mtime", "src.key")
		if _, err := d.tx.ExecContext(ctx, `INSERT OR IGNORE INTO excl SELECT key FROM src WHERE NOT (`+cond+`)`, args...); err != nil {
			return fmt.Errorf("filters: %w", err)
		}
		res, err := d.tx.ExecContext(ctx, `DELETE FROM src WHERE NOT (`+cond+`)`, args...)
		if err != nil {
			return fmt.Errorf("filters: %w", err)
		}
		n, _ := res.RowsAffected()
		excluded += n
	}
	switch {
	case d.s.DeleteExcluded:
		if _, err := d.tx.ExecContext(ctx, `UPDATE dst SET inscope = 1 WHERE NOT inscope AND substr(key, 1, length(@prefix)) = @prefix`, args...); err != nil {
			return fmt.Errorf("filters: %w", err)
		}
	case d.s.Filters.Active():
		cond := d.filterCond("dst.size", "dst.mtime", "dst.key")
		q := `UPDATE dst SET inscope = 0 WHERE inscope AND (NOT (` + cond + `) OR EXISTS (SELECT 1 FROM excl e WHERE e.key = dst.key))`
		if _, err := d.tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("filters: %w", err)
		}
	}
	if _, err := d.tx.ExecContext(ctx, `INSERT OR REPLACE INTO main.meta (key, value) VALUES (?, ?)`,
		excludedMetaKey+d.s.Name, fmt.Sprint(excluded)); err != nil {
		return fmt.Errorf("filters: %w", err)
	}
	if excluded > 0 {
		d.log.Info("objects excluded by filters", "sync", d.s.Name, "count", excluded)
	}
	return nil
}

// excludedMetaKey prefixes, in the plan's meta table, a sync's count of
// source objects left out by filters.
const excludedMetaKey = "excluded."

// loadFilesFrom streams the sync's files_from list into ff. The list was
// validated with the config; a line broken since is an error here too.
func (d *differ) loadFilesFrom(ctx context.Context) error {
	path := d.s.FilesFrom
	if path == "" {
		return nil
	}
	// Keys go in multiRows per statement: one cgo call per key would cost
	// more than the keys themselves.
	many, err := d.tx.PrepareContext(ctx, `INSERT OR IGNORE INTO ff (key) VALUES `+strings.TrimSuffix(strings.Repeat("(?),", multiRows), ","))
	if err != nil {
		return fmt.Errorf("files_from: %w", err)
	}
	defer many.Close()
	one, err := d.tx.PrepareContext(ctx, `INSERT OR IGNORE INTO ff (key) VALUES (?)`)
	if err != nil {
		return fmt.Errorf("files_from: %w", err)
	}
	defer one.Close()
	batch := make([]any, 0, multiRows)
	var bad error
	_, err = config.FilesFromKeys(path, d.s.Prefix, func(key string) error {
		batch = append(batch, key)
		if len(batch) < multiRows {
			return nil
		}
		_, err := many.ExecContext(ctx, batch...)
		batch = batch[:0]
		return err
	}, func(line, _ int, msg string) {
		if bad == nil {
			bad = fmt.Errorf("files_from %s line %d: %s", path, line, msg)
		}
	})
	for _, k := range batch {
		if err != nil {
			break
		}
		_, err = one.ExecContext(ctx, k)
	}
	if err == nil {
		err = bad
	}
	if err != nil {
		return fmt.Errorf("files_from: %w", err)
	}
	return nil
}

// recordScope is the SQL condition that a state record r is in the sync's
// scope for a delete planned without a destination listing: its key was not
// left out of the source listing and its recorded destination object
// passes the filters. With delete_excluded everything under the prefix is.
func (d *differ) recordScope() string {
	if d.s.DeleteExcluded || !d.s.Filters.Active() {
		return ""
	}
	return ` AND NOT EXISTS (SELECT 1 FROM excl e WHERE e.key = r.key) AND ` + d.filterCond("r.dst_size", "r.dst_mtime", "r.key")
}

// afterDiff marks the updates of an immutable sync (they fail at apply,
// with both versions' fingerprints as their reason) and drops the filter
// tables.
func (d *differ) afterDiff(ctx context.Context) error {
	if d.s.Immutable {
		fp := func(size, mtime, md5, etag string) string {
			return `printf('size %d, mtime %s, %s', ` + size + `, CASE WHEN ` + mtime + ` = 0 THEN 'unknown'
				ELSE strftime('%Y-%m-%dT%H:%M:%SZ', ` + mtime + ` / 1000000000, 'unixepoch') END,
				CASE WHEN ` + md5 + ` != '' THEN 'md5 ' || ` + md5 + ` WHEN ` + etag + ` != '' THEN 'etag ' || ` + etag + ` ELSE 'hash unknown' END)`
		}
		dst := `(SELECT ` + fp("r.dst_size", "r.dst_mtime", "r.dst_md5", "r.dst_etag") + ` FROM st_objects r WHERE r.sync = actions.sync AND r.key = actions.key)`
		if d.refresh {
			dst = `coalesce((SELECT ` + fp("x.size", "x.mtime", "x.md5", "x.etag") + ` FROM dst x WHERE x.key = actions.key), ` + dst + `)`
		}
		q := `UPDATE actions SET reason = '` + ImmutableReason + `: source ' || ` + fp("actions.size", "actions.src_mtime", "actions.src_md5", "actions.src_etag") +
			` || '; destination ' || coalesce(` + dst + `, 'unknown') WHERE sync = ? AND kind = 'update'`
		if _, err := d.tx.ExecContext(ctx, q, d.s.Name); err != nil {
			return fmt.Errorf("immutable: %w", err)
		}
	}
	for _, q := range []string{`DROP TABLE IF EXISTS excl`, `DROP TABLE IF EXISTS ff`} {
		if _, err := d.tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("filters: %w", err)
		}
	}
	return nil
}

// ImmutableReason begins the reason of an update in an immutable sync,
// which apply fails instead of running.
const ImmutableReason = "immutable, will fail: the destination holds another version"
