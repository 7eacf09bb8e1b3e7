package state_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"syncer/state"
)

// helperEnv, when set, makes the test binary act as a lock holder (see
// TestMain and runLockHolder).
const helperEnv = "SYNCER_STATE_TEST_LOCK_HOLDER"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(runLockHolder(path))
	}
	if path := os.Getenv(openerEnv); path != "" {
		os.Exit(runOpener(path))
	}
	os.Exit(m.Run())
}

// runLockHolder opens the state at path, takes its lock, says "locked" on
// stdout and then waits to be killed.
func runLockHolder(path string) int {
	ctx := context.Background()
	st, err := state.Open(ctx, path, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := st.Lock(ctx, "apply", "helper", 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	return 0
}

var lineageRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// newPath returns the path of a state file in a fresh folder.
func newPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "syncer.db")
}

// open opens the state at path and closes it when the test ends.
func open(t *testing.T, path string, create bool) *state.Store {
	t.Helper()
	st, err := state.Open(context.Background(), path, create)
	if err != nil {
		t.Fatalf("Open(%s, %v): %v", path, create, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func version(t *testing.T, st *state.Store) state.Version {
	t.Helper()
	v, err := st.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// snapshot returns the names and contents of the files in dir.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// assertUntouched checks that dir holds exactly the files of before, with
// the same bytes.
func assertUntouched(t *testing.T, dir string, before map[string][]byte) {
	t.Helper()
	after := snapshot(t, dir)
	for name, b := range before {
		a, ok := after[name]
		switch {
		case !ok:
			t.Errorf("%s was removed", name)
		case !bytes.Equal(a, b):
			i := firstDiff(a, b)
			hint := ""
			if i == 18 || i == 19 {
				hint = ": the SQLite header's read/write version, i.e. its journal mode was switched"
			}
			t.Errorf("%s was modified (%d bytes before, %d after; first difference at byte %d%s)", name, len(b), len(a), i, hint)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s was created", name)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// sqliteExec runs statements on the SQLite file at path with plain
// database/sql, outside the state package.
func sqliteExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCreatesNewState(t *testing.T) {
	ctx := context.Background()
	path := newPath(t)
	st, err := state.Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("state file mode = %o, want 600", perm)
	}
	if st.Path() != path {
		t.Errorf("Path() = %q, want %q", st.Path(), path)
	}
	v := version(t, st)
	if !lineageRE.MatchString(v.Lineage) {
		t.Errorf("lineage %q is not a version 4 UUID", v.Lineage)
	}
	if v.Serial != 0 {
		t.Errorf("serial = %d, want 0", v.Serial)
	}
	for want := int64(1); want <= 2; want++ {
		bumped, err := st.BumpSerial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if bumped.Serial != want || bumped.Lineage != v.Lineage {
			t.Errorf("BumpSerial = %+v, want serial %d, lineage %s", bumped, want, v.Lineage)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2 := open(t, path, false)
	if got := version(t, st2); got != (state.Version{Lineage: v.Lineage, Serial: 2}) {
		t.Errorf("after reopen: version %+v, want lineage %s serial 2", got, v.Lineage)
	}

	// Another new state gets its own lineage.
	other := open(t, newPath(t), true)
	if l := version(t, other).Lineage; l == v.Lineage {
		t.Errorf("two new states share lineage %s", l)
	}
}

func TestOpenMissingWithoutCreate(t *testing.T) {
	path := newPath(t)
	st, err := state.Open(context.Background(), path, false)
	if err == nil {
		st.Close()
		t.Fatal("Open(create=false) of a missing file succeeded")
	}
	if !errors.Is(err, state.ErrNoState) {
		t.Errorf("err = %v, want ErrNoState", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(create=false) created the file (stat: %v)", err)
	}
}

func TestOpenRefusesNonSQLite(t *testing.T) {
	cases := map[string][]byte{
		"short text":   []byte("hello"),
		"longer text":  []byte(strings.Repeat("not a database at all\n", 20)),
		"sqlite 2 ish": []byte("** This file contains an SQLite 2.1 database **"),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "syncer.db")
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			for _, create := range []bool{true, false} {
				st, err := state.Open(context.Background(), path, create)
				if err == nil {
					st.Close()
					t.Fatalf("Open(create=%v) accepted a non-SQLite file", create)
				}
				if !strings.Contains(err.Error(), "not a SQLite database") {
					t.Errorf("err = %q, want it to say the file is not a SQLite database", err)
				}
			}
			assertUntouched(t, dir, before)
		})
	}
}

func TestOpenRefusesForeignSQLite(t *testing.T) {
	cases := map[string][]string{
		"with a table": {
			`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)`,
			`INSERT INTO customers (name) VALUES ('ada'), ('grace')`,
		},
		"other application id": {`PRAGMA application_id = 42`},
	}
	for name, stmts := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "syncer.db")
			sqliteExec(t, path, stmts...)
			before := snapshot(t, dir)
			st, err := state.Open(context.Background(), path, true)
			if err == nil {
				st.Close()
				t.Fatal("Open accepted a foreign SQLite database")
			}
			if !strings.Contains(err.Error(), "not a syncer state") {
				t.Errorf("err = %q, want it to say the file is not a syncer state", err)
			}
			assertUntouched(t, dir, before)
		})
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	// journal is the journal mode the newer syncer left the file in.
	for _, journal := range []string{"WAL", "DELETE"} {
		t.Run(journal, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "syncer.db")
			st := open(t, path, true)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			sqliteExec(t, path,
				`UPDATE meta SET value = '99' WHERE key = 'schema_version'`,
				`PRAGMA journal_mode = `+journal)
			before := snapshot(t, dir)

			st, err := state.Open(context.Background(), path, false)
			if err == nil {
				st.Close()
				t.Fatal("Open accepted a state with schema version 99")
			}
			msg := err.Error()
			if !strings.Contains(msg, "newer") || !strings.Contains(msg, "99") {
				t.Errorf("err = %q, want it to say the schema (99) is newer than this syncer", msg)
			}
			assertUntouched(t, dir, before)
		})
	}
}

func TestOpenAdoptsEmptyFile(t *testing.T) {
	cases := map[string]func(t *testing.T, path string){
		"zero bytes": func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"empty SQLite database": func(t *testing.T, path string) {
			sqliteExec(t, path, `CREATE TABLE x (a)`, `DROP TABLE x`)
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			path := newPath(t)
			setup(t, path)
			st := open(t, path, false)
			v := version(t, st)
			if !lineageRE.MatchString(v.Lineage) || v.Serial != 0 {
				t.Errorf("adopted state has version %+v, want a UUID lineage and serial 0", v)
			}
			ctx := context.Background()
			rec := state.Record{Sync: "s", Key: "k", Written: time.Unix(0, 1)}
			if err := st.Apply(ctx, []state.Change{{Record: rec}}); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := st.Get(ctx, "s", "k"); err != nil || !ok {
				t.Errorf("Get after Apply on an adopted file: ok=%v err=%v", ok, err)
			}
		})
	}
}

func TestOpenAwkwardPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my state %20 #1 ?x=y ü")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sync er.db")
	st := open(t, path, true)
	ctx := context.Background()
	v := version(t, st)
	if err := st.Apply(ctx, []state.Change{{Record: state.Record{Sync: "s", Key: "k", Written: time.Unix(0, 1)}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("state not at its path: %v", err)
	}
	st2 := open(t, path, false)
	if got := version(t, st2); got != v {
		t.Errorf("reopened version %+v, want %+v", got, v)
	}
	if _, ok, err := st2.Get(ctx, "s", "k"); err != nil || !ok {
		t.Errorf("record lost on reopen: ok=%v err=%v", ok, err)
	}
}

// rec builds a record with distinct values derived from n.
func rec(sync, key string, n int64) state.Record {
	return state.Record{
		Sync: sync, Key: key,
		Src:     state.Fingerprint{Size: n, MTime: 1_700_000_000_000_000_000 + n, ETag: fmt.Sprintf(`"src-%d"`, n), MD5: fmt.Sprintf("%032x", n), ID: fmt.Sprintf("src-id-%d", n)},
		Dst:     state.Fingerprint{Size: n * 10, MTime: 1_700_000_000_000_000_000 + 2*n, ETag: fmt.Sprintf(`"dst-%d"`, n), MD5: fmt.Sprintf("%032x", n+1), ID: fmt.Sprintf("dst-id-%d", n)},
		Written: time.Unix(0, 1_700_000_100_000_000_000+n),
	}
}

func upserts(rs ...state.Record) []state.Change {
	out := make([]state.Change, len(rs))
	for i, r := range rs {
		out[i] = state.Change{Record: r}
	}
	return out
}

func forget(sync, key string) state.Change {
	return state.Change{Record: state.Record{Sync: sync, Key: key}, Forget: true}
}

func sameRecord(a, b state.Record) bool {
	return a.Sync == b.Sync && a.Key == b.Key && a.Src == b.Src && a.Dst == b.Dst && a.Written.Equal(b.Written)
}

// all returns the records Each yields for sync.
func all(t *testing.T, st *state.Store, sync string) []state.Record {
	t.Helper()
	var out []state.Record
	if err := st.Each(context.Background(), sync, func(r state.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func keysOf(rs []state.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Sync+"/"+r.Key)
	}
	return out
}

func TestApplyGetEachSummary(t *testing.T) {
	ctx := context.Background()
	st := open(t, newPath(t), true)

	written := []state.Record{
		rec("photos", "b/2.jpg", 5),
		rec("docs", "z.md", 1),
		rec("photos", "a.jpg", 3),
		rec("docs", "a.md", 2),
		rec("photos", "b/1 ü %.jpg", 4),
	}
	if err := st.Apply(ctx, upserts(written...)); err != nil {
		t.Fatal(err)
	}
	for _, w := range written {
		got, ok, err := st.Get(ctx, w.Sync, w.Key)
		if err != nil || !ok {
			t.Fatalf("Get(%s, %s): ok=%v err=%v", w.Sync, w.Key, ok, err)
		}
		if !sameRecord(got, w) {
			t.Errorf("Get(%s, %s) = %+v, want %+v", w.Sync, w.Key, got, w)
		}
	}
	if _, ok, err := st.Get(ctx, "photos", "nope"); ok || err != nil {
		t.Errorf("Get of a missing key: ok=%v err=%v, want false, nil", ok, err)
	}
	if _, ok, err := st.Get(ctx, "docs", "a.jpg"); ok || err != nil {
		t.Errorf("Get of a key of another sync: ok=%v err=%v, want false, nil", ok, err)
	}

	wantAll := []string{"docs/a.md", "docs/z.md", "photos/a.jpg", "photos/b/1 ü %.jpg", "photos/b/2.jpg"}
	if got := keysOf(all(t, st, "")); !slices.Equal(got, wantAll) {
		t.Errorf("Each(\"\") = %q, want %q", got, wantAll)
	}
	photos := all(t, st, "photos")
	if got := keysOf(photos); !slices.Equal(got, wantAll[2:]) {
		t.Errorf("Each(photos) = %q, want %q", got, wantAll[2:])
	}
	if !sameRecord(photos[0], written[2]) {
		t.Errorf("Each yields %+v, want %+v", photos[0], written[2])
	}
	if got := all(t, st, "unknown"); len(got) != 0 {
		t.Errorf("Each(unknown) = %v, want nothing", keysOf(got))
	}

	stop := errors.New("stop")
	calls := 0
	err := st.Each(ctx, "", func(state.Record) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Each with a failing fn: err=%v after %d calls, want the fn's error after 1", err, calls)
	}

	sum, err := st.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []state.SyncSummary{
		{Sync: "docs", Objects: 2, Bytes: 10 + 20, Last: written[3].Written},
		{Sync: "photos", Objects: 3, Bytes: 30 + 40 + 50, Last: written[0].Written},
	}
	if len(sum) != len(want) {
		t.Fatalf("Summary = %+v, want %+v", sum, want)
	}
	for i := range want {
		if sum[i].Sync != want[i].Sync || sum[i].Objects != want[i].Objects || sum[i].Bytes != want[i].Bytes || !sum[i].Last.Equal(want[i].Last) {
			t.Errorf("Summary[%d] = %+v, want %+v", i, sum[i], want[i])
		}
	}

	// Upsert replaces; Forget removes; both in one batch.
	changed := rec("photos", "a.jpg", 99)
	if err := st.Apply(ctx, []state.Change{{Record: changed}, forget("docs", "z.md"), forget("docs", "never-there")}); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := st.Get(ctx, "photos", "a.jpg"); !ok || !sameRecord(got, changed) {
		t.Errorf("after upsert Get = %+v (ok=%v), want %+v", got, ok, changed)
	}
	if _, ok, _ := st.Get(ctx, "docs", "z.md"); ok {
		t.Error("forgotten record still there")
	}
	if got := keysOf(all(t, st, "")); !slices.Equal(got, []string{"docs/a.md", "photos/a.jpg", "photos/b/1 ü %.jpg", "photos/b/2.jpg"}) {
		t.Errorf("after changes Each = %q", got)
	}

	if err := st.Apply(ctx, nil); err != nil {
		t.Errorf("Apply(nil) = %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Records survive a reopen.
	st2 := open(t, st.Path(), false)
	if got, ok, _ := st2.Get(ctx, "photos", "a.jpg"); !ok || !sameRecord(got, changed) {
		t.Errorf("after reopen Get = %+v (ok=%v), want %+v", got, ok, changed)
	}
}

func TestApplyIsAtomic(t *testing.T) {
	ctx := context.Background()
	st := open(t, newPath(t), true)
	old := rec("s", "old", 1)
	if err := st.Apply(ctx, upserts(old)); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkPending(ctx, "s", []string{"new"}); err != nil {
		t.Fatal(err)
	}
	// Make the write of one particular key fail inside the transaction.
	if _, err := st.DB().ExecContext(ctx, `CREATE TRIGGER fail_boom BEFORE INSERT ON objects
		WHEN NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END`); err != nil {
		t.Fatal(err)
	}
	err := st.Apply(ctx, []state.Change{
		{Record: rec("s", "new", 2)},
		forget("s", "old"),
		{Record: rec("s", "boom", 3)},
	})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Apply = %v, want the error of the failing key", err)
	}
	if _, ok, _ := st.Get(ctx, "s", "new"); ok {
		t.Error("a failed Apply wrote part of its batch (record new)")
	}
	if _, ok, _ := st.Get(ctx, "s", "old"); !ok {
		t.Error("a failed Apply forgot part of its batch (record old)")
	}
	if got := pending(t, st); !slices.Equal(got, []string{"s/new"}) {
		t.Errorf("a failed Apply changed pending keys: %q", got)
	}
}

// pending returns the pending keys as "sync/key", sorted.
func pending(t *testing.T, st *state.Store) []string {
	t.Helper()
	rows, err := st.DB().Query(`SELECT sync, key FROM pending ORDER BY sync, key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s, k string
		if err := rows.Scan(&s, &k); err != nil {
			t.Fatal(err)
		}
		out = append(out, s+"/"+k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPending(t *testing.T) {
	ctx := context.Background()
	st := open(t, newPath(t), true)
	if err := st.MarkPending(ctx, "s", []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	// Marking again (a resumed apply) is not an error.
	if err := st.MarkPending(ctx, "s", []string{"a", "d"}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkPending(ctx, "t", []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkPending(ctx, "s", nil); err != nil {
		t.Fatal(err)
	}
	if got, want := pending(t, st), []string{"s/a", "s/b", "s/c", "s/d", "t/a"}; !slices.Equal(got, want) {
		t.Fatalf("pending = %q, want %q", got, want)
	}
	// Recording a key, or forgetting it, ends its pending state; only for
	// its own sync.
	if err := st.Apply(ctx, []state.Change{{Record: rec("s", "a", 1)}, forget("s", "c")}); err != nil {
		t.Fatal(err)
	}
	if got, want := pending(t, st), []string{"s/b", "s/d", "t/a"}; !slices.Equal(got, want) {
		t.Errorf("after Apply pending = %q, want %q", got, want)
	}
	if err := st.ClearPending(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, st); len(got) != 0 {
		t.Errorf("after ClearPending pending = %q", got)
	}
	if _, ok, _ := st.Get(ctx, "s", "a"); !ok {
		t.Error("ClearPending removed a record")
	}
}

func TestLock(t *testing.T) {
	ctx := context.Background()
	path := newPath(t)
	s1 := open(t, path, true)
	s2 := open(t, path, false)
	host, _ := os.Hostname()

	if h, err := s1.LockHolder(ctx); err != nil || h != nil {
		t.Fatalf("LockHolder of an unlocked state = %v, %v; want nil, nil", h, err)
	}
	if held, err := s2.Held(); held || err != nil {
		t.Errorf("Held before any lock = %v, %v", held, err)
	}
	unlock1, err := s1.Lock(ctx, "apply", "v1.2.3", 0)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := s2.Held(); !held || err != nil {
		t.Errorf("Held while locked = %v, %v", held, err)
	}
	if fi, err := os.Stat(path + ".lock"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v, mode %v; want it with mode 0600", err, fi)
	}
	h, err := s2.LockHolder(ctx)
	if err != nil || h == nil {
		t.Fatalf("LockHolder = %v, %v", h, err)
	}
	if h.Operation != "apply" || h.Host != host || h.PID != os.Getpid() || h.Version != "v1.2.3" || time.Since(h.Started) > time.Hour || h.Started.After(time.Now()) {
		t.Errorf("LockHolder = %+v, want apply by pid %d on %s, v1.2.3, started now", *h, os.Getpid(), host)
	}

	// A second store of the same file fails at once.
	_, err = s2.Lock(ctx, "plan", "v", 0)
	var le *state.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock = %v, want a *LockedError", err)
	}
	if le.Holder == nil || le.Holder.Operation != "apply" || le.Holder.PID != os.Getpid() || le.Holder.Host != host {
		t.Errorf("LockedError.Holder = %+v, want apply by pid %d on %s", le.Holder, os.Getpid(), host)
	}
	for _, want := range []string{"apply", host, strconv.Itoa(os.Getpid()), path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("LockedError %q does not mention %q", err, want)
		}
	}
	// So does a second lock through the same store.
	if _, err := s1.Lock(ctx, "plan", "v", 0); !errors.As(err, &le) {
		t.Errorf("relocking the same store = %v, want a *LockedError", err)
	}

	// With a timeout it waits for the holder to let go.
	released := make(chan struct{})
	go func() {
		time.Sleep(200 * time.Millisecond)
		unlock1()
		close(released)
	}()
	unlock2, err := s2.Lock(ctx, "plan", "v2", 30*time.Second)
	<-released
	if err != nil {
		t.Fatalf("Lock with a timeout after the holder unlocked: %v", err)
	}
	if h, _ := s1.LockHolder(ctx); h == nil || h.Operation != "plan" || h.Version != "v2" {
		t.Errorf("holder after the waiting Lock = %+v, want plan v2", h)
	}

	// Cancelling the context ends the wait.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	if _, err := s1.Lock(cctx, "apply", "v", 30*time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a cancelled context = %v, want context.Canceled", err)
	}

	unlock2()
	if h, err := s1.LockHolder(ctx); err != nil || h != nil {
		t.Errorf("LockHolder after unlock = %+v, %v; want none", h, err)
	}
	if held, err := s1.Held(); held || err != nil {
		t.Errorf("Held after unlock = %v, %v", held, err)
	}
	unlock3, err := s1.Lock(ctx, "apply", "v3", 0)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock3()
}

func TestLockIgnoresStaleRow(t *testing.T) {
	ctx := context.Background()
	st := open(t, newPath(t), true)
	// A holder that died left its row behind; its flock went with it.
	if _, err := st.DB().ExecContext(ctx, `INSERT INTO lock(id, operation, host, pid, started_at, version)
		VALUES (1, 'apply', 'ghost-host', 999999, 1, 'old')`); err != nil {
		t.Fatal(err)
	}
	unlock, err := st.Lock(ctx, "plan", "new", 0)
	if err != nil {
		t.Fatalf("Lock with a stale lock row: %v", err)
	}
	h, err := st.LockHolder(ctx)
	if err != nil || h == nil || h.Operation != "plan" || h.PID != os.Getpid() || h.Host == "ghost-host" {
		t.Errorf("holder = %+v, %v; want this process's plan", h, err)
	}
	unlock()
	if h, _ := st.LockHolder(ctx); h != nil {
		t.Errorf("holder after unlock = %+v, want none", h)
	}
}

// TestLockHolderKilled takes the lock in a child process, checks it is
// refused here while the child lives, then kills the child with SIGKILL and
// takes the lock.
func TestLockHolderKilled(t *testing.T) {
	ctx := context.Background()
	path := newPath(t)
	st := open(t, path, true)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper did not lock: %q %v; stderr: %s", line, err, stderr.String())
	}

	_, err = st.Lock(ctx, "plan", "v", 0)
	var le *state.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock while the child holds it = %v, want *LockedError", err)
	}
	if le.Holder == nil || le.Holder.PID != cmd.Process.Pid || le.Holder.Operation != "apply" {
		t.Errorf("holder = %+v, want apply by pid %d", le.Holder, cmd.Process.Pid)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("LockedError %q does not name the holder's pid %d", err, cmd.Process.Pid)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	unlock, err := st.Lock(ctx, "plan", "v", 0)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	defer unlock()
	if h, _ := st.LockHolder(ctx); h == nil || h.PID != os.Getpid() || h.Operation != "plan" {
		t.Errorf("holder = %+v, want this process's plan", h)
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	st := open(t, newPath(t), true)
	if r, err := st.LastRun(ctx); err != nil || r != nil {
		t.Fatalf("LastRun of a new state = %+v, %v; want nil, nil", r, err)
	}
	before := time.Now()
	id1, err := st.StartRun(ctx, "apply", "v1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.LastRun(ctx)
	if err != nil || r == nil {
		t.Fatalf("LastRun = %v, %v", r, err)
	}
	if r.ID != id1 || r.Operation != "apply" || r.Status != "running" || !r.Finished.IsZero() ||
		r.Started.Before(before.Add(-time.Second)) || r.Started.After(time.Now()) {
		t.Errorf("running run = %+v", *r)
	}
	if err := st.FinishRun(ctx, state.Run{ID: id1, Status: "partial", Copied: 3, Deleted: 2, Failed: 1, Bytes: 12345}); err != nil {
		t.Fatal(err)
	}
	r, err = st.LastRun(ctx)
	if err != nil || r == nil {
		t.Fatalf("LastRun = %v, %v", r, err)
	}
	if r.ID != id1 || r.Operation != "apply" || r.Status != "partial" || r.Copied != 3 || r.Deleted != 2 ||
		r.Failed != 1 || r.Bytes != 12345 || r.Finished.IsZero() || r.Finished.Before(r.Started) {
		t.Errorf("finished run = %+v", *r)
	}

	id2, err := st.StartRun(ctx, "apply", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if id2 <= id1 {
		t.Errorf("second run id %d not after first %d", id2, id1)
	}
	if r, _ := st.LastRun(ctx); r == nil || r.ID != id2 || r.Status != "running" {
		t.Errorf("LastRun = %+v, want run %d running", r, id2)
	}
}
