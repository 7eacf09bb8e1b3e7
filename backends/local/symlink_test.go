package local_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/local"
)

// The local backend never follows a symlink in a folder on a key's path
// below the root: a symlink planted in a destination must not let syncer
// write, create folders or delete outside the root. Each test runs with
// unnamed and named temporary files, and with folders opened by openat2 and
// one at a time (on Linux; elsewhere both are the Lstat walk).

type symlinkCase struct {
	named, noOpenat2 bool
}

func (c symlinkCase) String() string {
	s := "unnamed"
	if c.named {
		s = "named"
	}
	if c.noOpenat2 {
		s += "-walk"
	}
	return s
}

func forSymlinkCases(t *testing.T, fn func(t *testing.T, c symlinkCase)) {
	for _, c := range []symlinkCase{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run(c.String(), func(t *testing.T) { fn(t, c) })
	}
}

func (c symlinkCase) newLocal(t *testing.T, opts local.Options) *local.Backend {
	t.Helper()
	b := newLocal(t, opts)
	if c.named {
		local.UseNamedTemps(b)
	}
	if c.noOpenat2 {
		local.NoOpenat2(b)
	}
	return b
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// assertTree fails unless dir holds exactly want (see tree).
func assertTree(t *testing.T, what, dir string, want ...string) {
	t.Helper()
	if got := tree(t, dir); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s holds %q; want %q", what, got, want)
	}
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("%s = %q, %v; want %q", path, got, err, want)
	}
}

// assertLink fails unless path is still a symlink to target.
func assertLink(t *testing.T, path, target string) {
	t.Helper()
	if got, err := os.Readlink(path); err != nil || got != target {
		t.Errorf("symlink %s = %q, %v; want it kept, to %q", path, got, err, target)
	}
}

// The audit's case: dst/docs -> ../elsewhere, which holds report.txt.
func TestPutThroughSymlinkedFolder(t *testing.T) {
	forSymlinkCases(t, func(t *testing.T, c symlinkCase) {
		parent := t.TempDir()
		root, outside := filepath.Join(parent, "dst"), filepath.Join(parent, "elsewhere")
		writeFile(t, filepath.Join(outside, "report.txt"), "PRECIOUS")
		writeFile(t, filepath.Join(outside, "sub", "kept"), "kept")
		symlink(t, "../elsewhere", filepath.Join(root, "docs"))
		writeFile(t, filepath.Join(root, "real", "f"), "f")
		symlink(t, outside, filepath.Join(root, "real", "deep", "link")) // absolute, deeper
		b := c.newLocal(t, local.Options{Name: "dst", Path: root})

		for _, k := range []struct{ key, folder string }{
			{"docs/report.txt", "docs"},       // overwrite a file outside
			{"docs/new.txt", "docs"},          // create a file outside
			{"docs/sub/kept", "docs"},         // through an existing folder outside
			{"docs/sub/new/deeper/x", "docs"}, // make folders outside
			{"docs/missing/x", "docs"},        // make a folder outside
			{"real/deep/link/report.txt", "real/deep/link"},
			{"real/deep/link/more/report.txt", "real/deep/link"},
		} {
			_, err := b.Put(t.Context(), k.key, strings.NewReader("new"), backends.Object{Size: 3})
			want := `put local "dst" (` + root + `): key "` + k.key + `": folder "` + k.folder + `" is a symlink; syncer does not write through symlinks`
			if err == nil || err.Error() != want {
				t.Errorf("Put(%q) = %v; want %s", k.key, err, want)
			}
			if errors.Is(err, backends.ErrNotFound) {
				t.Errorf("Put(%q): the error wraps ErrNotFound", k.key)
			}
		}
		assertFile(t, filepath.Join(outside, "report.txt"), "PRECIOUS")
		assertTree(t, "the outside folder", outside, "report.txt", "sub/", "sub/kept")
		assertTree(t, "the root", root, "docs", "real/", "real/deep/", "real/deep/link", "real/f")
		assertLink(t, filepath.Join(root, "docs"), "../elsewhere")
		assertLink(t, filepath.Join(root, "real", "deep", "link"), outside)

		// A real folder beside the link still takes writes.
		backendtest.PutBytes(t, b, "real/deep/ok", []byte("ok"))
		assertFile(t, filepath.Join(root, "real", "deep", "ok"), "ok")
	})
}

