package plan

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"syncer/backends"
	"syncer/config"
	"syncer/shard"
)

// differ plans one sync: src and dst are listing tables in the plan
// database; st_objects and st_pending are the state's views (see
// state.Store.AttachTo) on conn.
type differ struct {
	conn      *sql.Conn
	s         *config.Sync
	from, to  backends.Backend
	refresh   bool
	log       *slog.Logger
	tx        *sql.Tx
	refused   atomic.Int64 // source keys the destination cannot hold
	shard     shard.Shard  // keys of other shards are not listed
	excluded  atomic.Int64 // source keys left out by prefix, include, exclude
	now       time.Time    // the run's start, for age filters
	listed    func(sync, side string, n int64)
	sortedOK  bool  // the listings may be merged against the state (a plan; check reads every row)
	merged    bool  // they were: src and dst lack the unchanged keys, gone is filled
	unchanged int64 // keys merge left out as unchanged
}

// listTables lists both sides (the destination only with refresh) into
// the tables src and dst of d.tx, indexed by key.
func (d *differ) listTables(ctx context.Context) error {
	for _, q := range []string{
		// crc holds the pairs lacking an md5 whose sides both reported a
		// full-object checksum, and whether they are equal (fillCRCs).
		`DROP TABLE IF EXISTS crc`,
		`CREATE TABLE crc (key TEXT PRIMARY KEY, equal INTEGER NOT NULL) WITHOUT ROWID`,
		// gone holds the keys of the sync's state records under the prefix
		// that neither side lists (filled by merge, or in diff).
		`DROP TABLE IF EXISTS gone`,
		`CREATE TABLE gone (key TEXT PRIMARY KEY) WITHOUT ROWID`,
	} {
		if _, err := d.tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("plan tables: %w", err)
		}
	}
	if err := d.listBoth(ctx); err != nil {
		return err
	}
	if d.merged {
		return nil // keyed as they were filled
	}
	// Rows arrive in listing order; indexing afterwards is one sort, far
	// cheaper than keeping a b-tree ordered through every insert.
	for _, t := range []string{"src", "dst"} {
		if _, err := d.tx.ExecContext(ctx, `CREATE UNIQUE INDEX `+t+`_key ON `+t+` (key)`); err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return fmt.Errorf("the %s listing returned a key twice: %w", map[string]string{"src": "source", "dst": "destination"}[t], err)
			}
			return fmt.Errorf("index listing: %w", err)
		}
	}
	return nil
}

// createListings (re)creates the empty tables src and dst. keyed tables are
// stored in key order (WITHOUT ROWID) for rows that arrive in key order
// (merge): appended there, they need no index built after the listing
// (half a second for a million). Otherwise the rows are stored as they
// come and indexed after.
func (d *differ) createListings(ctx context.Context, keyed bool) error {
	key, without := `key TEXT NOT NULL`, ``
	if keyed {
		key, without = `key TEXT PRIMARY KEY`, ` WITHOUT ROWID`
	}
	for _, q := range []string{
		`DROP TABLE IF EXISTS src`, `DROP TABLE IF EXISTS dst`,
		// refused says why the destination can never hold the key ("" when
		// it can): such a key is skipped, yet present for the deletes.
		// archived is the storage class of an object that must be
		// restored before it is read ("" when readable), restoring 1
		// while a restore runs (backends.Object.Archived, Restoring).
		`CREATE TABLE src (` + key + `, size INTEGER NOT NULL, mtime INTEGER NOT NULL, etag TEXT NOT NULL, md5 TEXT NOT NULL, refused TEXT NOT NULL,
			archived TEXT NOT NULL, restoring INTEGER NOT NULL, id TEXT NOT NULL)` + without,
		// dst holds every key under the prefix; inscope marks those the
		// sync's filters select, so out-of-scope files are never deleted.
		`CREATE TABLE dst (` + key + `, size INTEGER NOT NULL, mtime INTEGER NOT NULL, etag TEXT NOT NULL, md5 TEXT NOT NULL, inscope INTEGER NOT NULL)` + without,
	} {
		if _, err := d.tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("plan tables: %w", err)
		}
	}
	return nil
}

