package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/s3/s3test"
)

const mib = 1 << 20

// A 23 MiB object in 5 MiB parts: five parts, an ETag ending in -5, the
// same bytes back, over plain HTTP and TLS, known and unknown size.
func TestMultipartRoundTrip(t *testing.T) {
	e := needEnv(t)
	const size = 23 * mib
	for _, srv := range []*s3test.Server{e.A, e.TLS} {
		for _, known := range []bool{true, false} {
			name := strings.SplitN(srv.Endpoint, ":", 2)[0]
			if !known {
				name += "-unknown-size"
			}
			t.Run(name, func(t *testing.T) {
				o := testOptions(srv, newBucket(t, srv), "mp/")
				o.PartSize = 5 * mib
				b := mustNew(t, o)
				src := backends.Object{Size: size, ModTime: time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)}
				if !known {
					src.Size = -1
				}
				obj, err := b.Put(t.Context(), "big.bin", backendtest.RandomReader(1, size), src)
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if obj.Size != size || !strings.HasSuffix(obj.ETag, "-5") {
					t.Errorf("Put = %+v; want size %d and an ETag ending in -5", obj, size)
				}
				st, err := b.Stat(t.Context(), "big.bin")
				if err != nil || st.ETag != obj.ETag || st.Size != size {
					t.Errorf("Stat = %+v, %v; want ETag %s", st, err, obj.ETag)
				}
				if st.Hash(backends.MD5) != "" {
					t.Errorf("Stat reports md5 %s for a multipart object", st.Hash(backends.MD5))
				}
				checkContent(t, b, "big.bin", 1, size)
				mt, err := b.SourceModTime(t.Context(), "big.bin")
				if err != nil || !mt.Equal(src.ModTime) {
					t.Errorf("SourceModTime = %v, %v; want %v", mt, err, src.ModTime)
				}
				if ups := uploads(t, srv, o.Bucket); len(ups) != 0 {
					t.Errorf("uploads left: %q", ups)
				}
			})
		}
	}
}

// Which requests carry the bytes, for each size, over plain HTTP and TLS,
// and how their payload is signed.
func TestPutPaths(t *testing.T) {
	e := needEnv(t)
	for _, srv := range []*s3test.Server{e.A, e.TLS} {
		tls := strings.HasPrefix(srv.Endpoint, "https:")
		t.Run(strings.SplitN(srv.Endpoint, ":", 2)[0], func(t *testing.T) {
			o := testOptions(srv, newBucket(t, srv), "")
			o.PartSize = 5 * mib
			o.UploadCutoff = 12 * mib
			b := mustNew(t, o)
			att := countAttempts(b)
			streamedPuts, streamedParts := 0, 2
			if tls {
				// Over TLS an object between part size and cutoff is one
				// streamed PutObject; over HTTP it goes multipart.
				streamedPuts, streamedParts = 1, 0
			}
			for _, c := range []struct {
				name        string
				size        int64
				known       bool
				puts, parts int
			}{
				{"small", 1000, true, 1, 0},
				{"part-size", 5 * mib, true, 1, 0},
				{"above-part-size", 7 * mib, true, streamedPuts, streamedParts},
				{"cutoff", 12 * mib, true, 0, 3},
				{"unknown-small", 4 * mib, false, 1, 0},
				{"unknown-large", 11 * mib, false, 0, 3},
			} {
				att.reset()
				src := backends.Object{Size: c.size}
				if !c.known {
					src.Size = -1
				}
				obj, err := b.Put(t.Context(), c.name, backendtest.RandomReader(c.size, c.size), src)
				if err != nil {
					t.Fatalf("%s: Put: %v", c.name, err)
				}
				if got := att.count("PutObject"); got != c.puts {
					t.Errorf("%s: PutObject requests = %d; want %d", c.name, got, c.puts)
				}
				if got := att.count("UploadPart"); got != c.parts {
					t.Errorf("%s: UploadPart requests = %d; want %d", c.name, got, c.parts)
				}
				for _, op := range []string{"PutObject", "UploadPart"} {
					for _, h := range att.payloadHashes(op) {
						// TLS: aws-chunked with a trailing checksum; HTTP:
						// a signed payload hash (the body is a buffer).
						if tls && h != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" || !tls && len(h) != 64 {
							t.Errorf("%s: %s payload hash %q", c.name, op, h)
						}
					}
				}
				if c.puts == 1 && (obj.Hash(backends.MD5) == "" || obj.Hash(backends.MD5) != obj.ETag) {
					t.Errorf("%s: single-part Put = %+v; want md5 == ETag", c.name, obj)
				}
				checkContent(t, b, c.name, c.size, c.size)
			}
		})
	}
}

