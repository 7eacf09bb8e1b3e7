package apply_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"syncer/apply"
	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/state"
)

// copier is a local destination that copies "server-side" from a hooked
// local source under srcRoot, reading the file itself.
type copier struct {
	*hooked
	srcRoot string
	allow   bool
	calls   atomic.Int64
}

var _ backends.ServerSideCopier = (*copier)(nil)

func (c *copier) CanCopyFrom(src backends.Backend) bool {
	s, ok := src.(*hooked)
	return c.allow && ok && s.Root() == c.srcRoot
}

func (c *copier) CopyFrom(ctx context.Context, src backends.Backend, srcKey, key string, srcObj backends.Object) (backends.Object, error) {
	c.calls.Add(1)
	if err := backends.CheckKey(srcKey); err != nil {
		return backends.Object{}, err
	}
	f, err := os.Open(filepath.Join(c.srcRoot, filepath.FromSlash(srcKey)))
	if err != nil {
		return backends.Object{}, err
	}
	defer f.Close()
	return c.hooked.Backend.Put(ctx, key, f, srcObj) // not through hooked.Put
}

func TestServerSideCopy(t *testing.T) {
	for _, allow := range []bool{true, false} {
		name := "server-side"
		if !allow {
			name = "refused-streams"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, "", "")
			src, dst := e.dir("src"), e.dir("dst")
			content := map[string][]byte{"a.txt": []byte("a"), "dir/b.bin": backendtest.RandomBytes(4, 100<<10), "c.txt": nil}
			for k, d := range content {
				writeFile(t, src, k, d)
			}
			hs := hook(e.local("src"))
			cp := &copier{hooked: hook(e.local("dst")), srcRoot: src, allow: allow}
			e.set("src", hs)
			e.set("dst", cp)
			res := e.mustApply()
			if res.Created != 3 || res.Bytes != 100<<10+1 {
				t.Errorf("Result = %+v; want 3 created, %d bytes", res, 100<<10+1)
			}
			opens, calls, puts := len(hs.openCalls()), cp.calls.Load(), len(cp.putKeys())
			if allow && (opens != 0 || calls != 3 || puts != 0) {
				t.Errorf("source opened %d times, CopyFrom called %d times, Put %d times; want 0, 3, 0", opens, calls, puts)
			}
			if !allow && (opens != 3 || calls != 0 || puts != 3) {
				t.Errorf("CanCopyFrom false: source opened %d times, CopyFrom %d, Put %d; want 3, 0, 3", opens, calls, puts)
			}
			sameTree(t, src, dst)
			for k := range content {
				e.checkRecorded(k, "")
			}
			e.expectNoChanges()
		})
	}
}

// resumableEnv is a sync from a hooked local source to an in-memory
// destination that uploads in parts of ps bytes, one worker.
func resumableEnv(t *testing.T, ps int64) (*env, *hooked, *backendtest.MemResumable) {
	e := newEnv(t, `limits { workers = 1 }`, "")
	hs := hook(e.local("src"))
	dst := backendtest.NewMemResumable(backendtest.NewMem("dst"), ps)
	e.set("src", hs)
	e.set("dst", dst)
	return e, hs, dst
}