func (d *differ) run(ctx context.Context) error {
	tx, err := d.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	d.tx = tx
	if err := d.listTables(ctx); err != nil {
		return err
	}
	if err := d.applyFilters(ctx); err != nil {
		return err
	}
	if d.s.Compare == config.CompareChecksum {
		if err := d.fillHashes(ctx); err != nil {
			return err
		}
	}
	if err := d.diff(ctx); err != nil {
		return err
	}
	if err := d.afterDiff(ctx); err != nil {
		return err
	}
	for _, q := range []string{`DROP TABLE src`, `DROP TABLE dst`, `DROP TABLE crc`, `DROP TABLE gone`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("plan tables: %w", err)
		}
	}
	return tx.Commit()
}

// fillHashes gives listing rows an md5 where the comparison needs one: from
// the state when size, mtime and version tag (ETag) are what apply recorded,
// so an unchanged tree is not re-read; else by reading the object through
// its backend. Objects without a version tag are always re-read. A write
// whose store reported no time (S3 sets its own) is known by its ETag.
func (d *differ) fillHashes(ctx context.Context) error {
	named := sql.Named("sync", d.s.Name)
	reuse := []string{
		`UPDATE src SET md5 = (SELECT r.src_md5 FROM st_objects r WHERE r.sync = @sync AND r.key = src.key)
		 WHERE md5 = '' AND EXISTS (SELECT 1 FROM st_objects r WHERE r.sync = @sync AND r.key = src.key
		   AND r.src_size = src.size AND r.src_mtime = src.mtime AND r.src_etag = src.etag AND src.etag != ''
		   AND r.src_md5 != '')`,
		`UPDATE dst SET md5 = (SELECT r.dst_md5 FROM st_objects r WHERE r.sync = @sync AND r.key = dst.key)
		 WHERE md5 = '' AND EXISTS (SELECT 1 FROM st_objects r WHERE r.sync = @sync AND r.key = dst.key
		   AND r.dst_size = dst.size AND r.dst_mtime IN (dst.mtime, 0) AND r.dst_etag = dst.etag AND dst.etag != ''
		   AND r.dst_md5 != '')`,
	}
	for _, q := range reuse {
		if _, err := d.tx.ExecContext(ctx, q, named); err != nil {
			return fmt.Errorf("reuse recorded hashes: %w", err)
		}
	}
	// Only pairs present on both sides need hashes to be compared.
	if !d.refresh {
		return nil
	}
	if err := d.fillCRCs(ctx); err != nil {
		return err
	}
	if err := d.hashTable(ctx, d.from, "src", "dst"); err != nil {
		return err
	}
	return d.hashTable(ctx, d.to, "dst", "src")
}

