package state_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"syncer/state"
)

// attached opens a fresh SQLite database, as the plan's, and attaches the
// state at path to its one connection as "st".
func attached(t *testing.T, st *state.Store) (*sql.Conn, func(context.Context) error) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	detach, err := st.AttachTo(ctx, conn, "st")
	if err != nil {
		t.Fatal(err)
	}
	return conn, detach
}

// TestAttachToViews pins the views AttachTo documents: a migration that
// changes their names or columns must fail here, not in the plan's SQL.
func TestAttachToViews(t *testing.T) {
	ctx := context.Background()
	st := open(t, newPath(t), true)
	r := rec("s", "photos/a.jpg", 7)
	if err := st.Apply(ctx, upserts(r, rec("t", "photos/a.jpg", 8))); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkPending(ctx, "s", []string{"photos/b.jpg"}); err != nil {
		t.Fatal(err)
	}
	conn, detach := attached(t, st)

	for view, want := range map[string][]string{
		"st_objects": {"sync", "key", "src_size", "src_mtime", "src_etag", "src_md5", "dst_size", "dst_mtime", "dst_etag", "dst_md5", "src_id", "dst_id"},
		"st_pending": {"sync", "key"},
	} {
		rows, err := conn.QueryContext(ctx, `SELECT name FROM pragma_table_info(?, 'temp')`, view)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, c)
		}
		rows.Close()
		if !slices.Equal(cols, want) {
			t.Errorf("temp view %s has columns %q, want %q", view, cols, want)
		}
	}

	var got state.Record
	err := conn.QueryRowContext(ctx, `SELECT sync, key, src_size, src_mtime, src_etag, src_md5, dst_size, dst_mtime, dst_etag, dst_md5, src_id, dst_id
		FROM st_objects WHERE sync = 's' AND key = 'photos/a.jpg'`).
		Scan(&got.Sync, &got.Key, &got.Src.Size, &got.Src.MTime, &got.Src.ETag, &got.Src.MD5,
			&got.Dst.Size, &got.Dst.MTime, &got.Dst.ETag, &got.Dst.MD5, &got.Src.ID, &got.Dst.ID)
	if err != nil || got.Sync != r.Sync || got.Key != r.Key || got.Src != r.Src || got.Dst != r.Dst {
		t.Errorf("st_objects row = %+v, %v; want %+v", got, err, r)
	}
	var sync, key string
	if err := conn.QueryRowContext(ctx, `SELECT sync, key FROM st_pending`).Scan(&sync, &key); err != nil || sync != "s" || key != "photos/b.jpg" {
		t.Errorf("st_pending row = %q %q, %v", sync, key, err)
	}

	// The views are flattened into the queries that name them, and joins
	// on (sync, key) search the state's primary key, whichever side drives
	// the join.
	if _, err := conn.ExecContext(ctx, `CREATE TABLE src (key TEXT NOT NULL, size INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `CREATE UNIQUE INDEX src_key ON src (key)`); err != nil {
		t.Fatal(err)
	}
	scan := regexp.MustCompile(`SCAN \S*\b(objects|pending)\b|MATERIALIZE|CO-ROUTINE`)
	for _, q := range []string{
		`SELECT s.key, r.dst_size FROM src s LEFT JOIN st_objects r ON r.sync = 's' AND r.key = s.key`,
		`SELECT s.key FROM src s JOIN st_pending p ON p.sync = 's' AND p.key = s.key`,
		`SELECT r.key FROM st_objects r WHERE r.sync = 's' AND r.key > 'a' ORDER BY r.key LIMIT 256`,
	} {
		plan := queryPlan(t, conn, q)
		if !strings.Contains(plan, "USING PRIMARY KEY (sync=?") || scan.MatchString(plan) {
			t.Errorf("%s\ndoes not search the state's primary key:\n%s", q, plan)
		}
	}

	// Read-only: the views are not a way to write the state.
	if _, err := conn.ExecContext(ctx, `DELETE FROM st_objects`); err == nil {
		t.Error("DELETE FROM st_objects succeeded")
	}

	if err := detach(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM temp.sqlite_schema`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after detach, %d temp objects remain (%v)", n, err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM pragma_database_list WHERE name NOT IN ('main', 'temp')`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after detach, %d databases remain attached (%v)", n, err)
	}
	// The state is still the Store's to write.
	if err := st.Apply(ctx, upserts(rec("s", "photos/c.jpg", 9))); err != nil {
		t.Errorf("Apply after detach: %v", err)
	}
}

func TestAttachToBadAlias(t *testing.T) {
	st := open(t, newPath(t), true)
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := st.AttachTo(context.Background(), conn, "st; DROP TABLE x"); err == nil {
		t.Error("AttachTo took an alias that is not a SQL name")
	}
}

// queryPlan is EXPLAIN QUERY PLAN's details for q, one a line.
func queryPlan(t *testing.T, conn *sql.Conn, q string) string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	return b.String()
}
