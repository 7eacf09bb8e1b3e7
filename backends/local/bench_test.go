package local_test

import (
	"bytes"
	"fmt"
	"testing"

	"syncer/backends"
	"syncer/backends/local"
)

// BenchmarkPutSmallFiles puts 10,000 files of 4 KiB into 100 folders of 100
// files (a fresh root each iteration), the shape of the small-file benchmark
// in BENCHMARKS.md.
func BenchmarkPutSmallFiles(b *testing.B) {
	for _, named := range []bool{false, true} {
		b.Run(map[bool]string{false: "unnamed", true: "named"}[named], func(b *testing.B) {
			data := bytes.Repeat([]byte("x"), 4<<10)
			for b.Loop() {
				be, err := local.New(local.Options{Name: "b", Path: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				if named {
					local.UseNamedTemps(be)
				}
				for d := range 100 {
					for f := range 100 {
						key := fmt.Sprintf("dir%03d/sub/file%03d.txt", d, f)
						if _, err := be.Put(b.Context(), key, bytes.NewReader(data), backends.Object{Size: int64(len(data))}); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
	}
}

// BenchmarkCopyOnHostSmallFiles copies 10,000 files of 4 KiB between two
// local roots, as apply does between local folders.
func BenchmarkCopyOnHostSmallFiles(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 4<<10)
	src, err := local.New(local.Options{Name: "src", Path: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	var keys []string
	for d := range 100 {
		for f := range 100 {
			key := fmt.Sprintf("dir%03d/sub/file%03d.txt", d, f)
			if _, err := src.Put(b.Context(), key, bytes.NewReader(data), backends.Object{Size: int64(len(data))}); err != nil {
				b.Fatal(err)
			}
			keys = append(keys, key)
		}
	}
	for b.Loop() {
		dst, err := local.New(local.Options{Name: "dst", Path: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		for _, key := range keys {
			if _, err := dst.CopyOnHost(b.Context(), src, key, key, backends.Object{Size: int64(len(data))}, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkStatDelete stats then deletes 10,000 files in 100 folders.
func BenchmarkStatDelete(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 16)
	for b.Loop() {
		b.StopTimer()
		be, err := local.New(local.Options{Name: "b", Path: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		var keys []string
		for d := range 100 {
			for f := range 100 {
				key := fmt.Sprintf("dir%03d/sub/file%03d.txt", d, f)
				if _, err := be.Put(b.Context(), key, bytes.NewReader(data), backends.Object{Size: int64(len(data))}); err != nil {
					b.Fatal(err)
				}
				keys = append(keys, key)
			}
		}
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