// interruptAfterPart applies with the run's context cancelled once part n
// of key is journaled, and checks the run reports an interruption.
func interruptAfterPart(t *testing.T, e *env, dst *backendtest.MemResumable, key string, n int32) {
	t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	dst.AfterPart = func(k string, p backends.Part) {
		if k == key && p.Number == n {
			cancel()
		}
	}
	defer func() { dst.AfterPart = nil }()
	res, err := e.applyCtx(ctx, apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Failed != 0 {
		t.Fatalf("Result = %+v; want interrupted, nothing failed", res)
	}
}

// offsetsOf returns the (offset, length) of each source read of key.
func offsetsOf(calls []openCall, key string) [][2]int64 {
	var out [][2]int64
	for _, c := range calls {
		if c.key == key {
			out = append(out, [2]int64{c.offset, c.length})
		}
	}
	return out
}

func TestResumableUpload(t *testing.T) {
	const ps = 64 << 10
	const size = 5*ps + 1000 // 6 parts
	e, hs, dst := resumableEnv(t, ps)
	big := backendtest.RandomBytes(5, size)
	writeFile(t, e.dir("src"), "big.bin", big)
	writeFile(t, e.dir("src"), "small.txt", []byte("small"))

	interruptAfterPart(t, e, dst, "big.bin", 2)
	if got := offsetsOf(hs.openCalls(), "big.bin"); !slices.Equal(got, [][2]int64{{0, ps}, {ps, ps}}) {
		t.Errorf("first run read %v; want parts 1 and 2", got)
	}
	ups, err := e.st.Uploads(e.ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].Key != "big.bin" || ups[0].PartSize != ps || ups[0].ID == "" {
		t.Fatalf("Uploads = %+v; want one for big.bin with part size %d", ups, ps)
	}
	id, partSize, parts, err := e.st.Journal("s", state.Fingerprint{}).Load(e.ctx, "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if id != ups[0].ID || partSize != ps || len(parts) != 2 || parts[0].Number != 1 || parts[1].Number != 2 ||
		parts[0].Size != ps || parts[1].Size != ps {
		t.Errorf("journal: id %q, part size %d, parts %+v; want parts 1 and 2 of upload %s", id, partSize, parts, ups[0].ID)
	}
	if _, ok := e.record("s", "big.bin"); ok {
		t.Errorf("big.bin recorded after an interrupted upload")
	}
	if _, ok := dst.Data("big.bin"); ok {
		t.Errorf("big.bin visible at the destination after an interrupted upload")
	}

	before := len(hs.openCalls())
	res := e.mustApply()
	if res.Created != 2 || res.Bytes != size+5 {
		t.Errorf("resumed run: %+v; want 2 created, %d bytes", res, size+5)
	}
	want := [][2]int64{{2 * ps, ps}, {3 * ps, ps}, {4 * ps, ps}, {5 * ps, 1000}}
	if got := offsetsOf(hs.openCalls()[before:], "big.bin"); !slices.Equal(got, want) {
		t.Errorf("resumed run read %v; want only parts 3..6: %v", got, want)
	}
	if d, _ := dst.Data("big.bin"); !bytes.Equal(d, big) {
		t.Errorf("big.bin at the destination differs from the source (%d bytes)", len(d))
	}
	if d, _ := dst.Data("small.txt"); string(d) != "small" {
		t.Errorf("small.txt = %q", d)
	}
	if ups, _ := e.st.Uploads(e.ctx, ""); len(ups) != 0 {
		t.Errorf("Uploads after completion = %+v; want none", ups)
	}
	if len(dst.InProgress()) != 0 || len(dst.Aborted()) != 0 {
		t.Errorf("destination: in progress %q, aborted %q", dst.InProgress(), dst.Aborted())
	}
	r, ok := e.record("s", "big.bin")
	if !ok {
		t.Fatal("big.bin not recorded")
	}
	if want := fingerprint(t, e.local("src"), "big.bin"); r.Src != want {
		t.Errorf("recorded source %+v; want %+v", r.Src, want)
	}
	if want := fingerprint(t, dst, "big.bin"); r.Dst != want {
		t.Errorf("recorded destination %+v; want %+v", r.Dst, want)
	}
	e.expectNoChanges()
}

// A source rewritten between an interrupted upload and its resumption
// must not be stitched together from parts of both versions.
func TestResumableUploadSourceChanged(t *testing.T) {
	const ps = 64 << 10
	const size = 4 * ps
	e, _, dst := resumableEnv(t, ps)
	writeFile(t, e.dir("src"), "big.bin", backendtest.RandomBytes(6, size))
	interruptAfterPart(t, e, dst, "big.bin", 2)

	// The file is edited: same size, other bytes, a later mtime.
	v2 := backendtest.RandomBytes(7, size)
	writeFile(t, e.dir("src"), "big.bin", v2)
	later := mtime.Add(time.Hour)
	if err := os.Chtimes(filepath.Join(e.dir("src"), "big.bin"), later, later); err != nil {
		t.Fatal(err)
	}
	e.mustApply()
	d, _ := dst.Data("big.bin")
	if !bytes.Equal(d, v2) {
		n := 0
		for n < len(d) && n < len(v2) && d[n] == v2[n] {
			n++
		}
		t.Errorf("big.bin at the destination differs from the source from byte %d on: the resumed upload kept parts of the old version", n)
	}
	if r, ok := e.record("s", "big.bin"); ok && !bytes.Equal(d, v2) {
		t.Errorf("and the state records it as a copy of the new source (%+v)", r.Src)
	}
}

func TestAbortOrphanUploads(t *testing.T) {
	const ps = 64 << 10
	e, _, dst := resumableEnv(t, ps)
	writeFile(t, e.dir("src"), "big.bin", backendtest.RandomBytes(8, 4*ps))
	interruptAfterPart(t, e, dst, "big.bin", 1)
	ups, _ := e.st.Uploads(e.ctx, "s")
	if len(ups) != 1 {
		t.Fatalf("Uploads = %+v; want one", ups)
	}
	orphan := ups[0].ID

	// big.bin leaves the source; another file arrives.
	os.Remove(filepath.Join(e.dir("src"), "big.bin"))
	writeFile(t, e.dir("src"), "other.txt", []byte("other"))

	// A failed run leaves the orphan alone.
	dst.SetFault(func(op, key string) error {
		if op == "put-resumable" && key == "other.txt" {
			return errors.New("injected")
		}
		return nil
	})
	res, err := e.apply(apply.Options{})
	if err != nil || res.Failed != 1 {
		t.Fatalf("apply with a failing copy: %+v, %v", res, err)
	}
	if got := dst.Aborted(); len(got) != 0 {
		t.Errorf("a run with failures aborted %q", got)
	}
	if ups, _ := e.st.Uploads(e.ctx, "s"); len(ups) != 1 {
		t.Errorf("Uploads = %+v; want the orphan kept", ups)
	}

	dst.SetFault(nil)
	e.mustApply()
	if got := dst.Aborted(); !slices.Equal(got, []string{orphan}) {
		t.Errorf("AbortUpload called with %q; want [%s]", got, orphan)
	}
	if len(dst.InProgress()) != 0 {
		t.Errorf("uploads still in progress at the destination: %q", dst.InProgress())
	}
	if ups, _ := e.st.Uploads(e.ctx, ""); len(ups) != 0 {
		t.Errorf("Uploads = %+v; want none", ups)
	}
}

// An orphan upload must be aborted by a successful run even when its sync
// has nothing else to do (the UploadAborter contract: "its object ... left
// the plan").
func TestAbortOrphanUploadsWithoutOtherChanges(t *testing.T) {
	const ps = 64 << 10
	e, _, dst := resumableEnv(t, ps)
	writeFile(t, e.dir("src"), "big.bin", backendtest.RandomBytes(9, 4*ps))
	interruptAfterPart(t, e, dst, "big.bin", 1)
	ups, _ := e.st.Uploads(e.ctx, "s")
	if len(ups) != 1 {
		t.Fatalf("Uploads = %+v; want one", ups)
	}
	os.Remove(filepath.Join(e.dir("src"), "big.bin"))

	res := e.mustApply()
	if res.Created+res.Updated+res.Deleted != 0 {
		t.Errorf("Result = %+v; want nothing to copy", res)
	}
	if got := dst.Aborted(); !slices.Equal(got, []string{ups[0].ID}) {
		t.Errorf("AbortUpload called with %q; want [%s]: the multipart upload of big.bin is never abandoned", got, ups[0].ID)
	}
	if ups, _ := e.st.Uploads(e.ctx, ""); len(ups) != 0 {
		t.Errorf("Uploads = %+v; want none", ups)
	}
}

// batcher is a local destination that deletes in batches.
type batcher struct {
	*hooked
	max     int
	failKey string // fails alone
	failReq string // fails its whole batch
	mu      sync.Mutex
	batches [][]string
	singles atomic.Int64
}

var _ backends.BatchDeleter = (*batcher)(nil)

func (b *batcher) MaxBatch() int { return b.max }

func (b *batcher) DeleteBatch(ctx context.Context, keys []string) ([]error, error) {
	b.mu.Lock()
	b.batches = append(b.batches, slices.Clone(keys))
	b.mu.Unlock()
	if slices.Contains(keys, b.failReq) {
		return nil, errors.New("injected request failure")
	}
	errs := make([]error, len(keys))
	for i, k := range keys {
		if k == b.failKey {
			errs[i] = errors.New("injected: access denied")
			continue
		}
		errs[i] = b.hooked.Backend.Delete(ctx, k)
	}
	return errs, nil
}

func (b *batcher) Delete(ctx context.Context, key string) error {
	b.singles.Add(1)
	return b.hooked.Backend.Delete(ctx, key)
}

func TestBatchDeletes(t *testing.T) {
	for _, c := range []struct {
		name             string
		failKey, failReq string
		deleted, failed  int64
		kept             []string
	}{
		{"per-key error", "f004", "", 6, 1, []string{"f004"}},
		{"request error", "", "f001", 4, 3, []string{"f000", "f001", "f002"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "", `delete = "managed"`)
			src, dst := e.dir("src"), e.dir("dst")
			keys, data := numbered(7)
			for _, k := range keys {
				writeFile(t, src, k, data[k])
			}
			writeFile(t, src, "keep.txt", []byte("keep"))
			e.mustApply()
			for _, k := range keys {
				os.Remove(filepath.Join(src, k))
			}
			b := &batcher{hooked: hook(e.local("dst")), max: 3, failKey: c.failKey, failReq: c.failReq}
			e.set("dst", b)
			res, err := e.apply(apply.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Deleted != c.deleted || res.Failed != c.failed {
				t.Errorf("Result = %+v; want %d deleted, %d failed", res, c.deleted, c.failed)
			}
			var sizes []int
			var all []string
			for _, batch := range b.batches {
				sizes = append(sizes, len(batch))
				all = append(all, batch...)
			}
			if !slices.Equal(sizes, []int{3, 3, 1}) {
				t.Errorf("batch sizes %v; want [3 3 1]", sizes)
			}
			slices.Sort(all)
			if !slices.Equal(all, keys) {
				t.Errorf("batched keys %q; want %q", all, keys)
			}
			if n := b.singles.Load(); n != 0 {
				t.Errorf("Delete called %d times beside DeleteBatch", n)
			}
			wantRec := append(slices.Clone(c.kept), "keep.txt")
			if got := e.recordedKeys("s"); !slices.Equal(got, wantRec) {
				t.Errorf("recorded %q; want %q", got, wantRec)
			}
			if got := sortedKeys(files(t, dst)); !slices.Equal(got, wantRec) {
				t.Errorf("destination holds %q; want %q", got, wantRec)
			}

			b.failKey, b.failReq = "", ""
			res = e.mustApply()
			if res.Deleted != int64(len(c.kept)) {
				t.Errorf("retry deleted %d; want %d", res.Deleted, len(c.kept))
			}
			sameTree(t, src, dst)
			if got := e.recordedKeys("s"); !slices.Equal(got, []string{"keep.txt"}) {
				t.Errorf("recorded %q after the retry", got)
			}
		})
	}
}

// Forget actions (keys gone from both sides) drop records without touching
// a backend, batch or not.
func TestForget(t *testing.T) {
	e := newEnv(t, "", `delete = "managed"`)
	src, dst := e.dir("src"), e.dir("dst")
	writeFile(t, src, "x", []byte("x"))
	e.mustApply()
	os.Remove(filepath.Join(src, "x"))
	os.Remove(filepath.Join(dst, "x"))
	b := &batcher{hooked: hook(e.local("dst")), max: 10}
	e.set("dst", b)
	res := e.mustApply()
	if res.Deleted != 0 || len(b.batches) != 0 {
		t.Errorf("Result = %+v, %d batches; want no deletes", res, len(b.batches))
	}
	if got := e.recordedKeys("s"); len(got) != 0 {
		t.Errorf("recorded %q; want nothing", got)
	}
	var n int
	e.st.Each(e.ctx, "", func(state.Record) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d records left", n)
	}
}

// TestKernelCopy: between two local folders, copies go through the
// destination's HostCopier (copy_file_range), with progress counted, unless
// a bandwidth limit or checksum mode needs to see the bytes.
func TestKernelCopy(t *testing.T) {
	for _, c := range []struct {
		name, top, body string
		kernel          bool
	}{
		{"plain", "", "", true},
		{"bandwidth", `limits { bandwidth = "1GiB/s" }`, "", false},
		{"checksum", "", `compare = "checksum"`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.top, c.body)
			src, dst := e.dir("src"), e.dir("dst")
			content := map[string][]byte{"a.txt": []byte("a"), "dir/b.bin": backendtest.RandomBytes(5, 3<<20+7), "c.txt": nil}
			for k, d := range content {
				writeFile(t, src, k, d)
			}
			logs := &logBuf{}
			res, err := e.apply(apply.Options{Log: logs.logger()})
			if err != nil || res.Failed != 0 || res.Created != 3 || res.Bytes != 3<<20+8 {
				t.Fatalf("apply = %+v, %v; want 3 created, %d bytes", res, err, 3<<20+8)
			}
			sameTree(t, src, dst)
			noTemps(t, dst)
			used := len(logs.entries(t, "copying file to file in the kernel (copy_file_range)")) == 1
			if used != c.kernel {
				t.Errorf("kernel copy used = %v; want %v\n%s", used, c.kernel, logs.String())
			}
			for k, d := range content {
				sum := ""
				if c.name == "checksum" {
					h := md5.Sum(d)
					sum = hex.EncodeToString(h[:])
				}
				e.checkRecorded(k, sum)
			}
			e.expectNoChanges()
		})
	}
}
