package local_test

import (
	"bytes"
	"fmt"
	"testing"

	"syncer/backends"
	"syncer/backends/local"
)

// newBench returns a backend on a fresh folder.
func newBench(b *testing.B, name string) *local.Backend {
	be, err := local.New(local.Options{Name: name, Path: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	return be
}

// fill puts 10,000 files of size bytes into 100 folders of 100 files, the
// shape of the small-file benchmark in BENCHMARKS.md, and returns the keys.
func fill(b *testing.B, be *local.Backend, size int) []string {
	data := bytes.Repeat([]byte("x"), size)
	keys := make([]string, 0, 10_000)
	for d := range 100 {
		for f := range 100 {
			key := fmt.Sprintf("dir%03d/sub/file%03d.txt", d, f)
			if _, err := be.Put(b.Context(), key, bytes.NewReader(data), backends.Object{Size: int64(len(data))}); err != nil {
				b.Fatal(err)
			}
			keys = append(keys, key)
		}
	}
	return keys
}

// BenchmarkPutSmallFiles puts 10,000 files of 4 KiB (a fresh root each
// iteration).
func BenchmarkPutSmallFiles(b *testing.B) {
	for _, named := range []bool{false, true} {
		b.Run(map[bool]string{false: "unnamed", true: "named"}[named], func(b *testing.B) {
			for b.Loop() {
				be := newBench(b, "b")
				if named {
					local.UseNamedTemps(be)
				}
				fill(b, be, 4<<10)
			}
		})
	}
}

// BenchmarkCopyOnHostSmallFiles copies 10,000 files of 4 KiB between two
// local roots, as apply does between local folders.
func BenchmarkCopyOnHostSmallFiles(b *testing.B) {
	src := newBench(b, "src")
	keys := fill(b, src, 4<<10)
	for b.Loop() {
		dst := newBench(b, "dst")
		for _, key := range keys {
			if _, err := dst.CopyOnHost(b.Context(), src, key, key, backends.Object{Size: 4 << 10}, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkStatDelete stats then deletes 10,000 files in 100 folders.
func BenchmarkStatDelete(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		be := newBench(b, "b")
		keys := fill(b, be, 16)
		b.StartTimer()
		for _, key := range keys {
			if _, err := be.Stat(b.Context(), key); err != nil {
				b.Fatal(err)
			}
			if err := be.Delete(b.Context(), key); err != nil {
				b.Fatal(err)
			}
		}
	}
}
