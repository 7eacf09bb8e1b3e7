package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"

	"syncer/sqlitefile"
)

// views are what AttachTo creates: name suffix, then columns and query,
// where %s is the attached schema. Migrations keep their names and columns;
// what they select from may change, as long as SQLite still flattens them
// into the queries that name them. TestAttachToViews pins both.
var views = []struct{ suffix, def string }{
	{"objects", `(sync, key, src_size, src_mtime, src_etag, src_md5, dst_size, dst_mtime, dst_etag, dst_md5, src_id, dst_id)
		AS SELECT sync, key, src_size, src_mtime, src_etag, src_md5, dst_size, dst_mtime, dst_etag, dst_md5, src_id, dst_id
		FROM %s.objects`},
	{"pending", `(sync, key) AS SELECT sync, key FROM %s.pending`},
}

var aliasRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// AttachTo lets SQL on conn, a connection to another SQLite database, read
// the state: it attaches the state file read-only and creates two TEMP
// views on conn, whose names and columns stay the same whatever the state's
// schema becomes:
//
//	<alias>_objects (sync, key, src_size, src_mtime, src_etag, src_md5,
//	                 dst_size, dst_mtime, dst_etag, dst_md5, src_id, dst_id)
//	    what apply last wrote for each (sync, key): a Record's source and
//	    destination Fingerprints (times in Unix nanoseconds, 0 when
//	    unknown; md5 lowercase hex or ''; ids the stores' or '').
//	<alias>_pending (sync, key)
//	    the keys an apply started copying and has not recorded.
//
// Each holds one row per (sync, key); lookups and joins on (sync, key) use
// the state's index. The schema the state is attached as is not part of
// this contract: SQL names only the views. Errors of queries on them are
// the state's, for Explain. detach drops the views and detaches the state;
// conn must not be in a transaction then.
func (s *Store) AttachTo(ctx context.Context, conn *sql.Conn, alias string) (detach func(context.Context) error, err error) {
	if !aliasRE.MatchString(alias) {
		return nil, fmt.Errorf("attach state %s: alias %q is not a SQL name", s.path, alias)
	}
	schema := alias + "_state"
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS `+schema, sqlitefile.DSN(s.path, "ro", nil)); err != nil {
		return nil, s.Explain(fmt.Errorf("read state %s: %w", s.path, err))
	}
	detach = func(ctx context.Context) error {
		var errs []error
		for _, v := range views {
			if _, err := conn.ExecContext(ctx, `DROP VIEW IF EXISTS temp.`+alias+`_`+v.suffix); err != nil {
				errs = append(errs, err)
			}
		}
		if _, err := conn.ExecContext(ctx, `DETACH DATABASE `+schema); err != nil {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("detach state %s: %w", s.path, err)
		}
		return nil
	}
	for _, v := range views {
		q := `CREATE TEMP VIEW ` + alias + `_` + v.suffix + ` ` + fmt.Sprintf(v.def, schema)
		if _, err := conn.ExecContext(ctx, q); err != nil {
			detach(context.WithoutCancel(ctx))
			return nil, s.Explain(fmt.Errorf("read state %s: %w", s.path, err))
		}
	}
	return detach, nil
}
