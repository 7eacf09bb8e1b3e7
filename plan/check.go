package plan

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"syncer/backends"
	"syncer/config"
	"syncer/sqlitefile"
	"syncer/views/display"
)

// CheckKind says how a key differs between a sync's two sides.
type CheckKind string

const (
	OnlySource      CheckKind = "only_in_source"
	OnlyDestination CheckKind = "only_in_destination"
	SizeDiffers     CheckKind = "size_differs"
	HashDiffers     CheckKind = "hash_differs"
)

// CheckLine is one key that check reports.
type CheckLine struct {
	Sync   string
	Key    string
	Kind   CheckKind
	Detail string // e.g. "6 B vs 7 B"
}

// CheckSummary counts what check found in one sync.
type CheckSummary struct {
	Sync                        string
	OnlySource, OnlyDestination int64
	Differ                      int64 // size or hash
	Match                       int64 // equal size, and equal hash where compared
	NotHashed                   int64 // matched on size alone
}

// Differences is the number of keys that do not match.
func (s CheckSummary) Differences() int64 { return s.OnlySource + s.OnlyDestination + s.Differ }

// CheckOptions tunes Check.
type CheckOptions struct {
	// Download hashes by reading what neither the listing nor the backend
	// can hash otherwise, so that every equal-size pair is compared by
	// content.
	Download bool
	Log      *slog.Logger
}

// Check compares each sync's source and destination, without the state and
// changing nothing: keys on one side only, size differences, and MD5
// differences where both sides know (or, with Download, can compute) one.
// Listings go through a temporary SQLite file, so memory does not grow with
// the number of keys; report receives each line as it is found.
func Check(ctx context.Context, syncs []*config.Sync, open Opener, opts CheckOptions, report func(CheckLine) error) ([]CheckSummary, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f, err := os.CreateTemp("", "syncer-check-*.db")
	if err != nil {
		return nil, fmt.Errorf("check: work file: %w", err)
	}
	f.Close()
	defer os.Remove(f.Name())
	db, err := sql.Open("sqlite3", sqlitefile.DSN(f.Name(), "rw", map[string]string{"_journal_mode": "OFF", "_synchronous": "OFF"}))
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	defer conn.Close()
	// The filters record what they excluded in meta, as in a plan.
	if _, err := conn.ExecContext(ctx, `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`); err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	now := time.Now()
	var out []CheckSummary
	for _, s := range syncs {
		from, err := open(s.From)
		if err != nil {
			return out, fmt.Errorf("sync %q: %w", s.Name, err)
		}
		to, err := open(s.To)
		if err != nil {
			return out, fmt.Errorf("sync %q: %w", s.Name, err)
		}
		d := &differ{conn: conn, s: s, from: from, to: to, refresh: true, log: log, now: now}
		sum, err := d.check(ctx, opts.Download, report)
		out = append(out, sum)
		if err != nil {
			return out, fmt.Errorf("sync %q: %w", s.Name, err)
		}
	}
	return out, nil
}

func (d *differ) check(ctx context.Context, download bool, report func(CheckLine) error) (CheckSummary, error) {
	sum := CheckSummary{Sync: d.s.Name}
	tx, err := d.conn.BeginTx(ctx, nil)
	if err != nil {
		return sum, err
	}
	defer tx.Rollback()
	d.tx = tx
	if err := d.listTables(ctx); err != nil {
		return sum, err
	}
	if err := d.applyFilters(ctx); err != nil {
		return sum, err
	}
	emit := func(key string, kind CheckKind, detail string) error {
		return report(CheckLine{Sync: d.s.Name, Key: key, Kind: kind, Detail: detail})
	}
	// Each query streams its rows in key order; nothing is collected.
	err = d.eachRow(ctx, `SELECT key, size, refused FROM src s WHERE NOT EXISTS (SELECT 1 FROM dst WHERE dst.key = s.key) ORDER BY key`,
		func(rows *sql.Rows) error {
			var key, refused string
			var size int64
			if err := rows.Scan(&key, &size, &refused); err != nil {
				return err
			}
			sum.OnlySource++
			return emit(key, OnlySource, joinDetail(formatSize(size), refused))
		})
	if err != nil {
		return sum, err
	}
	err = d.eachRow(ctx, `SELECT key, size FROM dst d WHERE inscope AND NOT EXISTS (SELECT 1 FROM src WHERE src.key = d.key) ORDER BY key`,
		func(rows *sql.Rows) error {
			var key string
			var size int64
			if err := rows.Scan(&key, &size); err != nil {
				return err
			}
			sum.OnlyDestination++
			return emit(key, OnlyDestination, formatSize(size))
		})
	if err != nil {
		return sum, err
	}
	err = d.eachRow(ctx, `SELECT s.key, s.size, d.size, s.md5, d.md5 FROM src s JOIN dst d ON d.key = s.key ORDER BY s.key`,
		func(rows *sql.Rows) error {
			var key, smd5, dmd5 string
			var ssize, dsize int64
			if err := rows.Scan(&key, &ssize, &dsize, &smd5, &dmd5); err != nil {
				return err
			}
			if ssize >= 0 && dsize >= 0 && ssize != dsize {
				sum.Differ++
				return emit(key, SizeDiffers, display.Bytes(ssize)+" vs "+display.Bytes(dsize))
			}
			if ssize == 0 && dsize == 0 {
				sum.Match++ // nothing to differ in
				return nil
			}
			if download {
				var err error
				if smd5 == "" {
					if smd5, err = backends.MD5Of(ctx, d.from, key); err != nil {
						return hashFailed(err, d.from, key)
					}
				}
				if dmd5 == "" {
					if dmd5, err = backends.MD5Of(ctx, d.to, key); err != nil {
						return hashFailed(err, d.to, key)
					}
				}
			}
			switch {
			case smd5 != "" && dmd5 != "" && smd5 != dmd5:
				sum.Differ++
				return emit(key, HashDiffers, "md5 "+smd5+" vs "+dmd5)
			case smd5 == "" || dmd5 == "":
				sum.NotHashed++ // counted, not listed: not a difference
				return nil
			}
			sum.Match++
			return nil
		})
	if err != nil {
		return sum, err
	}
	for _, q := range []string{`DROP TABLE src`, `DROP TABLE dst`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return sum, fmt.Errorf("check tables: %w", err)
		}
	}
	return sum, tx.Commit()
}

// hashFailed names the side and key whose hash could not be read; a key
// gone since the listing is said so.
func hashFailed(err error, b backends.Backend, key string) error {
	if errors.Is(err, backends.ErrNotFound) {
		return fmt.Errorf("%s: %q disappeared while being checked; run check again", b, key)
	}
	return fmt.Errorf("hash %q on %s: %w", key, b, err)
}

func (d *differ) eachRow(ctx context.Context, q string, fn func(*sql.Rows) error) error {
	rows, err := d.tx.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func formatSize(n int64) string {
	if n < 0 {
		return "size unknown"
	}
	return display.Bytes(n)
}

func joinDetail(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}
