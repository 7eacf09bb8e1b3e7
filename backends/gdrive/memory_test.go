package gdrive

import (
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/backendtest"
)

// heapWatch samples the live heap while fn runs and returns the peak
// growth over the heap before fn, and the bytes allocated meanwhile.
func heapWatch(fn func()) (peak, allocated uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var max atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > max.Load() {
				max.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if max.Load() > before.HeapAlloc {
		peak = max.Load() - before.HeapAlloc
	}
	return peak, after.TotalAlloc - before.TotalAlloc
}

// TestStreaming64MiB uploads 64 MiB in resumable chunks of 8 MiB and
// downloads it again: the heap grows by about one chunk, not by the
// object, and the fake's byte counters show every byte passing once.
func TestStreaming64MiB(t *testing.T) {
	const size = 64 << 20
	const chunk = 8 << 20
	srv := newFake(t)
	opts := testOptions(srv, newFolder(srv))
	opts.ChunkSize = chunk
	b := mustNew(t, opts)
	srv.ResetStats()

	var obj backends.Object
	var err error
	peak, alloc := heapWatch(func() {
		obj, err = b.Put(t.Context(), "big/64MiB.bin", backendtest.RandomReader(64, size), backends.Object{Size: size})
	})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	t.Logf("upload: heap peak +%d MiB, allocated %d MiB", peak>>20, alloc>>20)
	if obj.Size != size {
		t.Errorf("Put size = %d", obj.Size)
	}
	// One chunk buffer (8 MiB) plus the fake's and HTTP's small buffers.
	if peak > 3*chunk || alloc > 4*chunk {
		t.Errorf("upload grew the heap by %d MiB (allocated %d MiB); want about one %d MiB chunk", peak>>20, alloc>>20, chunk>>20)
	}
	st := srv.Stats()
	if st.Uploaded != size || st.MaxChunk != chunk || st.ByKind["upload-init"] != 1 || st.ByKind["upload-chunk"] != size/chunk {
		t.Errorf("fake stats: uploaded %d, max chunk %d, kinds %v", st.Uploaded, st.MaxChunk, st.ByKind)
	}

	srv.ResetStats()
	var n int64
	var sum string
	peak, alloc = heapWatch(func() {
		rc, err := b.Open(t.Context(), "big/64MiB.bin", 0, -1)
		if err != nil {
			t.Errorf("Open: %v", err)
			return
		}
		defer rc.Close()
		n, sum, err = backendtest.SHA256(struct{ io.Reader }{rc})
		if err != nil {
			t.Errorf("read: %v", err)
		}
	})
	t.Logf("download: heap peak +%d MiB, allocated %d MiB", peak>>20, alloc>>20)
	if n != size || sum != backendtest.RandomSHA256(64, size) {
		t.Errorf("downloaded %d bytes; content differs", n)
	}
	if peak > chunk || alloc > chunk {
		t.Errorf("download grew the heap by %d MiB (allocated %d MiB)", peak>>20, alloc>>20)
	}
	if st := srv.Stats(); st.Downloaded != size {
		t.Errorf("fake sent %d bytes; want %d", st.Downloaded, size)
	}
}
