package sqlitefile_test

import (
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"syncer/sqlitefile"
)

// ExecFused inserts what Exec would, every bound type intact, and reports
// a failing statement's error.
func TestExecFused(t *testing.T) {
	db, err := sql.Open("sqlite3", sqlitefile.DSN(filepath.Join(t.TempDir(), "f.db"), "rwc", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, b INTEGER, e TEXT, x)`); err != nil {
		t.Fatal(err)
	}
	st, err := db.Prepare(`INSERT INTO t VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := sqlitefile.ExecFused(t.Context(), st, "a/ü", int64(-1)<<40, true, "", nil, "b", 7, false, "z", []byte{0, 1}); err != nil {
		t.Fatalf("ExecFused: %v", err)
	}
	var got []string
	rows, err := db.Query(`SELECT k, n, b, e, quote(x) FROM t ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, e, x string
		var n, b int64
		if err := rows.Scan(&k, &n, &b, &e, &x); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{k, strconv.FormatInt(n, 10), strconv.FormatInt(b, 10), e, x}, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a/ü|-1099511627776|1||NULL", "b|7|0|z|X'0001'"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	err = sqlitefile.ExecFused(t.Context(), st, "c", 1, true, "", nil, "a/ü", 2, true, "", nil)
	if err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Errorf("ExecFused of a duplicate key = %v; want the UNIQUE constraint error", err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 2 {
		t.Errorf("rows after the failed insert: %d, %v; want 2", n, err)
	}
}