func TestCopyOnHostThroughSymlinkedFolder(t *testing.T) {
	forSymlinkCases(t, func(t *testing.T, c symlinkCase) {
		parent := t.TempDir()
		root, outside := filepath.Join(parent, "dst"), filepath.Join(parent, "elsewhere")
		writeFile(t, filepath.Join(outside, "report.txt"), "PRECIOUS")
		symlink(t, "../elsewhere", filepath.Join(root, "docs"))
		src := c.newLocal(t, local.Options{Name: "src"})
		dst := c.newLocal(t, local.Options{Name: "dst", Path: root})
		backendtest.PutBytes(t, src, "docs/report.txt", []byte("new"))

		for _, key := range []string{"docs/report.txt", "docs/a/b/report.txt"} {
			_, err := dst.CopyOnHost(t.Context(), src, "docs/report.txt", key, backends.Object{Size: 3}, nil)
			want := `key "` + key + `": folder "docs" is a symlink; syncer does not write through symlinks`
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), dst.String()) {
				t.Errorf("CopyOnHost to %q = %v; want an error with %s", key, err, want)
			}
		}
		assertFile(t, filepath.Join(outside, "report.txt"), "PRECIOUS")
		assertTree(t, "the outside folder", outside, "report.txt")
		assertTree(t, "the destination", root, "docs")

		// Nor does it read a source file through a symlinked folder.
		symlink(t, outside, filepath.Join(src.Root(), "in"))
		_, err := dst.CopyOnHost(t.Context(), src, "in/report.txt", "out/report.txt", backends.Object{Size: 8}, nil)
		if !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("CopyOnHost from a symlinked source folder = %v; want ErrNotFound", err)
		}
		assertTree(t, "the destination", root, "docs")
	})
}

