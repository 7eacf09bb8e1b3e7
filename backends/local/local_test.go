package local_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/local"
)

func newLocal(t *testing.T, opts local.Options) *local.Backend {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "t"
	}
	if opts.Path == "" {
		opts.Path = t.TempDir()
	}
	b, err := local.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return newLocal(t, local.Options{})
	})
}

func TestConformanceNamedTemps(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		b := newLocal(t, local.Options{})
		local.UseNamedTemps(b)
		return b
	})
}

// TestPutInFlight looks at the folder while a Put is half written: with
// unnamed files nothing shows at all, with temporary names only the
// temporary file; never the key.
func TestPutInFlight(t *testing.T) {
	for _, named := range []bool{false, true} {
		root := t.TempDir()
		b := newLocal(t, local.Options{Path: root})
		if named {
			local.UseNamedTemps(b)
		}
		backendtest.PutBytes(t, b, "d/old", []byte("old"))
		for _, key := range []string{"d/new", "d/old"} {
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				_, err := b.Put(t.Context(), key, pr, backends.Object{Size: 8})
				done <- err
			}()
			if _, err := pw.Write([]byte("half")); err != nil {
				t.Fatal(err)
			}
			// The Put has taken the first half: look now.
			entries, err := os.ReadDir(filepath.Join(root, "d"))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			want := "old"
			if named {
				if len(names) != 2 || !strings.HasPrefix(names[0], local.TempPrefix) || names[1] != "old" {
					t.Errorf("named, Put(%q) in flight: folder holds %q", key, names)
				}
			} else if strings.Join(names, ",") != want {
				t.Errorf("unnamed, Put(%q) in flight: folder holds %q; want %q", key, names, want)
			}
			if got, _ := os.ReadFile(filepath.Join(root, "d", "old")); string(got) != "old" {
				t.Errorf("Put(%q) in flight: old = %q", key, got)
			}
			pw.Write([]byte(" don"))
			pw.Close()
			if err := <-done; err != nil {
				t.Fatalf("Put(%q): %v", key, err)
			}
			if got := backendtest.ReadAll(t, b, key); string(got) != "half don" {
				t.Errorf("%q = %q", key, got)
			}
			backendtest.PutBytes(t, b, "d/old", []byte("old"))
			if err := b.Delete(t.Context(), "d/new"); err != nil {
				t.Fatal(err)
			}
		}
		if left := tempFiles(t, root); len(left) != 0 {
			t.Errorf("temporary files left: %q", left)
		}
		if got := local.WritesUnnamed(b); got == named {
			t.Errorf("named=%v: WritesUnnamed = %v", named, got)
		}
	}
}

func TestConformanceMissingRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return newLocal(t, local.Options{Path: filepath.Join(t.TempDir(), "not", "yet")})
	})
}

// tempFiles returns the temporary files under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), local.TempPrefix) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return found
}

// tree returns the slash paths of everything under dir (folders end in "/").
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		found = append(found, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	b, err := local.New(local.Options{Name: "src", Path: dir + "/x/../y/"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), `local "src" (`+filepath.Join(dir, "y")+`)`; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	if p := backends.ModTimePrecision(b); p != time.Nanosecond {
		t.Errorf("precision = %v", p)
	}
	writeFile(t, filepath.Join(dir, "file"), "x")
	for _, p := range []string{"", "relative/path", filepath.Join(dir, "file")} {
		if _, err := local.New(local.Options{Name: "bad", Path: p}); err == nil {
			t.Errorf("New(%q): no error", p)
		}
	}
}

func TestMissingRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "b")
	b := newLocal(t, local.Options{Path: root})
	backendtest.AssertEmpty(t, b)
	if n, err := b.CleanTemp(t.Context(), 0); n != 0 || err != nil {
		t.Errorf("CleanTemp = %d, %v", n, err)
	}
	backendtest.AssertNotFound(t, b, "k")
	if err := b.Delete(t.Context(), "k"); err != nil {
		t.Errorf("Delete: %v", err)
	}
	backendtest.PutBytes(t, b, "k", []byte("v"))
	if got, _ := os.ReadFile(filepath.Join(root, "k")); string(got) != "v" {
		t.Errorf("file = %q", got)
	}
	// Deleting the last object keeps the root.
	if err := b.Delete(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Errorf("root gone after Delete: %v", err)
	}
}

