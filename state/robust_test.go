package state_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"syncer/state"
)

// openerEnv, when set, makes the test binary act as one of several syncers
// starting at once on the same state (see TestMain and runOpener).
const openerEnv = "SYNCER_STATE_TEST_OPENER"

// runOpener waits for a line on stdin, then opens (creating) the state at
// path and tries its lock once, as `syncer plan` does, and prints what it
// found: "lineage=L serial=N lock=ok|busy".
func runOpener(path string) int {
	bufio.NewReader(os.Stdin).ReadString('\n')
	ctx := context.Background()
	st, err := state.Open(ctx, path, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	v, err := st.Version(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	lock := "ok"
	unlock, err := st.Lock(ctx, "plan", "opener", 0)
	var le *state.LockedError
	switch {
	case err == nil:
		time.Sleep(20 * time.Millisecond)
		unlock()
	case errors.As(err, &le):
		lock = "busy"
	default:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("lineage=%s serial=%d lock=%s\n", v.Lineage, v.Serial, lock)
	return 0
}

// names lists the entries of dir with their types, without opening any.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name()+" "+e.Type().String())
	}
	return out
}

// openWithin runs Open in the background and fails the test if it has not
// returned within 10 s (a named pipe used to block it for ever).
func openWithin(t *testing.T, path string, create bool) (*state.Store, error) {
	t.Helper()
	type result struct {
		st  *state.Store
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := state.Open(context.Background(), path, create)
		done <- result{st, err}
	}()
	select {
	case r := <-done:
		return r.st, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Open(%s, create=%v) still blocked after 10 s", path, create)
		return nil, nil
	}
}

func TestOpenRefusesNonRegularFile(t *testing.T) {
	cases := []struct {
		name, kind string
		make       func(t *testing.T, path string)
	}{
		{"fifo", "named pipe", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			// Should Open open the pipe after all, let it go.
			t.Cleanup(func() {
				if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
			})
		}},
		{"socket", "socket", func(t *testing.T, path string) {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			t.Cleanup(func() { l.Close() })
		}},
		{"link to /dev/null", "character device", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/null", path); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory", "directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "x.db")
			c.make(t, path)
			before := names(t, dir)
			for _, create := range []bool{true, false} {
				st, err := openWithin(t, path, create)
				if err == nil {
					st.Close()
					t.Fatalf("Open(create=%v) accepted a %s", create, c.kind)
				}
				want := fmt.Sprintf("state %s is not a regular file (%s)", path, c.kind)
				if err.Error() != want {
					t.Errorf("Open(create=%v) = %q, want %q", create, err, want)
				}
			}
			if after := names(t, dir); !slices.Equal(after, before) {
				t.Errorf("folder held %q, now %q", before, after)
			}
		})
	}
}

func TestOpenRefusesDevNull(t *testing.T) {
	beside := []string{"/dev/null-journal", "/dev/null-wal", "/dev/null-shm", "/dev/null.lock"}
	for _, p := range beside {
		if _, err := os.Lstat(p); err == nil {
			t.Skipf("%s exists already (left by an older syncer?); remove it to run this test", p)
		}
	}
	for _, create := range []bool{true, false} {
		st, err := openWithin(t, "/dev/null", create)
		if err == nil {
			st.Close()
			t.Fatalf("Open(/dev/null, create=%v) succeeded", create)
		}
		if want := "state /dev/null is not a regular file (character device)"; err.Error() != want {
			t.Errorf("Open(/dev/null, create=%v) = %q, want %q", create, err, want)
		}
	}
	for _, p := range beside {
		if _, err := os.Lstat(p); err == nil {
			os.Remove(p)
			t.Errorf("Open(/dev/null) created %s", p)
		}
	}
}

func TestOpenThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.db")
	link := filepath.Join(dir, "link.db")
	v := version(t, open(t, real, true))
	if err := os.Symlink("real.db", link); err != nil {
		t.Fatal(err)
	}
	if got := version(t, open(t, link, false)); got != v {
		t.Errorf("through the link: version %+v, want %+v", got, v)
	}

	// A link to nothing is not followed to create a state there.
	dangling := filepath.Join(dir, "dangling.db")
	if err := os.Symlink("nowhere.db", dangling); err != nil {
		t.Fatal(err)
	}
	before := names(t, dir)
	_, err := state.Open(context.Background(), dangling, true)
	if want := "state " + dangling + " is a symbolic link to nowhere.db, which does not exist"; err == nil || err.Error() != want {
		t.Errorf("Open(dangling link, create) = %v, want %q", err, want)
	}
	if _, err := state.Open(context.Background(), dangling, false); !errors.Is(err, state.ErrNoState) {
		t.Errorf("Open(dangling link) = %v, want ErrNoState", err)
	}
	if after := names(t, dir); !slices.Equal(after, before) {
		t.Errorf("folder held %q, now %q", before, after)
	}
}

// toSchema1 turns the state at path into one that a syncer with schema
// version 1 left.
func toSchema1(t *testing.T, path string) state.Version {
	t.Helper()
	st, err := state.Open(context.Background(), path, true)
	if err != nil {
		t.Fatal(err)
	}
	v := version(t, st)
	st.Close()
	sqliteExec(t, path, `DROP TABLE failures`, `DROP TABLE upload_parts`, `DROP TABLE uploads`,
		`ALTER TABLE objects DROP COLUMN src_id`, `ALTER TABLE objects DROP COLUMN dst_id`, `DROP TABLE backend_ids`, `ALTER TABLE pending DROP COLUMN id`,
		`UPDATE meta SET value = '1' WHERE key = 'schema_version'`)
	return v
}

// concurrentSetups prepare the state path for several first runs at once:
// the lineage they must all find, or "" for any new one.
var concurrentSetups = map[string]func(t *testing.T, path string) string{
	"missing": func(t *testing.T, path string) string { return "" },
	"empty file": func(t *testing.T, path string) string {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return ""
	},
	"schema 1": func(t *testing.T, path string) string { return toSchema1(t, path).Lineage },
}