// Delete of a key below a symlinked folder removes nothing, reports nothing
// to delete (the key reads as missing) and logs why.
func TestDeleteThroughSymlinkedFolder(t *testing.T) {
	forSymlinkCases(t, func(t *testing.T, c symlinkCase) {
		parent := t.TempDir()
		root, outside := filepath.Join(parent, "dst"), filepath.Join(parent, "elsewhere")
		var logs bytes.Buffer
		b := c.newLocal(t, local.Options{Name: "dst", Path: root, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		// An apply made docs/report.txt; then docs became a symlink to a
		// folder that holds a report.txt too.
		backendtest.PutBytes(t, b, "docs/report.txt", []byte("new"))
		if err := os.RemoveAll(filepath.Join(root, "docs")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(outside, "report.txt"), "PRECIOUS")
		writeFile(t, filepath.Join(outside, "deep", "only"), "only") // its folder would be pruned
		symlink(t, "../elsewhere", filepath.Join(root, "docs"))
		symlink(t, outside, filepath.Join(root, "a", "b", "link"))

		for _, key := range []string{"docs/report.txt", "docs/deep/only", "docs/missing", "a/b/link/report.txt", "a/b/link/deep/only"} {
			if err := b.Delete(t.Context(), key); err != nil {
				t.Errorf("Delete(%q) = %v", key, err)
			}
		}
		// The links themselves are not objects: left alone too.
		for _, key := range []string{"docs", "a/b/link"} {
			if err := b.Delete(t.Context(), key); err != nil {
				t.Errorf("Delete(%q) = %v", key, err)
			}
		}
		assertFile(t, filepath.Join(outside, "report.txt"), "PRECIOUS")
		assertTree(t, "the outside folder", outside, "deep/", "deep/only", "report.txt")
		assertTree(t, "the root", root, "a/", "a/b/", "a/b/link", "docs")
		assertLink(t, filepath.Join(root, "docs"), "../elsewhere")
		assertLink(t, filepath.Join(root, "a", "b", "link"), outside)
		want := `level=WARN msg="not deleting through a symlinked folder (symlinks are not followed)" backend="local \"dst\" (` + root + `)" key=docs/report.txt symlink=docs`
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	})
}

// Pruning the folders a Delete leaves empty stops at a symlink: it never
// removes one, nor anything it points to, even an empty folder.
func TestDeletePruneStopsAtSymlinks(t *testing.T) {
	forSymlinkCases(t, func(t *testing.T, c symlinkCase) {
		parent := t.TempDir()
		root, outside := filepath.Join(parent, "dst"), filepath.Join(parent, "elsewhere")
		if err := os.MkdirAll(filepath.Join(outside, "empty"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(outside, "linked", "sub", "f"), "f") // sub would be pruned
		b := c.newLocal(t, local.Options{Name: "dst", Path: root})
		backendtest.PutBytes(t, b, "a/b/f", []byte("f"))
		backendtest.PutBytes(t, b, "x/y/f", []byte("f"))
		// a holds, besides b, only a link to an empty folder outside.
		symlink(t, filepath.Join(outside, "empty"), filepath.Join(root, "a", "link"))
		// x/y/z is a link: Deletes below it must neither delete nor prune.
		symlink(t, filepath.Join(outside, "linked"), filepath.Join(root, "x", "y", "z"))
		for _, key := range []string{"a/b/f", "x/y/z/sub/f", "x/y/z/f", "x/y/z/g/h"} {
			if err := b.Delete(t.Context(), key); err != nil {
				t.Fatalf("Delete(%q) = %v", key, err)
			}
		}
		// a/b went; a stays for the link, which stays.
		assertTree(t, "the root", root, "a/", "a/link", "x/", "x/y/", "x/y/f", "x/y/z")
		assertTree(t, "the outside folder", outside, "empty/", "linked/", "linked/sub/", "linked/sub/f")
		// With the file gone, x/y holds only the link: pruning stops there.
		if err := b.Delete(t.Context(), "x/y/f"); err != nil {
			t.Fatal(err)
		}
		assertTree(t, "the root", root, "a/", "a/link", "x/", "x/y/", "x/y/z")
		assertTree(t, "the outside folder", outside, "empty/", "linked/", "linked/sub/", "linked/sub/f")
		assertLink(t, filepath.Join(root, "a", "link"), filepath.Join(outside, "empty"))
		assertLink(t, filepath.Join(root, "x", "y", "z"), filepath.Join(outside, "linked"))
	})
}

func TestReadThroughSymlinkedFolder(t *testing.T) {
	forSymlinkCases(t, func(t *testing.T, c symlinkCase) {
		parent := t.TempDir()
		root, outside := filepath.Join(parent, "dst"), filepath.Join(parent, "elsewhere")
		writeFile(t, filepath.Join(outside, "report.txt"), "PRECIOUS")
		writeFile(t, filepath.Join(outside, "sub", "f"), "f")
		symlink(t, "../elsewhere", filepath.Join(root, "docs"))
		symlink(t, outside, filepath.Join(root, "a", "b"))
		writeFile(t, filepath.Join(root, "a", "real"), "real")
		b := c.newLocal(t, local.Options{Path: root})
		for _, key := range []string{"docs/report.txt", "docs/sub/f", "a/b/report.txt", "a/b/sub/f"} {
			backendtest.AssertNotFound(t, b, key) // Stat and Open
			if _, err := b.Hash(t.Context(), key, backends.MD5); !errors.Is(err, backends.ErrNotFound) {
				t.Errorf("Hash(%q) = %v; want ErrNotFound", key, err)
			}
		}
		for prefix, want := range map[string]string{"": "a/real", "docs/": "", "a/b/": "", "a/b/s": "", "docs/sub/": ""} {
			if got := backendtest.Keys(backendtest.ListAll(t, b, prefix)); strings.Join(got, ",") != want {
				t.Errorf("List(%q) = %q; want %q", prefix, got, want)
			}
		}
		if got := backendtest.ReadAll(t, b, "a/real"); string(got) != "real" {
			t.Errorf("a/real = %q", got)
		}
	})
}

// The root itself may be a symlink (a mount point users link to), or lie
// under one: that one is followed.
func TestSymlinkedRoot(t *testing.T) {
	forSymlinkCases(t, func(t *testing.T, c symlinkCase) {
		parent := t.TempDir()
		real := filepath.Join(parent, "real")
		if err := os.Mkdir(real, 0o755); err != nil {
			t.Fatal(err)
		}
		symlink(t, "real", filepath.Join(parent, "link"))
		for _, root := range []string{
			filepath.Join(parent, "link"),                // the root is a symlink
			filepath.Join(parent, "link", "under"),       // its parent is
			filepath.Join(parent, "link", "new", "root"), // missing, made by Put
		} {
			b := c.newLocal(t, local.Options{Path: root})
			data := []byte("data of " + root)
			backendtest.PutBytes(t, b, "a/b/c.txt", data)
			backendtest.PutBytes(t, b, "top.txt", data)
			backendtest.PutBytes(t, b, "top.txt", data) // replaces
			if got := backendtest.Keys(backendtest.ListAll(t, b, "")); strings.Join(got, ",") != "a/b/c.txt,top.txt" {
				t.Errorf("%s: List = %q", root, got)
			}
			if got := backendtest.Keys(backendtest.ListAll(t, b, "a/b/")); strings.Join(got, ",") != "a/b/c.txt" {
				t.Errorf("%s: List(a/b/) = %q", root, got)
			}
			if got := backendtest.ReadAll(t, b, "a/b/c.txt"); !bytes.Equal(got, data) {
				t.Errorf("%s: a/b/c.txt = %q", root, got)
			}
			if _, err := b.Hash(t.Context(), "a/b/c.txt", backends.SHA256); err != nil {
				t.Errorf("%s: Hash: %v", root, err)
			}
			if err := b.CheckRoot(t.Context(), ""); err != nil {
				t.Errorf("%s: CheckRoot: %v", root, err)
			}
			for _, k := range []string{"a/b/c.txt", "top.txt"} {
				if err := b.Delete(t.Context(), k); err != nil {
					t.Fatalf("%s: Delete(%q): %v", root, k, err)
				}
			}
			backendtest.AssertEmpty(t, b)
			if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
				t.Errorf("%s: root gone after Delete: %v", root, err)
			}
			assertTree(t, "the root", root) // a/b and a pruned
			if n, err := b.CleanTemp(t.Context(), 0); n != 0 || err != nil {
				t.Errorf("%s: CleanTemp = %d, %v", root, n, err)
			}
		}
		assertLink(t, filepath.Join(parent, "link"), "real")
		assertTree(t, "the real folder", real, "new/", "new/root/", "under/")
	})
}

func TestConformanceSymlinkedRoot(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		parent := t.TempDir()
		if err := os.Mkdir(filepath.Join(parent, "real"), 0o755); err != nil {
			t.Fatal(err)
		}
		symlink(t, "real", filepath.Join(parent, "root"))
		return newLocal(t, local.Options{Path: filepath.Join(parent, "root")})
	})
}