// hashTable fills in the md5 of table's rows that lack one and whose key
// the other side holds at the same size: by the backend's Hasher, else by
// reading the object (a GET of the whole object on S3: see the README on
// what a comparison costs). Archived source objects cannot be read.
func (d *differ) hashTable(ctx context.Context, b backends.Backend, table, other string) error {
	hash := func(ctx context.Context, key string) (string, error) { return readMD5(ctx, b, key) }
	if h, ok := b.(backends.Hasher); ok {
		hash = func(ctx context.Context, key string) (string, error) { return h.Hash(ctx, key, backends.MD5) }
	}
	readable := ""
	if table == "src" {
		readable = "AND t.archived = ''"
	}
	// A pair whose two versions (ETags: content-derived on S3, inode and
	// ctime locally) are the ones apply recorded is the copy syncer made:
	// it is not read.
	sel := fmt.Sprintf(`SELECT key FROM %s t WHERE t.md5 = '' AND t.size > 0 AND t.key > ? %s
		AND EXISTS (SELECT 1 FROM %s o WHERE o.key = t.key AND o.size = t.size)
		AND NOT EXISTS (SELECT 1 FROM crc c WHERE c.key = t.key)
		AND NOT EXISTS (`+unchangedPair+`) ORDER BY t.key LIMIT 256`, table, readable, other)
	upd := fmt.Sprintf(`UPDATE %s SET md5 = ? WHERE key = ?`, table)
	return d.keyPages(ctx, sel, func(page []string) error {
		for _, k := range page {
			sum, err := hash(ctx, k)
			if err != nil {
				if errors.Is(err, backends.ErrNotFound) || errors.Is(err, backends.ErrArchived) {
					continue // gone since the listing, or unreadable: compares as different
				}
				return fmt.Errorf("hash %s %q: %w", b, k, err)
			}
			if _, err := d.tx.ExecContext(ctx, upd, sum, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// keyPages runs sel (keys in order, at most a page of them, after the
// first argument: the last key seen; the second is the sync's name) page
// after page, handing each page's keys to fn, until a page comes back
// empty. A page is read whole before fn runs, so fn may write.
func (d *differ) keyPages(ctx context.Context, sel string, fn func(page []string) error) error {
	last := ""
	page := make([]string, 0, 256)
	for {
		page = page[:0]
		rows, err := d.tx.QueryContext(ctx, sel, last, d.s.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", d.s.Name, err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			page = append(page, k)
		}
		rows.Close()
		if len(page) == 0 {
			return rows.Err()
		}
		if err := fn(page); err != nil {
			return err
		}
		last = page[len(page)-1]
	}
}

// unchangedPair selects the state record of key t.key when both sides'
// versions are the ones apply recorded (one ? for the sync).
const unchangedPair = `SELECT 1 FROM st_objects r JOIN src s ON s.key = r.key JOIN dst d ON d.key = r.key
	WHERE r.sync = ? AND r.key = t.key AND s.etag != '' AND d.etag != ''
	AND r.src_etag = s.etag AND r.dst_etag = d.etag AND r.src_size = s.size AND r.dst_size = d.size`

// fillCRCs compares, where both backends can tell full-object checksums
// without reading (S3's CRC64NVME: one HeadObject a side), the same-size
// pairs that lack an md5 on a side and changed since apply recorded them:
// a pair decided here is not read by hashTable.
func (d *differ) fillCRCs(ctx context.Context) error {
	fs, ok1 := d.from.(backends.FullChecksummer)
	fd, ok2 := d.to.(backends.FullChecksummer)
	if !ok1 || !ok2 {
		return nil
	}
	sel := `SELECT t.key FROM src t JOIN dst o ON o.key = t.key WHERE t.size = o.size AND t.size > 0
		AND (t.md5 = '' OR o.md5 = '') AND t.key > ? AND NOT EXISTS (` + unchangedPair + `) ORDER BY t.key LIMIT 256`
	return d.keyPages(ctx, sel, func(page []string) error {
		for _, k := range page {
			a, err := fs.FullChecksum(ctx, k)
			if err != nil && !errors.Is(err, backends.ErrNotFound) {
				return fmt.Errorf("checksum %s %q: %w", d.from, k, err)
			}
			if a == "" {
				continue
			}
			b, err := fd.FullChecksum(ctx, k)
			if err != nil && !errors.Is(err, backends.ErrNotFound) {
				return fmt.Errorf("checksum %s %q: %w", d.to, k, err)
			}
			if b == "" {
				continue
			}
			if _, err := d.tx.ExecContext(ctx, `INSERT INTO crc (key, equal) VALUES (?, ?)`, k, a == b); err != nil {
				return err
			}
		}
		return nil
	})
}

// readMD5 returns the md5 of key's bytes, streamed from b.
func readMD5(ctx context.Context, b backends.Backend, key string) (string, error) {
	rc, err := b.Open(ctx, key, 0, -1)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := md5.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// comparison SQL per compare mode; s = source listing, d = destination
// listing, r = state record.
type exprs struct{ differ, srcChanged, drift, driftNoTimes string }

func compareExprs(mode config.CompareMode) exprs {
	etagDrift := `(d.etag != '' AND r.dst_etag != '' AND d.etag != r.dst_etag)`
	switch mode {
	case config.CompareSize:
		return exprs{
			differ:       `s.size != d.size`,
			srcChanged:   `s.size != r.src_size`,
			drift:        `d.size != r.dst_size`,
			driftNoTimes: `d.size != r.dst_size`,
		}
	case config.CompareChecksum:
		return exprs{
			differ: `(s.size != d.size OR (s.size != 0 AND COALESCE((SELECT NOT c.equal FROM crc c WHERE c.key = s.key),
				s.md5 = '' OR d.md5 = '' OR s.md5 != d.md5)))`,
			srcChanged: `(s.size != r.src_size OR CASE WHEN s.md5 != '' AND r.src_md5 != ''
				THEN s.md5 != r.src_md5 ELSE s.mtime != r.src_mtime END)`,
			drift: `(d.size != r.dst_size OR CASE WHEN d.md5 != '' AND r.dst_md5 != ''
				THEN d.md5 != r.dst_md5 ELSE d.mtime != r.dst_mtime OR ` + etagDrift + ` END)`,
			driftNoTimes: `(d.size != r.dst_size OR CASE WHEN d.md5 != '' AND r.dst_md5 != ''
				THEN d.md5 != r.dst_md5 ELSE ` + etagDrift + ` END)`,
		}
	default: // modtime
		return exprs{
			differ:       `(s.size != d.size OR s.mtime = 0 OR d.mtime = 0 OR abs(s.mtime - d.mtime) > @window)`,
			srcChanged:   `(s.size != r.src_size OR s.mtime != r.src_mtime)`,
			drift:        `(d.size != r.dst_size OR d.mtime != r.dst_mtime OR ` + etagDrift + `)`,
			driftNoTimes: `(d.size != r.dst_size OR ` + etagDrift + `)`,
		}
	}
}

func (d *differ) diff(ctx context.Context) error {
	e := compareExprs(d.s.Compare)
	pf, pt := backends.ModTimePrecision(d.from), backends.ModTimePrecision(d.to)
	window := max(pf, pt)
	if d.s.Compare == config.CompareModTime && (pf == 0 || pt == 0) {
		// One side cannot keep source times, so an unrecorded pair is
		// compared on size and, where both sides know it, md5.
		e.differ = `(s.size != d.size OR (s.md5 != '' AND d.md5 != '' AND s.md5 != d.md5))`
	}
	if pf == 0 && d.s.Compare != config.CompareSize {
		// The source's times are whole seconds set by the store (S3's
		// LastModified): a same-size rewrite within a second shows only in
		// the ETag, which is part of the fingerprint.
		e.srcChanged = `(` + e.srcChanged + ` OR (s.etag != '' AND r.src_etag != '' AND s.etag != r.src_etag))`
	}
	if pt == 0 {
		// The destination sets its own times (S3's LastModified), which
		// Put may not report: drift shows in size and ETag only.
		e.drift = compareExprs(d.s.Compare).driftNoTimes
	}
	policy := backends.ArchivedSkip
	if a, ok := d.from.(backends.Archiver); ok {
		policy = a.ArchivedPolicy()
	}
	args := []any{sql.Named("sync", d.s.Name), sql.Named("window", int64(window)), sql.Named("prefix", d.s.Prefix),
		sql.Named("copies", int(Copies)), sql.Named("after", int(AfterCopies)), sql.Named("never", int(Never)),
		sql.Named("policy", policy)}
	rec := `LEFT JOIN st_objects r ON r.sync = @sync AND r.key = s.key`
	recorded := e.drift + ` OR ` + e.srcChanged
	if d.s.Compare == config.CompareChecksum {
		// Where both sides' md5s are known (listed, recorded for the
		// same version, or hashed), they decide, whatever the state
		// recorded (a state made under modtime has no md5s); the record
		// is the fallback only where one cannot be had (a Google Doc).
		recorded = `CASE WHEN s.md5 != '' AND d.md5 != '' THEN s.size != d.size OR s.md5 != d.md5
			WHEN EXISTS (SELECT 1 FROM crc c WHERE c.key = s.key) THEN s.size != d.size OR (SELECT NOT c.equal FROM crc c WHERE c.key = s.key)
			ELSE ` + recorded + ` END`
	}
	var copies string
	if d.refresh {
		// Creates (no destination row), updates and adopts in one pass
		// over src in key order: one lookup per side and row. An adopt is
		// a pair the state does not record whose destination already
		// matches the source (a destination filled by another tool, a lost
		// state, a key a killed apply was copying): it is recorded, not
		// copied again, so managed deletes and drift detection cover it.
		copies = `SELECT @sync AS sync,
				CASE WHEN d.key IS NULL THEN 'create' WHEN r.key IS NULL AND NOT ` + e.differ + ` THEN 'adopt' ELSE 'update' END AS kind,
				s.key AS key, s.size AS size, s.mtime AS mtime, s.etag AS etag, s.md5 AS md5,
				CASE WHEN d.key IS NULL THEN CASE WHEN r.key IS NULL THEN 'new' ELSE 'missing at destination' END
				     WHEN r.key IS NULL THEN CASE WHEN ` + e.differ + ` THEN 'destination differs from source'
				          WHEN EXISTS (SELECT 1 FROM st_pending p WHERE p.sync = @sync AND p.key = s.key) THEN 'copied by an interrupted apply'
				          ELSE 'already in place' END
				     WHEN ` + e.drift + ` THEN 'destination changed since last apply'
				     ELSE 'source changed' END AS reason, s.archived AS archived, s.restoring AS restoring, s.id AS id,
				coalesce(d.size, 0) AS dst_size, coalesce(d.mtime, 0) AS dst_mtime, coalesce(d.etag, '') AS dst_etag, coalesce(d.md5, '') AS dst_md5
			FROM src s LEFT JOIN dst d ON d.key = s.key ` + rec + `
			WHERE s.refused = '' AND (d.key IS NULL OR r.key IS NULL OR ` + recorded + `)`
	} else {
		copies = `SELECT @sync AS sync, 'create' AS kind, s.key AS key, s.size AS size, s.mtime AS mtime, s.etag AS etag, s.md5 AS md5,
				'new' AS reason, s.archived AS archived, s.restoring AS restoring, s.id AS id, 0 AS dst_size, 0 AS dst_mtime, '' AS dst_etag, '' AS dst_md5
			FROM src s ` + rec + ` WHERE r.key IS NULL AND s.refused = ''
			UNION ALL
			SELECT @sync, 'update', s.key, s.size, s.mtime, s.etag, s.md5, 'source changed', s.archived, s.restoring, s.id, 0, 0, '', ''
			FROM src s JOIN st_objects r ON r.sync = @sync AND r.key = s.key WHERE s.refused = '' AND ` + e.srcChanged
	}
	// src_id: the source's id (Drive's), for apply to read by (backends.WithIDs).
	ins := `INSERT INTO actions (sync, kind, key, size, src_mtime, src_etag, src_md5, reason, phase, src_id, dst_size, dst_mtime, dst_etag, dst_md5) `
	var before int64 // the last action's id before this sync's copies
	if err := d.tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM actions`).Scan(&before); err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	if _, err := d.tx.ExecContext(ctx, ins+archivedCopies(copies), args...); err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	if d.refused.Load() > 0 {
		skips := ins + `SELECT @sync, 'skip', s.key, s.size, s.mtime, s.etag, s.md5, s.refused, @never, s.id, 0, 0, '', ''
			FROM src s WHERE s.refused != '' ORDER BY s.key`
		if _, err := d.tx.ExecContext(ctx, skips, args...); err != nil {
			return fmt.Errorf("diff: %w", err)
		}
	}
	if d.refresh {
		// The adopts follow the copies and skips, in key order, as the
		// plan lists them: moved there (by the (sync, kind, id) index,
		// nothing to move on a re-run or a fresh copy).
		var last int64
		if err := d.tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM actions`).Scan(&last); err != nil {
			return fmt.Errorf("diff: %w", err)
		}
		cols := `sync, kind, key, size, src_mtime, src_etag, src_md5, src_id, dst_size, dst_mtime, dst_etag, dst_md5, reason, phase, kept`
		moveArgs := append(args, sql.Named("before", before), sql.Named("last", last))
		for _, q := range []string{
			`INSERT INTO actions (` + cols + `) SELECT ` + cols + ` FROM actions WHERE sync = @sync AND kind = 'adopt' AND id > @before ORDER BY id`,
			`DELETE FROM actions WHERE sync = @sync AND kind = 'adopt' AND id > @before AND id <= @last`,
		} {
			if _, err := d.tx.ExecContext(ctx, q, moveArgs...); err != nil {
				return fmt.Errorf("diff: %w", err)
			}
		}
		if d.s.Compare == config.CompareChecksum {
			// A recorded pair that matches, whose record lacks an md5
			// that is now known (hashed above), is recorded again with
			// it, so that it is not hashed again.
			q := `INSERT INTO actions (sync, kind, key, size, src_mtime, src_etag, src_md5,
					dst_size, dst_mtime, dst_etag, dst_md5, reason, phase)
				SELECT @sync, 'adopt', s.key, s.size, s.mtime, s.etag, s.md5, d.size, d.mtime, d.etag, d.md5, 'in place; checksums recorded', @copies
				FROM src s JOIN dst d ON d.key = s.key JOIN st_objects r ON r.sync = @sync AND r.key = s.key
				WHERE s.refused = '' AND s.archived = '' AND s.size = d.size AND (
					(s.md5 != '' AND s.md5 = d.md5 AND (r.src_md5 = '' OR r.dst_md5 = ''))
					OR EXISTS (SELECT 1 FROM crc c WHERE c.key = s.key AND c.equal))
				ORDER BY s.key`
			if _, err := d.tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("diff: %w", err)
			}
		}
	}

	inPrefix := `substr(r.key, 1, length(@prefix)) = @prefix`
	del := `INSERT INTO actions (sync, kind, key, size, reason, phase, kept) `
	if d.refresh {
		var q string
		switch d.s.Delete {
		case config.DeleteAll:
			q = del + `SELECT @sync, 'delete', d.key, d.size, 'not in source', @after, 0
				FROM dst d WHERE d.inscope AND NOT EXISTS (SELECT 1 FROM src s WHERE s.key = d.key) ORDER BY d.key`
		case config.DeleteManaged:
			// A copy changed at the destination since syncer wrote it is
			// someone's edit, no longer syncer's copy: kept, and forgotten
			// so that later plans leave it alone too.
			gone := `FROM dst d JOIN st_objects r ON r.sync = @sync AND r.key = d.key
				WHERE d.inscope AND NOT EXISTS (SELECT 1 FROM src s WHERE s.key = d.key)`
			q = del + `SELECT @sync, 'delete', d.key, d.size, 'gone from source', @after, 0 ` + gone + ` AND NOT ` + e.drift + ` ORDER BY d.key`
			kept := del + `SELECT @sync, 'forget', d.key, d.size, '` + keptReason + `', @after, 1 ` + gone + ` AND ` + e.drift + ` ORDER BY d.key`
			if _, err := d.tx.ExecContext(ctx, kept, args...); err != nil {
				return fmt.Errorf("diff deletes: %w", err)
			}
			if err := d.logKept(ctx); err != nil {
				return err
			}
			if err := d.warnUnmanaged(ctx); err != nil {
				return err
			}
		}
		if q != "" {
			if _, err := d.tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("diff deletes: %w", err)
			}
		}
		// Records of keys gone from both sides are dropped quietly.
		if !d.merged {
			q = `INSERT INTO gone SELECT r.key FROM st_objects r WHERE r.sync = @sync AND ` + inPrefix + `
				AND NOT EXISTS (SELECT 1 FROM src s WHERE s.key = r.key)
				AND NOT EXISTS (SELECT 1 FROM dst d WHERE d.key = r.key) ORDER BY r.key`
			if _, err := d.tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("diff: %w", err)
			}
		}
		q = del + `SELECT @sync, 'forget', r.key, r.dst_size, 'gone from both sides', @after, 0
			FROM gone g JOIN st_objects r ON r.sync = @sync AND r.key = g.key ORDER BY g.key`
		if _, err := d.tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("diff: %w", err)
		}
		return d.markInTheWay(ctx)
	}
	if d.s.Delete == config.DeleteNone {
		return nil
	}
	// Without a destination listing the state is all we know: delete what
	// syncer wrote, is in scope, and is gone from the source.
	if err := d.deleteRecorded(ctx, inPrefix, args); err != nil {
		return err
	}
	return d.markInTheWay(ctx)
}

