package local_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/local"
)

// Folders are resolved once and their descriptors reused for a while (see
// dircache_linux.go). A folder that goes away under a cached descriptor,
// by syncer's own Delete or another program, never makes a Put fail or a
// file that exists read as missing, and nothing is written into the old,
// removed folder.
func TestCachedFoldersFollowRemovals(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	src := newLocal(t, local.Options{Path: filepath.Join(t.TempDir(), "src")})
	dst := newLocal(t, local.Options{Path: root})
	put := func(be *local.Backend, key, data string) backends.Object {
		t.Helper()
		o, err := be.Put(ctx, key, strings.NewReader(data), backends.Object{Size: int64(len(data)), ModTime: time.Unix(1_700_000_000, 0)})
		if err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		return o
	}
	read := func(be *local.Backend, key string) string {
		t.Helper()
		r, err := be.Open(ctx, key, 0, -1)
		if err != nil {
			t.Fatalf("open %s: %v", key, err)
		}
		defer r.Close()
		b, _ := io.ReadAll(r)
		return string(b)
	}
	copyFrom := func(key string) {
		t.Helper()
		so, err := src.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dst.CopyFrom(ctx, src, key, key, so); err != nil {
			t.Fatalf("copy %s: %v", key, err)
		}
	}

	// syncer's own Delete prunes the folder; the next Put makes it again.
	put(dst, "a/b/one", "1")
	if err := dst.Delete(ctx, "a/b/one"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a/ not pruned: %v", err)
	}
	put(dst, "a/b/two", "2")
	if got := read(dst, "a/b/two"); got != "2" {
		t.Fatalf("a/b/two = %q", got)
	}

	// Another program removes and makes the folder again: the copy lands
	// in the new folder.
	if err := os.RemoveAll(filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	put(dst, "a/b/three", "3")
	if b, err := os.ReadFile(filepath.Join(root, "a", "b", "three")); err != nil || string(b) != "3" {
		t.Fatalf("a/b/three on disk: %q, %v", b, err)
	}

	// The same for a copy's source, read through a cached folder: a file
	// in a folder made again is found, not reported missing.
	put(src, "x/f1", "first")
	copyFrom("x/f1") // caches src's x/
	srcRoot := src.Root()
	if err := os.RemoveAll(filepath.Join(srcRoot, "x")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(srcRoot, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srcRoot, "x", "f2"), []byte("second"), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFrom("x/f2")
	if got := read(dst, "x/f2"); got != "second" {
		t.Fatalf("x/f2 = %q", got)
	}

	// Many folders in turn (more than the cache holds), each written twice.
	for round := range 2 {
		for i := range 40 {
			key := filepath.Join("many", strings.Repeat("d", i%3+1)+string(rune('a'+i%26)), "f"+string(rune('a'+round)))
			put(dst, filepath.ToSlash(key), key)
		}
	}
	n := 0
	err := dst.List(ctx, "many/", func(o backends.Object) error { n++; return nil })
	if err != nil || n != 80 { // 40 folders, 2 files each
		t.Fatalf("listed %d objects under many/ (%v)", n, err)
	}
}