func TestTempFiles(t *testing.T) {
	root := t.TempDir()
	b := newLocal(t, local.Options{Path: root})
	backendtest.PutBytes(t, b, "dir/real", []byte("real"))
	leftovers := []string{
		local.TempPrefix + "0123456789abcdef-real",
		"dir/" + local.TempPrefix + "x-y",
		"deep/er/" + local.TempPrefix,
	}
	for _, k := range leftovers {
		writeFile(t, filepath.Join(root, k), "partial")
	}
	writeFile(t, filepath.Join(root, ".syncer-tmpx"), "not a temp file")
	// A folder with the prefix is a folder like any other.
	writeFile(t, filepath.Join(root, local.TempPrefix+"dir", "f"), "f")

	want := []string{".syncer-tmp-dir/f", ".syncer-tmpx", "dir/real"}
	if got := backendtest.Keys(backendtest.ListAll(t, b, "")); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("List = %q; want %q", got, want)
	}
	if got := backendtest.ListAll(t, b, local.TempPrefix); len(got) != 1 {
		t.Errorf("List(%q) = %q", local.TempPrefix, backendtest.Keys(got))
	}
	for _, k := range leftovers {
		if _, err := b.Stat(t.Context(), k); err == nil {
			t.Errorf("Stat(%q) of a reserved name: no error", k)
		}
		if _, err := b.Put(t.Context(), k, strings.NewReader("x"), backends.Object{Size: 1}); err == nil {
			t.Errorf("Put(%q) of a reserved name: no error", k)
		}
	}

	if n, err := b.CleanTemp(t.Context(), time.Hour); n != 0 || err != nil {
		t.Errorf("CleanTemp(1h) of fresh files = %d, %v; want 0", n, err)
	}
	if n, err := b.CleanTemp(t.Context(), 0); n != len(leftovers) || err != nil {
		t.Errorf("CleanTemp(0) = %d, %v; want %d", n, err, len(leftovers))
	}
	if left := tempFiles(t, root); len(left) != 1 || !strings.HasSuffix(left[0], local.TempPrefix+"dir") {
		t.Errorf("after CleanTemp: %q", left)
	}
	if got := backendtest.Keys(backendtest.ListAll(t, b, "")); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("List after CleanTemp = %q; want %q", got, want)
	}
}

func TestFailedPutLeavesNothing(t *testing.T) {
	t.Run("unnamed", func(t *testing.T) { testFailedPut(t, false) })
	t.Run("named", func(t *testing.T) { testFailedPut(t, true) })
}