// archivedCopies selects the actions of the copies the query copies
// selects: a copy of an archived object (src.archived) becomes, by the
// source's policy (@policy), an Archived action (apply skips it, or with
// "fail" counts it failed) or a Restore (apply asks for a restore; one in
// progress is not asked for again). An adopt passes unchanged, with the
// destination's fingerprint; the other kinds carry none.
func archivedCopies(copies string) string {
	return `SELECT sync,
		CASE WHEN archived = '' OR kind = 'adopt' THEN kind WHEN @policy = 'restore' AND NOT restoring THEN 'restore' ELSE 'archived' END,
		key, size, mtime, etag, md5,
		CASE WHEN archived = '' OR kind = 'adopt' THEN reason ELSE 'archived: ' || archived || '; ' || CASE
			WHEN restoring THEN 'restore in progress'
			WHEN @policy = 'restore' THEN 'apply requests a restore'
			WHEN @policy = 'fail' THEN 'restore first (archived = "fail": counted as failed)'
			ELSE 'restore first' END END,
		CASE WHEN kind != 'adopt' AND archived != '' AND (@policy = 'skip' OR (@policy = 'restore' AND restoring)) THEN @never ELSE @copies END,
		CASE WHEN kind = 'adopt' THEN '' ELSE id END,
		CASE WHEN kind = 'adopt' THEN dst_size ELSE 0 END, CASE WHEN kind = 'adopt' THEN dst_mtime ELSE 0 END,
		CASE WHEN kind = 'adopt' THEN dst_etag ELSE '' END, CASE WHEN kind = 'adopt' THEN dst_md5 ELSE '' END
		FROM (` + copies + `) ORDER BY key`
}