// checkOneState checks that the state at path has lineage (any if ""),
// serial 0, the current schema, and meta rows written once.
func checkOneState(t *testing.T, path, lineage string) {
	t.Helper()
	st := open(t, path, false)
	v := version(t, st)
	if !lineageRE.MatchString(v.Lineage) || (lineage != "" && v.Lineage != lineage) || v.Serial != 0 {
		t.Errorf("state version %+v, want lineage %q serial 0", v, lineage)
	}
	rows, err := st.DB().Query(`SELECT key || '=' || value FROM meta WHERE key != 'lineage' ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var meta []string
	for rows.Next() {
		var kv string
		rows.Scan(&kv)
		meta = append(meta, kv)
	}
	if want := []string{fmt.Sprintf("schema_version=%d", state.SchemaVersion), "serial=0"}; !slices.Equal(meta, want) {
		t.Errorf("meta = %q, want %q and the lineage", meta, want)
	}
	if _, ok, err := st.UploadOf(context.Background(), "s", "k"); err != nil || ok {
		t.Errorf("uploads table: ok=%v err=%v", ok, err)
	}
}

// TestOpenConcurrentFirstRuns starts several processes that open the same
// state at the same moment, as several `syncer plan` started together do:
// all must open one state, created or migrated once, and either take the
// lock or find it taken.
func TestOpenConcurrentFirstRuns(t *testing.T) {
	const procs, rounds = 8, 3
	for name, setup := range concurrentSetups {
		t.Run(name, func(t *testing.T) {
			for range rounds {
				path := newPath(t)
				want := setup(t, path)
				var cmds []*exec.Cmd
				var stdins []io.WriteCloser
				outs := make([]*bytes.Buffer, procs)
				errs := make([]*bytes.Buffer, procs)
				for i := range procs {
					cmd := exec.Command(os.Args[0], "-test.run=^$")
					// A race-enabled binary otherwise waits 1 s at exit.
					cmd.Env = append(os.Environ(), openerEnv+"="+path,
						"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
					outs[i], errs[i] = &bytes.Buffer{}, &bytes.Buffer{}
					cmd.Stdout, cmd.Stderr = outs[i], errs[i]
					in, err := cmd.StdinPipe()
					if err != nil {
						t.Fatal(err)
					}
					if err := cmd.Start(); err != nil {
						t.Fatal(err)
					}
					cmds, stdins = append(cmds, cmd), append(stdins, in)
				}
				time.Sleep(50 * time.Millisecond) // let them all reach the start line
				for _, in := range stdins {
					io.WriteString(in, "go\n")
					in.Close()
				}
				lineages := map[string]bool{}
				locked := 0
				for i, cmd := range cmds {
					if err := cmd.Wait(); err != nil {
						t.Errorf("process %d: %v: %s", i, err, errs[i])
						continue
					}
					var l, lock string
					var serial int
					if _, err := fmt.Sscanf(outs[i].String(), "lineage=%s serial=%d lock=%s", &l, &serial, &lock); err != nil {
						t.Errorf("process %d said %q: %v", i, outs[i], err)
						continue
					}
					lineages[l] = true
					if lock == "ok" {
						locked++
					}
					if serial != 0 {
						t.Errorf("process %d found serial %d", i, serial)
					}
				}
				if t.Failed() {
					return
				}
				if len(lineages) != 1 {
					t.Errorf("the processes found %d lineages: %v", len(lineages), lineages)
				}
				if locked == 0 {
					t.Error("no process took the lock")
				}
				checkOneState(t, path, want)
			}
		})
	}
}

// TestOpenConcurrentGoroutines does the same within one process.
func TestOpenConcurrentGoroutines(t *testing.T) {
	const n, rounds = 8, 10
	for name, setup := range concurrentSetups {
		t.Run(name, func(t *testing.T) {
			for range rounds {
				path := newPath(t)
				want := setup(t, path)
				start := make(chan struct{})
				var wg sync.WaitGroup
				lineages := make([]string, n)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						st, err := state.Open(context.Background(), path, true)
						if err != nil {
							t.Errorf("goroutine %d: %v", i, err)
							return
						}
						defer st.Close()
						v, err := st.Version(context.Background())
						if err != nil {
							t.Errorf("goroutine %d: %v", i, err)
						}
						lineages[i] = v.Lineage
					}()
				}
				close(start)
				wg.Wait()
				if t.Failed() {
					return
				}
				for i, l := range lineages {
					if l != lineages[0] {
						t.Errorf("goroutine %d found lineage %s, goroutine 0 %s", i, l, lineages[0])
					}
				}
				checkOneState(t, path, want)
			}
		})
	}
}

// corruptPage XORs the first 8 bytes of the b-tree page header of the root
// page of table in the SQLite file at path.
func corruptPage(t *testing.T, path, table string) {
	t.Helper()
	st := open(t, path, false)
	var root, pageSize int64
	if err := st.DB().QueryRow(`SELECT rootpage FROM sqlite_schema WHERE name = ?`, table).Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if root < 2 {
		t.Fatalf("%s has root page %d", table, root)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 8)
	off := (root - 1) * pageSize
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0xa5
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "syncer.db")
	st := open(t, path, true)
	var rs []state.Record
	for i := range 2000 {
		rs = append(rs, rec("s", fmt.Sprintf("photos/%05d.jpg", i), int64(i)))
	}
	if err := st.Apply(ctx, upserts(rs...)); err != nil {
		t.Fatal(err)
	}
	v := version(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	corruptPage(t, path, "objects")
	before := snapshot(t, dir)

	// The header and meta are intact: Open succeeds; the objects are not.
	st = open(t, path, false)
	if got := version(t, st); got != v {
		t.Errorf("version %+v, want %+v", got, v)
	}
	hint := ": restore it from a backup, or move it aside and run plan again"
	err := st.Each(ctx, "s", func(state.Record) error { return nil })
	if want := "state " + path + " is corrupt (list records: database disk image is malformed)" + hint; err == nil || err.Error() != want {
		t.Errorf("Each = %v, want %q", err, want)
	}
	var ce *state.CorruptError
	if !errors.As(err, &ce) || ce.Path != path {
		t.Errorf("Each = %#v, want a *CorruptError for %s", err, path)
	}
	_, _, err = st.Get(ctx, "s", "photos/01000.jpg")
	if want := "state " + path + " is corrupt (read record: database disk image is malformed)" + hint; err == nil || err.Error() != want {
		t.Errorf("Get = %v, want %q", err, want)
	}

	// Errors of queries on DB(), as the plan's diff runs them.
	var n int
	err = st.DB().QueryRow(`SELECT count(*) FROM objects WHERE sync = 's'`).Scan(&n)
	if err == nil {
		t.Fatal("a query of the corrupt table succeeded")
	}
	planErr := fmt.Errorf("sync %q: diff deletes: %w", "s", err)
	explained := st.Explain(planErr)
	if want := `state ` + path + ` is corrupt (sync "s": diff deletes: database disk image is malformed)` + hint; explained.Error() != want {
		t.Errorf("Explain = %q, want %q", explained, want)
	}
	if !errors.Is(explained, planErr) || !errors.As(explained, &ce) {
		t.Errorf("Explain does not wrap the error in a *CorruptError: %#v", explained)
	}
	if again := st.Explain(fmt.Errorf("plan: %w", explained)); again.Error() != "plan: "+explained.Error() {
		t.Errorf("Explain of an explained error = %q", again)
	}
	// And of the views of the state attached to the plan's own database.
	conn, detach := attached(t, st)
	err = conn.QueryRowContext(ctx, `SELECT count(*) FROM st_objects r WHERE r.sync = 's'`).Scan(&n)
	if want := `state ` + path + ` is corrupt (diff: database disk image is malformed)` + hint; err == nil || st.Explain(fmt.Errorf("diff: %w", err)).Error() != want {
		t.Errorf("Explain(query of the attached state: %v), want %q", err, want)
	}
	if err := detach(ctx); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	other := errors.New("some other error")
	if st.Explain(other) != other || st.Explain(nil) != nil {
		t.Error("Explain changed an error that is not about corruption")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	assertUntouched(t, dir, before)
}

func TestOpenNotADatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "syncer.db")
	// The SQLite magic, then a header SQLite rejects (page size 3).
	b := append([]byte("SQLite format 3\x00\x00\x03"), bytes.Repeat([]byte{0x5a}, 4096-18)...)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	for _, create := range []bool{true, false} {
		_, err := state.Open(context.Background(), path, create)
		want := "state " + path + " is corrupt (read header: file is not a database): restore it from a backup, or move it aside and run plan again"
		if err == nil || err.Error() != want {
			t.Errorf("Open(create=%v) = %v, want %q", create, err, want)
		}
	}
	assertUntouched(t, dir, before)
}

// TestOpenReadOnlyFolder: SQLite must create the -wal and -shm files beside
// a WAL state even to read it; a folder where it cannot is named.
func TestOpenReadOnlyFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "syncer.db")
	if err := open(t, path, true).Close(); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })

	for _, create := range []bool{false, true} {
		st, err := state.Open(context.Background(), path, create)
		if err == nil {
			st.Close()
			t.Fatalf("Open(create=%v) in an immutable folder succeeded", create)
		}
		want := "state " + path + ": its folder " + dir + " is not writable (operation not permitted): " +
			"SQLite must create syncer.db-wal and syncer.db-shm there, even to read the state"
		if err.Error() != want {
			t.Errorf("Open(create=%v) = %q, want %q", create, err, want)
		}
	}
	// A new state there cannot be created either.
	missing := filepath.Join(dir, "new.db")
	if _, err := state.Open(context.Background(), missing, true); err == nil ||
		err.Error() != "create state "+missing+": open "+missing+": operation not permitted" {
		t.Errorf("Open(new state in an immutable folder) = %v", err)
	}
	if out, err := exec.Command("chattr", "-i", dir).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v: %s", err, out)
	}
	assertUntouched(t, dir, before)
}
