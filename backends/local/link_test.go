package local_test

import (
	"bytes"
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

// TestLinkFrom: a backup by hard link names the same file (no copy), keeps
// its mtime, replaces what the key named, and survives the original's
// delete; a changed or missing source, or a non-local one, links nothing.
func TestLinkFrom(t *testing.T) {
	base := t.TempDir()
	dst := newLocal(t, local.Options{Path: filepath.Join(base, "dst")})
	bak := newLocal(t, local.Options{Path: filepath.Join(base, "bak")})
	data := []byte("version one")
	mt := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	o, err := dst.Put(t.Context(), "a/b.txt", bytes.NewReader(data), backends.Object{Size: int64(len(data)), ModTime: mt})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(base, "bak", "old", "a"), 0o755)
	os.WriteFile(filepath.Join(base, "bak", "old", "a", "b.txt"), []byte("replaced"), 0o644)
	got, err := bak.LinkFrom(t.Context(), dst, "a/b.txt", "old/a/b.txt", o)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != int64(len(data)) || !got.ModTime.Equal(mt) {
		t.Errorf("LinkFrom = %+v; want size %d, mtime %v", got, len(data), mt)
	}
	ino := func(p string) uint64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	if ino(filepath.Join(base, "dst", "a", "b.txt")) != ino(filepath.Join(base, "bak", "old", "a", "b.txt")) {
		t.Error("the backup is not a hard link of the original")
	}
	if err := dst.Delete(t.Context(), "a/b.txt"); err != nil {
		t.Fatal(err)
	}
	if b := backendtest.ReadAll(t, bak, "old/a/b.txt"); !bytes.Equal(b, data) {
		t.Errorf("backup holds %q after the delete", b)
	}

	// Nothing is linked when the source is not the listed version, is
	// missing, or is not a local folder.
	dst.Put(t.Context(), "c.txt", bytes.NewReader(data), backends.Object{Size: int64(len(data))})
	for _, c := range []struct {
		name string
		src  backends.Backend
		key  string
		obj  backends.Object
		want string
	}{
		{"changed", dst, "c.txt", backends.Object{Size: 3}, "source changed"},
		{"missing", dst, "none.txt", backends.Object{Size: 1}, "not found"},
		{"not local", backendtest.NewMem("m"), "c.txt", backends.Object{Size: 1}, "not a local folder"},
	} {
		_, err := bak.LinkFrom(t.Context(), c.src, c.key, "new/"+c.name, c.obj)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: LinkFrom error %v; want %q", c.name, err, c.want)
		}
		backendtest.AssertNotFound(t, bak, "new/"+c.name)
	}
	if left := tempFiles(t, bak.Root()); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}