func TestConformanceNoOpenat2(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		b := newLocal(t, local.Options{})
		local.NoOpenat2(b)
		return b
	})
}

// TestPutFolderSwappedInFlight: a Put holds its folder open, so a folder
// moved away and replaced by a symlink while the file is written does not
// redirect the file outside; it lands in the folder it was written in.
// (Outside Linux the folders are checked by path, and this window stays.)
func TestPutFolderSwappedInFlight(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("folders are held open on Linux only")
	}
	forSymlinkCases(t, func(t *testing.T, c symlinkCase) {
		parent := t.TempDir()
		root, outside := filepath.Join(parent, "dst"), filepath.Join(parent, "elsewhere")
		writeFile(t, filepath.Join(outside, "report.txt"), "PRECIOUS")
		b := c.newLocal(t, local.Options{Name: "dst", Path: root})
		backendtest.PutBytes(t, b, "docs/report.txt", []byte("old")) // settles the mode
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := b.Put(t.Context(), "docs/report.txt", pr, backends.Object{Size: 6})
			done <- err
		}()
		if _, err := pw.Write([]byte("new")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(root, "docs"), filepath.Join(root, "moved")); err != nil {
			t.Fatal(err)
		}
		symlink(t, "../elsewhere", filepath.Join(root, "docs"))
		pw.Write([]byte("!!!"))
		pw.Close()
		if err := <-done; err != nil {
			t.Fatalf("Put: %v", err)
		}
		assertFile(t, filepath.Join(outside, "report.txt"), "PRECIOUS")
		assertTree(t, "the outside folder", outside, "report.txt")
		assertFile(t, filepath.Join(root, "moved", "report.txt"), "new!!!")
		assertTree(t, "the root", root, "docs", "moved/", "moved/report.txt")
	})
}