// markInTheWay moves to phase BeforeCopies, with the reason InTheWay, the
// deletes that stand where a copy needs to go, on a filesystem or Drive,
// where a name is a file or a folder: a file "docs" when the plan copies
// "docs/a.txt", and the files under "docs/" when it copies a file "docs"
// (the folder goes with its last file). Both queries use the (sync, key)
// index: a range of keys below a delete, and the folders above one (at
// most its depth).
func (d *differ) markInTheWay(ctx context.Context) error {
	const copies = `c.sync = ? AND c.kind IN ('create', 'update')`
	_, err := d.tx.ExecContext(ctx, `UPDATE actions SET reason = ?, phase = ? WHERE sync = ? AND kind = 'delete'
		AND EXISTS (SELECT 1 FROM actions c WHERE `+copies+`
			AND c.key > actions.key || '/' AND c.key < actions.key || '0')`, InTheWay, int(BeforeCopies), d.s.Name, d.s.Name)
	if err != nil {
		return fmt.Errorf("diff deletes: %w", err)
	}
	// above(id, k): each delete's key, then its folders ("a/b/c", "a/b",
	// "a"); rtrim by the key's own non-slash characters drops the last
	// segment.
	_, err = d.tx.ExecContext(ctx, `UPDATE actions SET reason = ?, phase = ? WHERE id IN (
		WITH RECURSIVE above(id, k) AS (
			SELECT id, key FROM actions WHERE sync = ? AND kind = 'delete' AND instr(key, '/') > 0
			UNION ALL
			SELECT id, substr(k, 1, length(rtrim(k, replace(k, '/', ''))) - 1) FROM above WHERE instr(k, '/') > 0
		)
		SELECT above.id FROM above JOIN actions c ON c.key = above.k AND `+copies+`)`, InTheWay, int(BeforeCopies), d.s.Name, d.s.Name)
	if err != nil {
		return fmt.Errorf("diff deletes: %w", err)
	}
	return nil
}

