package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"syncer/state"
)

// TestMain lets the test binary double as the commands the scripts run:
// testscript copies it onto PATH under each name below, and each run of
// one of those names is a real child process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"syncer":          func() { os.Exit(runChecked(os.Args[1:])) },
		"syncer-holdlock": holdLockMain,
	})
}

// TestScripts runs the CLI scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                "testdata/script",
		RequireUniqueNames: true,
		Setup: func(env *testscript.Env) error {
			// Info logs (worker choice, listings) are not what the
			// scripts assert on; warnings and errors still show.
			env.Setenv("SYNCER_LOG", "warn")
			env.Setenv("SYNCER_LOG_FORMAT", "")
			env.Setenv("SYNCER_CONFIG", "")
			schema, err := filepath.Abs("docs/json-output.schema.json")
			env.Setenv(schemaEnv, schema)
			return err
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
			"mkfiles":  cmdMkfiles,
			"cmpdir":   cmdCmpdir,
			"chtime":   cmdChtime,
			"filemode": cmdFilemode,
			"inode":    cmdInode,
			"waitfile": cmdWaitfile,
			"readenv":  cmdReadenv,
			"report":   cmdReport,
		},
	})
}

// exitcode N PROG [ARGS...] runs PROG (a registered command such as syncer,
// or any program on PATH) and checks that it exits with status N. Its
// stdout and stderr are kept for later stdout/stderr assertions.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: exitcode N PROG [ARGS...] (cannot be negated; choose N)")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: bad exit status %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// mkfiles DIR N SIZE writes N files DIR/f0000.bin... of SIZE bytes each.
// The contents are a deterministic function of the file's index and byte
// offset, so two runs make identical trees and no two files are equal.
func cmdMkfiles(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: mkfiles DIR N SIZE")
	}
	dir := ts.MkAbs(args[0])
	n, err1 := strconv.Atoi(args[1])
	size, err2 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil || n < 0 || size < 0 {
		ts.Fatalf("mkfiles: N and SIZE must be whole numbers")
	}
	ts.Check(os.MkdirAll(dir, 0o755))
	buf := make([]byte, size)
	for i := range n {
		x := uint32(i)*2654435761 + 1
		for j := range buf {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			buf[j] = byte(x)
		}
		ts.Check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.bin", i)), buf, 0o644))
	}
}

// cmpdir A B checks that trees A and B hold the same regular files with
// the same bytes, and that neither holds a leftover temporary file
// (.syncer-tmp-*). Folders themselves are not compared: syncer syncs
// objects, not folders. With !, the trees must differ.
func cmdCmpdir(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmpdir A B")
	}
	a, b := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	fa, ta := treeFiles(ts, a)
	fb, tb := treeFiles(ts, b)
	// Temporary files are a failure either way.
	if len(ta)+len(tb) > 0 {
		ts.Fatalf("leftover temporary files: %q in %s, %q in %s", ta, args[0], tb, args[1])
	}
	var diffs []string
	for _, k := range fa {
		if _, ok := slices.BinarySearch(fb, k); !ok {
			diffs = append(diffs, fmt.Sprintf("only in %s: %q", args[0], k))
		}
	}
	for _, k := range fb {
		if _, ok := slices.BinarySearch(fa, k); !ok {
			diffs = append(diffs, fmt.Sprintf("only in %s: %q", args[1], k))
		}
	}
	for _, k := range fa {
		if _, ok := slices.BinarySearch(fb, k); !ok {
			continue
		}
		da, err := os.ReadFile(filepath.Join(a, k))
		ts.Check(err)
		db, err := os.ReadFile(filepath.Join(b, k))
		ts.Check(err)
		if !bytes.Equal(da, db) {
			diffs = append(diffs, fmt.Sprintf("%q differs (%d bytes vs %d bytes)", k, len(da), len(db)))
		}
	}
	switch {
	case neg && len(diffs) == 0:
		ts.Fatalf("%s and %s are identical (%d files)", args[0], args[1], len(fa))
	case !neg && len(diffs) > 0:
		ts.Fatalf("%s and %s differ:\n  %s", args[0], args[1], strings.Join(diffs, "\n  "))
	}
	for _, d := range diffs {
		ts.Logf("%s", d)
	}
}

// treeFiles returns the sorted slash paths of the regular files under root,
// and separately those of any syncer temporary files. Symlinks and other
// special files are reported as failures: the scripts never make them.
func treeFiles(ts *testscript.TestScript, root string) (files, temps []string) {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(d.Name(), ".syncer-tmp-") {
			temps = append(temps, rel)
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file (%s)", rel, d.Type())
		}
		files = append(files, rel)
		return nil
	})
	ts.Check(err)
	slices.Sort(files)
	return files, temps
}

// chtime FILE UNIXSECONDS sets FILE's access and modification times.
func cmdChtime(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: chtime FILE UNIXSECONDS")
	}
	sec, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		ts.Fatalf("chtime: bad time %q", args[1])
	}
	t := time.Unix(sec, 0)
	ts.Check(os.Chtimes(ts.MkAbs(args[0]), t, t))
}

// filemode FILE MODE checks that FILE's permission bits are MODE (octal).
func cmdFilemode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: filemode FILE MODE")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil {
		ts.Fatalf("filemode: bad mode %q", args[1])
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := fi.Mode().Perm()
	if (got == fs.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %#o; want %s%#o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// inode FILE OUT writes FILE's inode number to OUT: a file rewritten
// through a temporary name gets a new one.
func cmdInode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: inode FILE OUT")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		ts.Fatalf("inode: no inode numbers here")
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strconv.FormatUint(st.Ino, 10)), 0o644))
}

// waitfile FILE [TIMEOUT] waits until FILE exists (default 10s).
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waitfile FILE [TIMEOUT]")
	}
	timeout := 10 * time.Second
	if len(args) == 2 {
		d, err := time.ParseDuration(args[1])
		if err != nil {
			ts.Fatalf("waitfile: bad timeout %q", args[1])
		}
		timeout = d
	}
	p := ts.MkAbs(args[0])
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(p); err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear within %s", args[0], timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readenv VAR FILE sets the environment variable VAR to FILE's contents,
// without surrounding white space.
func cmdReadenv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: readenv VAR FILE")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}

// holdLockMain is the command "syncer-holdlock STATE DURATION READY
// RELEASED": it opens (creating) the state, takes its lock for "apply",
// writes "pid PID on host HOST" to READY, holds the lock for DURATION,
// releases it and then creates RELEASED. Run it in the background.
func holdLockMain() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: syncer-holdlock STATE DURATION READY RELEASED")
		os.Exit(2)
	}
	d, err := time.ParseDuration(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncer-holdlock:", err)
		os.Exit(2)
	}
	if err := holdLock(os.Args[1], d, os.Args[3], os.Args[4]); err != nil {
		fmt.Fprintln(os.Stderr, "syncer-holdlock:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func holdLock(path string, d time.Duration, ready, released string) error {
	ctx := context.Background()
	st, err := state.Open(ctx, path, true)
	if err != nil {
		return err
	}
	defer st.Close()
	unlock, err := st.Lock(ctx, "apply", "holdlock", 0)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	// Written under another name and renamed, so that a waiter never
	// reads a partial file.
	tmp := ready + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "pid %d on host %s\n", os.Getpid(), host), 0o644); err != nil {
		unlock()
		return err
	}
	if err := os.Rename(tmp, ready); err != nil {
		unlock()
		return err
	}
	time.Sleep(d)
	unlock()
	return os.WriteFile(released, nil, 0o644)
}