// Sources that end early or go on too long fail every upload path and
// leave neither an object nor an upload behind.
func TestPutSizeMismatch(t *testing.T) {
	e := needEnv(t)
	for _, srv := range []*s3test.Server{e.A, e.TLS} {
		o := testOptions(srv, newBucket(t, srv), "")
		o.PartSize = 5 * mib
		o.UploadCutoff = 9 * mib
		b := mustNew(t, o)
		for _, c := range []struct{ declared, given int64 }{
			{7 * mib, 7*mib - 1}, {7 * mib, 7*mib + 1}, // streamed PutObject
			{12 * mib, 11 * mib}, {12 * mib, 12*mib + 1}, {10 * mib, 15 * mib}, // multipart
		} {
			key := fmt.Sprintf("k-%d-%d", c.declared, c.given)
			_, err := b.Put(t.Context(), key, backendtest.RandomReader(1, c.given), backends.Object{Size: c.declared})
			if err == nil {
				t.Errorf("%s: Put declared %d, gave %d: no error", srv.Endpoint, c.declared, c.given)
			}
			backendtest.AssertNotFound(t, b, key)
		}
		if ups := uploads(t, srv, o.Bucket); len(ups) != 0 {
			t.Errorf("uploads left: %q", ups)
		}
	}
}

// A Put cancelled mid-multipart aborts its upload.
func TestPutCancelAborts(t *testing.T) {
	e := needEnv(t)
	o := testOptions(e.A, newBucket(t, e.A), "")
	o.PartSize = 5 * mib
	b := mustNew(t, o)
	ctx, cancel := context.WithCancel(t.Context())
	r := &backendtest.CancelReader{R: backendtest.RandomReader(1, 20*mib), After: 12 * mib, Cancel: cancel}
	_, err := b.Put(ctx, "k", r, backends.Object{Size: 20 * mib})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put = %v; want context.Canceled", err)
	}
	backendtest.AssertNotFound(t, b, "k")
	if ups := uploads(t, e.A, o.Bucket); len(ups) != 0 {
		t.Errorf("uploads left: %q", ups)
	}
}

// Put's memory does not grow with the object: a 64 MiB streamed PutObject
// (TLS) and a 64 MiB multipart upload in 5 MiB parts each allocate far less
// than the object.
func TestPutMemoryBounded(t *testing.T) {
	e := needEnv(t)
	o := testOptions(e.TLS, newBucket(t, e.TLS), "")
	o.PartSize = 5 * mib
	o.UploadCutoff = 100 * mib
	streamed := mustNew(t, o) // over TLS: a streamed PutObject
	o = testOptions(e.A, newBucket(t, e.A), "")
	o.PartSize = 5 * mib
	multi := mustNew(t, o)
	const size = 64 * mib
	for name, b := range map[string]*Backend{"streamed-tls": streamed, "multipart": multi} {
		t.Run(name, func(t *testing.T) {
			alloc := allocated(func() {
				if _, err := b.Put(t.Context(), name, backendtest.RandomReader(2, size), backends.Object{Size: size}); err != nil {
					t.Fatalf("Put: %v", err)
				}
			})
			if alloc > 24*mib {
				t.Errorf("Put of %d MiB allocated %d MiB; want at most 24 MiB", size/mib, alloc/mib)
			}
			t.Logf("Put of %d MiB allocated %.1f MiB", size/mib, float64(alloc)/mib)
			checkContent(t, b, name, 2, size)
		})
	}
}