func testFailedPut(t *testing.T, named bool) {
	root := t.TempDir()
	b := newLocal(t, local.Options{Path: root})
	if named {
		local.UseNamedTemps(b)
	}
	backendtest.PutBytes(t, b, "existing", []byte("old"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		r    func() *backendtest.FailingReader
		size int64
	}{
		{"failing", t.Context(), func() *backendtest.FailingReader { return &backendtest.FailingReader{N: 300 << 10} }, -1},
		{"short", t.Context(), func() *backendtest.FailingReader {
			return &backendtest.FailingReader{R: strings.NewReader("abc"), N: 10}
		}, 4},
		{"cancelled", ctx, func() *backendtest.FailingReader {
			return &backendtest.FailingReader{N: 1 << 20}
		}, 1 << 20},
	} {
		if c.name == "cancelled" {
			cancel()
		}
		for _, key := range []string{"existing", "new/deep/key"} {
			_, err := b.Put(c.ctx, key, c.r(), backends.Object{Size: c.size})
			if err == nil {
				t.Fatalf("%s: Put(%q) succeeded", c.name, key)
			}
			if msg := err.Error(); !strings.Contains(msg, b.String()) || !strings.Contains(msg, key) {
				t.Errorf("%s: error %q does not name the backend and key", c.name, msg)
			}
			if left := tempFiles(t, root); len(left) != 0 {
				t.Errorf("%s: temporary files left: %q", c.name, left)
			}
		}
	}
	// Folders made for the failed Put are gone again.
	if got := tree(t, root); len(got) != 1 || got[0] != "existing" {
		t.Errorf("root holds %q; want [existing]", got)
	}
	if got := backendtest.ReadAll(t, b, "existing"); string(got) != "old" {
		t.Errorf("existing = %q", got)
	}
}

func TestFsync(t *testing.T) {
	t.Run("unnamed", func(t *testing.T) { testFsync(t, false) })
	t.Run("named", func(t *testing.T) { testFsync(t, true) })
}

func testFsync(t *testing.T, named bool) {
	root := t.TempDir()
	b := newLocal(t, local.Options{Path: root, Fsync: true})
	if named {
		local.UseNamedTemps(b)
	}
	mt := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	for i, data := range []string{"first", "second, longer", ""} {
		obj, err := b.Put(t.Context(), "a/b/k", strings.NewReader(data), backends.Object{Size: int64(len(data)), ModTime: mt})
		if err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
		if obj.Size != int64(len(data)) || !obj.ModTime.Equal(mt) {
			t.Errorf("Put %d = %+v", i, obj)
		}
		if got := backendtest.ReadAll(t, b, "a/b/k"); string(got) != data {
			t.Errorf("read %d = %q", i, got)
		}
	}
	_, err := b.Put(t.Context(), "a/c", &backendtest.FailingReader{N: 10}, backends.Object{Size: -1})
	if err == nil {
		t.Error("failing Put succeeded")
	}
	if left := tempFiles(t, root); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

func TestHash(t *testing.T) {
	b := newLocal(t, local.Options{})
	backendtest.PutBytes(t, b, "h", []byte("hello"))
	for ht, want := range map[backends.HashType]string{
		backends.MD5:    "5d41402abc4b2a76b9719d911017c592",
		backends.SHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
	} {
		got, err := b.Hash(t.Context(), "h", ht)
		if err != nil || got != want {
			t.Errorf("Hash(%s) = %q, %v; want %q", ht, got, err, want)
		}
	}
	// Larger than one copy buffer.
	const size = 1<<20 + 17
	if _, err := b.Put(t.Context(), "big", backendtest.RandomReader(1, size), backends.Object{Size: size}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Hash(t.Context(), "big", backends.SHA256); err != nil || got != backendtest.RandomSHA256(1, size) {
		t.Errorf("Hash(big) = %q, %v", got, err)
	}
	if _, err := b.Hash(t.Context(), "h", "crc32"); err == nil {
		t.Error("Hash(crc32): no error")
	}
	if _, err := b.Hash(t.Context(), "missing", backends.MD5); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Hash(missing) = %v; want ErrNotFound", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Hash(ctx, "big", backends.MD5); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with a cancelled context = %v", err)
	}
}

func TestParentIsFile(t *testing.T) {
	root := t.TempDir()
	b := newLocal(t, local.Options{Path: root})
	backendtest.PutBytes(t, b, "a/file", []byte("x"))
	_, err := b.Put(t.Context(), "a/file/b/c", strings.NewReader("y"), backends.Object{Size: 1})
	if err == nil || !strings.Contains(err.Error(), `"a/file" is a file, not a folder`) || !strings.Contains(err.Error(), `"a/file/b/c"`) {
		t.Errorf("Put under a file = %v; want an error naming a/file", err)
	}
	backendtest.AssertNotFound(t, b, "a/file/b")
	if err := b.Delete(t.Context(), "a/file/b"); err != nil {
		t.Errorf("Delete under a file = %v", err)
	}

	backendtest.PutBytes(t, b, "d/x", []byte("x"))
	_, err = b.Put(t.Context(), "d", strings.NewReader("y"), backends.Object{Size: 1})
	if err == nil || !strings.Contains(err.Error(), "is a folder") || !strings.Contains(err.Error(), `"d"`) {
		t.Errorf("Put onto a folder = %v; want an error saying it is a folder", err)
	}
	if left := tempFiles(t, root); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	if got := backendtest.Keys(backendtest.ListAll(t, b, "")); strings.Join(got, ",") != "a/file,d/x" {
		t.Errorf("List = %q", got)
	}
}

func TestSymlinksSkipped(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret"), "secret")
	writeFile(t, filepath.Join(root, "real.txt"), "real")
	writeFile(t, filepath.Join(root, "dir", "f"), "f")
	for link, target := range map[string]string{
		"link.txt":     "real.txt",
		"dirlink":      "dir",
		"outside":      outside,
		"dir/dangling": "nowhere",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "dir", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	b := newLocal(t, local.Options{Path: root, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for prefix, want := range map[string]string{
		"": "dir/f,real.txt", "dir": "dir/f", "dirlink": "", "dirlink/": "", "outside/": "", "outside/s": "",
	} {
		if got := backendtest.Keys(backendtest.ListAll(t, b, prefix)); strings.Join(got, ",") != want {
			t.Errorf("List(%q) = %q; want %q", prefix, got, want)
		}
	}
	// A full listing names every entry it skipped, as rclone does.
	logs.Reset()
	backendtest.ListAll(t, b, "")
	for _, want := range []string{
		`msg="skipping a symlink (symlinks are not followed)" backend="local \"t\" (` + root + `)" key=link.txt`,
		`msg="skipping a symlink (symlinks are not followed)" backend="local \"t\" (` + root + `)" key=dirlink`,
		`msg="skipping a symlink (symlinks are not followed)" backend="local \"t\" (` + root + `)" key=outside`,
		`msg="skipping a symlink (symlinks are not followed)" backend="local \"t\" (` + root + `)" key=dir/dangling`,
		`msg="skipping a special file (not a regular file or folder)" backend="local \"t\" (` + root + `)" key=dir/fifo type=p---------`,
	} {
		if strings.Count(logs.String(), want) != 1 {
			t.Errorf("log lacks %s once:\n%s", want, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "\n"); n != 5 {
		t.Errorf("%d log lines, want 5:\n%s", n, logs.String())
	}
	for _, k := range []string{"link.txt", "dirlink", "outside", "dir/dangling"} {
		backendtest.AssertNotFound(t, b, k)
		if err := b.Delete(t.Context(), k); err != nil {
			t.Errorf("Delete(%q) = %v", k, err)
		}
		if _, err := os.Lstat(filepath.Join(root, k)); err != nil {
			t.Errorf("Delete(%q) removed the symlink: %v", k, err)
		}
	}
	// Put replaces the link itself, never writes through it.
	backendtest.PutBytes(t, b, "link.txt", []byte("new"))
	if got, _ := os.ReadFile(filepath.Join(root, "real.txt")); string(got) != "real" {
		t.Errorf("real.txt = %q after Put through link.txt", got)
	}
	if fi, err := os.Lstat(filepath.Join(root, "link.txt")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("link.txt after Put: %v, %v", fi, err)
	}
}

func TestDeletePrunes(t *testing.T) {
	root := t.TempDir()
	b := newLocal(t, local.Options{Path: root})
	backendtest.PutBytes(t, b, "a/b/c/f", []byte("f"))
	backendtest.PutBytes(t, b, "a/g", []byte("g"))
	if err := os.Mkdir(filepath.Join(root, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(t.Context(), "a/b/c/f"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tree(t, root), ","); got != "a/,a/g,keep/" {
		t.Errorf("after first Delete: %s", got)
	}
	if err := b.Delete(t.Context(), "a/g"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tree(t, root), ","); got != "keep/" {
		t.Errorf("after second Delete: %s", got)
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("root removed: %v", err)
	}
}

// Invalid keys never touch anything outside (or inside) the root.
func TestInvalidKeysStayInside(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	b := newLocal(t, local.Options{Path: root})
	writeFile(t, filepath.Join(parent, "x"), "victim")
	for _, k := range append(backendtest.InvalidKeys, "../x", "../root2/x") {
		if _, err := b.Put(t.Context(), k, strings.NewReader("evil"), backends.Object{Size: 4}); err == nil {
			t.Errorf("Put(%q): no error", k)
		}
		if err := b.Delete(t.Context(), k); err == nil {
			t.Errorf("Delete(%q): no error", k)
		}
	}
	if got := strings.Join(tree(t, parent), ","); got != "x" {
		t.Errorf("parent holds %s; want x", got)
	}
	for _, prefix := range []string{"/", "/etc", "../", "../x", "a//b", "a/../b", "./", "bad\xff"} {
		if err := b.List(t.Context(), prefix, func(backends.Object) error { return nil }); err == nil {
			t.Errorf("List(%q): no error", prefix)
		}
	}
}

func TestInvalidNamesSkipped(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "bad\xffname"), "x")
	writeFile(t, filepath.Join(root, "bad\xffdir", "f"), "x")
	writeFile(t, filepath.Join(root, "good"), "x")
	var logs bytes.Buffer
	b := newLocal(t, local.Options{Path: root, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if got := backendtest.Keys(backendtest.ListAll(t, b, "")); strings.Join(got, ",") != "good" {
		t.Errorf("List = %q; want [good]", got)
	}
	// Each skipped name is named in a warning (the folder once, not its files).
	for _, name := range []string{`bad\\xffname`, `bad\\xffdir`} {
		want := `level=WARN msg="skipping a file or folder whose name cannot be a key" backend="local \"t\" (` + root + `)" folder="" name="\"` + name + `\"" reason="invalid key \"` + name + `\": not valid UTF-8"`
		if strings.Count(logs.String(), want) != 1 {
			t.Errorf("log lacks %s once:\n%s", want, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "\n"); n != 2 {
		t.Errorf("%d log lines, want 2:\n%s", n, logs.String())
	}
}

func TestUnreadableFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any folder")
	}
	root := t.TempDir()
	sub := filepath.Join(root, "locked")
	writeFile(t, filepath.Join(sub, "f"), "x")
	if err := os.Chmod(sub, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(sub, 0o755) })
	b := newLocal(t, local.Options{Path: root})
	err := b.List(t.Context(), "", func(backends.Object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), sub) {
		t.Errorf("List over an unreadable folder = %v; want an error naming %s", err, sub)
	}
}

func TestLongNames(t *testing.T) {
	b := newLocal(t, local.Options{})
	for _, k := range []string{
		strings.Repeat("n", 255),
		"d/" + strings.Repeat("é", 127), // 254 bytes, cut mid-rune at 64
	} {
		data := []byte(k)
		backendtest.PutBytes(t, b, k, data)
		if got := backendtest.ReadAll(t, b, k); !bytes.Equal(got, data) {
			t.Errorf("%q round trip failed", k[:10])
		}
	}
}

func TestPutKeepsModTimeAndMode(t *testing.T) {
	root := t.TempDir()
	b := newLocal(t, local.Options{Path: root})
	mt := time.Date(2019, 5, 6, 7, 8, 9, 123456789, time.UTC)
	if _, err := b.Put(t.Context(), "k", strings.NewReader("x"), backends.Object{Size: 1, ModTime: mt}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "k"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mt) {
		t.Errorf("mtime = %v; want %v", fi.ModTime(), mt)
	}
	if perm := fi.Mode().Perm(); perm&^0o022 != 0o644&^0o022 {
		t.Errorf("mode = %v; want 0644 less umask", perm)
	}
}

// TestCopyOnHost copies between two local folders in the kernel: the bytes,
// the mtime and the progress reported match, and a failed copy leaves
// nothing at the key.
func TestCopyOnHost(t *testing.T) {
	src := newLocal(t, local.Options{})
	dst := newLocal(t, local.Options{})
	if !dst.CanCopyFrom(src) || dst.CanCopyFrom(backendtest.NewMem("m")) {
		t.Fatal("CanCopyFrom: want true for a local folder only")
	}
	data := backendtest.RandomBytes(9, 40<<20+3) // more than one chunk
	mt := time.Date(2021, 5, 6, 7, 8, 9, 10, time.UTC)
	if _, err := src.Put(t.Context(), "in/big.bin", bytes.NewReader(data), backends.Object{Size: int64(len(data)), ModTime: mt}); err != nil {
		t.Fatal(err)
	}
	var reported int64
	obj, err := dst.CopyOnHost(t.Context(), src, "in/big.bin", "out/big.bin", backends.Object{Size: int64(len(data)), ModTime: mt}, func(n int64) { reported += n })
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != int64(len(data)) || !obj.ModTime.Equal(mt) || reported != obj.Size {
		t.Errorf("CopyOnHost = %+v, progress %d; want size %d, mtime %v", obj, reported, len(data), mt)
	}
	if got := backendtest.ReadAll(t, dst, "out/big.bin"); !bytes.Equal(got, data) {
		t.Errorf("copied bytes differ (%d bytes read)", len(got))
	}

	// The source changed size since it was listed, is gone, or the run
	// stops.
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range []struct {
		name, key string
		ctx       context.Context
		size      int64
		want      string
	}{
		{"shorter", "in/big.bin", t.Context(), int64(len(data)) + 1, "source changed while being copied (its size went from"},
		{"longer", "in/big.bin", t.Context(), int64(len(data)) - 1, "source changed while being copied (its size went from"},
		{"missing", "in/none", t.Context(), 1, "not found"},
		{"cancelled", "in/big.bin", cancelled, int64(len(data)), "context canceled"},
	} {
		_, err := dst.CopyFrom(c.ctx, src, c.key, "out/"+c.name, backends.Object{Size: c.size})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: CopyFrom error %v; want %q", c.name, err, c.want)
		}
		backendtest.AssertNotFound(t, dst, "out/"+c.name)
	}
	if left := tempFiles(t, dst.Root()); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// TestFolderPrunedWhileWriting: while a file has no name yet its folder
// looks empty, and a Delete elsewhere may prune it; the Put makes the
// folder again and succeeds.
func TestFolderPrunedWhileWriting(t *testing.T) {
	root := t.TempDir()
	b := newLocal(t, local.Options{Path: root})
	backendtest.PutBytes(t, b, "first", []byte("1")) // settles the mode
	if !local.WritesUnnamed(b) {
		t.Fatal("this filesystem has no unnamed files; the test needs them")
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := b.Put(t.Context(), "a/b/k", pr, backends.Object{Size: 4})
		done <- err
	}()
	if _, err := pw.Write([]byte("da")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a/b", "a"} {
		if err := os.Remove(filepath.Join(root, d)); err != nil {
			t.Fatalf("removing the folder in flight: %v", err)
		}
	}
	pw.Write([]byte("ta"))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := backendtest.ReadAll(t, b, "a/b/k"); string(got) != "data" {
		t.Errorf("a/b/k = %q", got)
	}
}

// CheckRoot fails for a missing root, and for a missing (or symlinked, or
// file) folder that the prefix names; a prefix without "/" names none.
func TestCheckRoot(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "photos", "2024", "a.jpg"), "x")
	writeFile(t, filepath.Join(root, "notes.txt"), "x")
	if err := os.Symlink(filepath.Join(root, "photos"), filepath.Join(root, "linked")); err != nil {
		t.Fatal(err)
	}
	b := newLocal(t, local.Options{Path: root})
	for prefix, want := range map[string]string{
		"": "", "pho": "", "photos/": "", "photos/20": "", "photos/2024/": "",
		"Photos/":         `: prefix "Photos/": folder "Photos" does not exist (or is not a folder)`,
		"photos/2025/IMG": `: prefix "photos/2025/IMG": folder "photos/2025" does not exist (or is not a folder)`,
		"notes.txt/":      `: prefix "notes.txt/": folder "notes.txt" does not exist (or is not a folder)`,
		"linked/":         `: prefix "linked/": folder "linked" does not exist (or is not a folder)`,
	} {
		err := b.CheckRoot(t.Context(), prefix)
		if want == "" && err != nil || want != "" && (err == nil || err.Error() != b.String()+want) {
			t.Errorf("CheckRoot(prefix %q) = %v; want %q", prefix, err, want)
		}
	}
	gone := newLocal(t, local.Options{Path: filepath.Join(root, "gone")})
	if err := gone.CheckRoot(t.Context(), ""); err == nil || err.Error() != gone.String()+": the folder does not exist" {
		t.Errorf("CheckRoot of a missing root = %v", err)
	}
}
