package s3

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/s3/s3test"
)

// TestPinnedReadResumedAfterOverwrite: a read whose connection drops
// halfway resumes with a ranged GET pinned to the ETag it started on; when
// the object was overwritten meanwhile, the read fails with
// backends.ErrSourceChanged after bytes of the first version only. Pinned
// by OpenPinned from the first request, or by Open from the first reply.
func TestPinnedReadResumedAfterOverwrite(t *testing.T) {
	for _, pinned := range []bool{true, false} {
		name := "Open"
		if pinned {
			name = "OpenPinned"
		}
		t.Run(name, func(t *testing.T) {
			p, via := proxied(t, &fake.Server)
			bucket := newBucket(t, &fake.Server)
			b := mustNew(t, testOptions(via, bucket, ""))
			direct := mustNew(t, testOptions(&fake.Server, bucket, ""))
			const key = "doc.bin"
			v1 := backendtest.RandomBytes(1, 1<<20)
			backendtest.PutBytes(t, direct, key, v1)
			listed, err := direct.Stat(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}

			var gets atomic.Int32
			p.OnRequest = func(op string, r *http.Request) {
				if op == "GetObject" && gets.Add(1) == 2 {
					p.SetFaults(s3test.Faults{})
					backendtest.PutBytes(t, direct, key, backendtest.RandomBytes(2, 1<<20))
				}
			}
			p.SetFaults(s3test.Faults{Cut: 1, Only: []string{"GetObject"}})
			var rc io.ReadCloser
			if pinned {
				rc, err = b.OpenPinned(t.Context(), listed, 0, -1)
			} else {
				rc, err = b.Open(t.Context(), key, 0, -1)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if !errors.Is(err, backends.ErrSourceChanged) {
				t.Fatalf("read across the overwrite: %d bytes, err %v; want ErrSourceChanged", len(got), err)
			}
			if len(got) == 0 || !bytes.Equal(got, v1[:len(got)]) {
				t.Errorf("the %d bytes read before the failure are not the start of the first version", len(got))
			}
			if n := gets.Load(); n != 2 {
				t.Errorf("%d GetObject requests; want 2 (the cut one, the refused resume)", n)
			}
		})
	}
}

// TestServerSideCopyOfAChangedSource: a server-side copy names the version
// the plan listed; when the source was overwritten since, the store's 412
// is ErrSourceChanged, whether one CopyObject or UploadPartCopy does it,
// and nothing is left at the destination key.
func TestServerSideCopyOfAChangedSource(t *testing.T) {
	e := needEnv(t)
	src := mustNew(t, testOptions(e.A, newBucket(t, e.A), ""))
	opts := testOptions(e.A, newBucket(t, e.A), "")
	dst := mustNew(t, opts)
	opts.CopyCutoff, opts.CopyPartSize = 5*mib, 5*mib
	dstParts := mustNew(t, opts)
	for name, d := range map[string]*Backend{"CopyObject": dst, "UploadPartCopy": dstParts} {
		t.Run(name, func(t *testing.T) {
			const key = "moving.bin"
			listed := backendtest.PutBytes(t, src, key, backendtest.RandomBytes(1, 6*mib))
			backendtest.PutBytes(t, src, key, backendtest.RandomBytes(2, 6*mib))
			_, err := d.CopyFrom(t.Context(), src, key, key, listed)
			if !errors.Is(err, backends.ErrSourceChanged) {
				t.Fatalf("CopyFrom of an overwritten source: %v; want ErrSourceChanged", err)
			}
			if _, err := d.Stat(t.Context(), key); !errors.Is(err, backends.ErrNotFound) {
				t.Errorf("Stat of the destination after the refused copy: %v; want not found", err)
			}
		})
	}
}