// keptReason is the reason shown for a forget marked kept.
const keptReason = "changed at the destination since syncer wrote it: kept, no longer managed"

// logKept warns about the copies the diff keeps (forgets marked kept), naming
// the first few.
// warnUnmanaged warns when delete = "managed" manages nothing yet: the
// state records nothing for the sync (a first run, or a lost state) while
// the destination holds objects. Deletes start once apply has written or
// adopted them.
func (d *differ) warnUnmanaged(ctx context.Context) error {
	var recorded, filled bool
	err := d.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM st_objects WHERE sync = ?), EXISTS (SELECT 1 FROM dst WHERE inscope)`, d.s.Name).Scan(&recorded, &filled)
	if err != nil {
		return fmt.Errorf("diff deletes: %w", err)
	}
	if !recorded && filled {
		d.log.Warn(`delete = "managed", but the state records nothing for this sync yet: nothing at the destination is managed, so nothing is deleted. Apply adopts what already matches the source; deletes follow from then on.`, "sync", d.s.Name)
	}
	return nil
}

func (d *differ) logKept(ctx context.Context) error {
	rows, err := d.tx.QueryContext(ctx, `SELECT key FROM actions WHERE sync = ? AND kind = 'forget' AND kept ORDER BY key`, d.s.Name)
	if err != nil {
		return fmt.Errorf("diff deletes: %w", err)
	}
	defer rows.Close()
	var first []string
	n := 0
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return fmt.Errorf("diff deletes: %w", err)
		}
		if n++; len(first) < 5 {
			first = append(first, k)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("diff deletes: %w", err)
	}
	if n > 0 {
		d.log.Warn(`keeping destination copies that are gone from the source but were changed since syncer wrote them (delete = "managed" never deletes an edit); syncer stops managing them`,
			"sync", d.s.Name, "count", n, "first", strings.Join(first, ", "))
	}
	return nil
}

func (d *differ) deleteRecorded(ctx context.Context, inPrefix string, args []any) error {
	sel := `SELECT r.key, r.dst_size FROM st_objects r WHERE r.sync = @sync AND ` + inPrefix + ` AND r.key > @last
		AND NOT EXISTS (SELECT 1 FROM src s WHERE s.key = r.key)` + d.recordScope() + ` ORDER BY r.key LIMIT 256`
	ins := `INSERT INTO actions (sync, kind, key, size, reason, phase) VALUES (@sync, 'delete', @key, @size, 'gone from source', @after)`
	type cand struct {
		key  string
		size int64
	}
	last := ""
	page := make([]cand, 0, 256)
	for {
		page = page[:0]
		rows, err := d.tx.QueryContext(ctx, sel, append(append(args, d.filterArgs()...), sql.Named("last", last))...)
		if err != nil {
			return fmt.Errorf("diff deletes: %w", err)
		}
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.key, &c.size); err != nil {
				rows.Close()
				return err
			}
			page = append(page, c)
		}
		rows.Close()
		if len(page) == 0 {
			return rows.Err()
		}
		for _, c := range page {
			if !d.s.Match(c.key) && !d.s.DeleteExcluded {
				continue // out of scope now: never deleted
			}
			if _, err := d.tx.ExecContext(ctx, ins, sql.Named("sync", d.s.Name), sql.Named("key", c.key), sql.Named("size", c.size), sql.Named("after", int(AfterCopies))); err != nil {
				return fmt.Errorf("diff deletes: %w", err)
			}
		}
		last = page[len(page)-1].key
	}
}
