//go:build linux

package local_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/local"
)

// rewriteInPlace overwrites the first and last n bytes of the file at path
// in place (same size, same inode), as an editor or a database would, and
// sets its mtime to mt (zero: leaves the mtime the write gave).
func rewriteInPlace(t *testing.T, path string, n int, mt time.Time) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte{0xAB}, n)
	if _, err := f.WriteAt(junk, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(junk, fi.Size()-int64(n)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !mt.IsZero() {
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

// waitCtimeTick returns once a file changed now gets a status change time
// after that of path: file times come from a clock that ticks every few
// milliseconds, and a write within the tick of the last change would not
// show in the ctime.
func waitCtimeTick(t *testing.T, path string) {
	t.Helper()
	ctime := func(p string) time.Time {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return time.Unix(st.Ctim.Unix())
	}
	was := ctime(path)
	probe := filepath.Join(t.TempDir(), "probe")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if err := os.WriteFile(probe, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if ctime(probe).After(was) {
			return
		}
	}
	t.Fatal("the file clock did not tick in 5 s")
}

// TestCopyOnHostSourceRewritten: a source file rewritten in place after
// the kernel copied its first chunk fails the copy with ErrSourceChanged,
// and the destination keeps its previous version, byte for byte. The
// writer either leaves the mtime the write gave it, or sets it back to the
// listed one (then only the ctime, in the version tag, tells).
func TestCopyOnHostSourceRewritten(t *testing.T) {
	for _, restoreMtime := range []bool{false, true} {
		name := "new mtime"
		if restoreMtime {
			name = "mtime set back"
		}
		t.Run(name, func(t *testing.T) {
			src := newLocal(t, local.Options{})
			dst := newLocal(t, local.Options{})
			old := []byte("the previous copy")
			backendtest.PutBytes(t, dst, "out/big.bin", old)
			data := backendtest.RandomBytes(11, 40<<20+3) // three kernel chunks
			mt := time.Date(2021, 5, 6, 7, 8, 9, 10, time.UTC)
			if _, err := src.Put(t.Context(), "in/big.bin", bytes.NewReader(data), backends.Object{Size: int64(len(data)), ModTime: mt}); err != nil {
				t.Fatal(err)
			}
			listed, err := src.Stat(t.Context(), "in/big.bin")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(src.Root(), "in", "big.bin")
			if restoreMtime {
				waitCtimeTick(t, path)
			}
			chunks := 0
			_, err = dst.CopyOnHost(t.Context(), src, "in/big.bin", "out/big.bin", listed, func(int64) {
				if chunks++; chunks == 1 {
					newMtime := mt.Add(time.Second)
					if restoreMtime {
						newMtime = mt
					}
					rewriteInPlace(t, path, 8<<20, newMtime)
				}
			})
			if !errors.Is(err, backends.ErrSourceChanged) {
				t.Fatalf("CopyOnHost of a file rewritten mid-copy: %v; want ErrSourceChanged", err)
			}
			if got := backendtest.ReadAll(t, dst, "out/big.bin"); !bytes.Equal(got, old) {
				t.Errorf("the destination holds %d bytes; want its previous version", len(got))
			}
			if left := tempFiles(t, dst.Root()); len(left) != 0 {
				t.Errorf("temporary files left: %q", left)
			}
		})
	}
}

// TestOpenPinnedRewritten: a pinned read of a file rewritten in place
// fails with ErrSourceChanged at the read that would hand out the last
// byte, even when the reader stops after exactly the range's length.
func TestOpenPinnedRewritten(t *testing.T) {
	b := newLocal(t, local.Options{})
	data := backendtest.RandomBytes(12, 1<<20)
	mt := time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		name           string
		offset, length int64
	}{{"whole", 0, -1}, {"range", 4096, 512 << 10}} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := b.Put(t.Context(), "f", bytes.NewReader(data), backends.Object{Size: int64(len(data)), ModTime: mt}); err != nil {
				t.Fatal(err)
			}
			listed, err := b.Stat(t.Context(), "f")
			if err != nil {
				t.Fatal(err)
			}
			rc, err := b.OpenPinned(t.Context(), listed, c.offset, c.length)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			want := int64(len(data)) - c.offset
			if c.length >= 0 {
				want = c.length
			}
			buf := make([]byte, want)
			if _, err := io.ReadFull(rc, buf[:1000]); err != nil {
				t.Fatal(err)
			}
			rewriteInPlace(t, filepath.Join(b.Root(), "f"), 4096, mt.Add(time.Second))
			if _, err := io.ReadFull(rc, buf[1000:]); !errors.Is(err, backends.ErrSourceChanged) {
				t.Errorf("reading the rest of the range: %v; want ErrSourceChanged", err)
			}
			if _, err := b.OpenPinned(t.Context(), listed, 0, -1); !errors.Is(err, backends.ErrSourceChanged) {
				t.Errorf("OpenPinned of the listed version after the rewrite: %v; want ErrSourceChanged", err)
			}
		})
	}
}
