package apply_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"syncer/backends/backendtest"
)

// heapPeak samples HeapInuse until stop is called, which returns the
// peak.
func heapPeak() (stop func() uint64) {
	var mu sync.Mutex
	var peak uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(quit)
		<-done
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Copying a 256 MiB file streams it: the heap grows by a bounded amount,
// whatever the object's size.
func TestMemoryLargeFile(t *testing.T) {
	const size = 256 << 20
	const bound = 32 << 20
	for _, compare := range []string{"modtime", "checksum"} {
		t.Run(compare, func(t *testing.T) {
			e := newEnv(t, "", `compare = "`+compare+`"`)
			src, dst := e.dir("src"), e.dir("dst")
			writeStream(t, src, "big.bin", backendtest.RandomReader(11, size))

			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			stop := heapPeak()
			res := e.mustApply()
			peak := stop()
			if res.Created != 1 || res.Bytes != size {
				t.Errorf("Result = %+v; want 1 created, %d bytes", res, size)
			}
			growth := int64(peak) - int64(base)
			t.Logf("heap in use: %d MiB before, peak %d MiB (growth %d MiB)", base>>20, peak>>20, growth>>20)
			if growth > bound {
				t.Errorf("heap grew by %d MiB while copying a %d MiB file; want under %d MiB", growth>>20, size>>20, bound>>20)
			}
			if got, want := fileSHA256(t, filepath.Join(dst, "big.bin")), backendtest.RandomSHA256(11, size); got != want {
				t.Errorf("big.bin at the destination: sha256 %s; want %s", got, want)
			}
		})
	}
}