// DeleteBatch removes 2,500 keys in three DeleteObjects requests; missing
// keys are fine, invalid ones get their own error.
func TestDeleteBatch(t *testing.T) {
	e := needEnv(t)
	p, via := proxied(t, e.A)
	o := testOptions(via, newBucket(t, e.A), "del/")
	b := mustNew(t, o)
	const n = 2500
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "k/" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "/" + time.Duration(i).String()
	}
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for k := range work {
				if _, err := b.Put(t.Context(), k, bytes.NewReader([]byte(k)), backends.Object{Size: int64(len(k))}); err != nil {
					t.Errorf("Put(%q): %v", k, err)
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	backendtest.PutBytes(t, b, "keep", []byte("keep"))
	p.Reset()
	for i := 0; i < n; i += b.MaxBatch() {
		batch := keys[i:min(i+b.MaxBatch(), n)]
		errs, err := b.DeleteBatch(t.Context(), batch)
		if err != nil {
			t.Fatalf("DeleteBatch: %v", err)
		}
		for j, err := range errs {
			if err != nil {
				t.Errorf("DeleteBatch %q: %v", batch[j], err)
			}
		}
	}
	if got := p.Count("DeleteObjects"); got != 3 {
		t.Errorf("DeleteObjects requests = %d; want 3", got)
	}
	if got := backendtest.Keys(backendtest.ListAll(t, b, "")); len(got) != 1 || got[0] != "keep" {
		t.Errorf("after DeleteBatch, List = %d keys (%.5q...); want [keep]", len(got), got)
	}
	// Missing keys, duplicates and invalid keys.
	errs, err := b.DeleteBatch(t.Context(), []string{"missing", "keep", "keep", "../bad", "a//b"})
	if err != nil {
		t.Fatalf("DeleteBatch: %v", err)
	}
	for i, want := range []bool{false, false, false, true, true} {
		if (errs[i] != nil) != want {
			t.Errorf("DeleteBatch errs[%d] = %v; want error %v", i, errs[i], want)
		}
	}
	backendtest.AssertEmpty(t, b)
	if _, err := b.DeleteBatch(t.Context(), make([]string, 1001)); err == nil {
		t.Error("DeleteBatch of 1001 keys: no error")
	}
}

// A streamed PutObject (TLS) whose source fails or whose context is
// cancelled mid-body leaves no object: the store never sees the end of the
// aws-chunked body.
func TestStreamedPutFailures(t *testing.T) {
	e := needEnv(t)
	o := testOptions(e.TLS, newBucket(t, e.TLS), "")
	o.PartSize, o.UploadCutoff = 5*mib, 64*mib
	b := mustNew(t, o)
	backendtest.PutBytes(t, b, "existing", []byte("old"))
	for i := range 3 {
		for _, key := range []string{fmt.Sprintf("new-%d", i), "existing"} {
			r := &backendtest.FailingReader{R: backendtest.RandomReader(1, 7*mib), N: 3 * mib}
			if _, err := b.Put(t.Context(), key, r, backends.Object{Size: 7 * mib}); !errors.Is(err, backendtest.ErrInjected) {
				t.Errorf("Put with a failing source = %v; want the source's error", err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			cr := &backendtest.CancelReader{R: backendtest.RandomReader(1, 7*mib), After: 3 * mib, Cancel: cancel}
			if _, err := b.Put(ctx, key, cr, backends.Object{Size: 7 * mib}); !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled Put = %v; want context.Canceled", err)
			}
			cancel()
		}
	}
	if got := backendtest.Keys(backendtest.ListAll(t, b, "")); len(got) != 1 || got[0] != "existing" {
		t.Errorf("List = %q; want [existing]", got)
	}
	if got := backendtest.ReadAll(t, b, "existing"); string(got) != "old" {
		t.Errorf("existing = %q; want the old content", got)
	}
}
