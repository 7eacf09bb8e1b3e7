package backendtest

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"syncer/backends"
)

// The cases of the optional capabilities (package backends' interfaces
// beyond Backend) run on backends that implement them, found by type
// assertion, and are skipped on others. Each checks the bytes read back.

// resumableSize is above the part size and upload cutoff S3 defaults to
// (16 MiB), so a default S3 backend sends it in two parts.
const resumableSize = 17<<20 + 5

var optionalCases = []struct {
	name string
	fn   func(t *testing.T, b backends.Backend, newBackend func(t *testing.T) backends.Backend)
}{
	{"ResumablePut", func(t *testing.T, b backends.Backend, _ func(t *testing.T) backends.Backend) { testResumablePut(t, b) }},
	{"UploadAbort", func(t *testing.T, b backends.Backend, _ func(t *testing.T) backends.Backend) { testUploadAbort(t, b) }},
	{"BatchDelete", func(t *testing.T, b backends.Backend, _ func(t *testing.T) backends.Backend) { testBatchDelete(t, b) }},
	{"ServerSideCopy", testServerSideCopy},
	{"PinnedRead", func(t *testing.T, b backends.Backend, _ func(t *testing.T) backends.Backend) { testPinnedRead(t, b) }},
	{"SortedList", func(t *testing.T, b backends.Backend, _ func(t *testing.T) backends.Backend) { testSortedList(t, b) }},
}

// testSortedList: ListSorted yields what List does, in byte order of the
// keys, on keys where a folder's name sorts differently from its keys ("a"
// before "a.txt" as names, after it as "a/" keys), with and without a
// prefix.
func testSortedList(t *testing.T, b backends.Backend) {
	sl, ok := b.(backends.SortedLister)
	if !ok {
		t.Skip("no SortedLister")
	}
	keys := append([]string{"a/b", "a.txt", "a-b", "a0", "a/b.c/d", "a/b-c", "a/bc", "b", "é/x", "e/x", "ab/c"}, AwkwardKeys...)
	for _, k := range keys {
		PutBytes(t, b, k, []byte(k))
	}
	for _, prefix := range []string{"", "a", "a/", "a/b", "zz"} {
		var got []string
		err := sl.ListSorted(t.Context(), prefix, func(o backends.Object) error {
			got = append(got, o.Key)
			return nil
		})
		if err != nil {
			t.Fatalf("ListSorted(%q): %v", prefix, err)
		}
		want := Keys(ListAll(t, b, prefix))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("ListSorted(%q) = %q;\nwant %q", prefix, got, want)
		}
	}
}

// blockSize is the block of blockReader streams.
const blockSize = 64 << 10

// blockReader yields bytes [pos, end) of a deterministic pseudo-random
// stream: each block of blockSize bytes is ChaCha8 output keyed by the seed
// and the block's number, so a read from any offset costs at most a block.
type blockReader struct {
	seed     int64
	pos, end int64
	block    *rand.ChaCha8
}

func newBlockReader(seed, off, size int64) *blockReader {
	return &blockReader{seed: seed, pos: off, end: size}
}

func (r *blockReader) Read(p []byte) (int, error) {
	if r.pos >= r.end {
		return 0, io.EOF
	}
	if r.block == nil || r.pos%blockSize == 0 {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], uint64(r.seed))
		binary.LittleEndian.PutUint64(key[8:], uint64(r.pos/blockSize))
		r.block = rand.NewChaCha8(key)
		var skip [512]byte
		for left := r.pos % blockSize; left > 0; left -= min(left, int64(len(skip))) {
			r.block.Read(skip[:min(left, int64(len(skip)))])
		}
	}
	blockEnd := (r.pos/blockSize + 1) * blockSize
	p = p[:min(int64(len(p)), blockEnd-r.pos, r.end-r.pos)]
	n, _ := r.block.Read(p)
	r.pos += int64(n)
	return n, nil
}

// blockSHA256 returns the hex sha256 digest of the size bytes of the
// blockReader stream of seed.
func blockSHA256(seed, size int64) string {
	_, sum, _ := SHA256(newBlockReader(seed, 0, size))
	return sum
}

// cutOpener is a RangeOpener of the blockReader stream of seed, size bytes
// long, whose streams fail with ErrInjected once they reach byte cut (cut <
// 0: never). It records the offset of every range it opens.
type cutOpener struct {
	seed, size, cut int64

	mu      sync.Mutex
	offsets map[int64]bool
}

func (o *cutOpener) open(ctx context.Context, off, length int64) (io.ReadCloser, error) {
	o.mu.Lock()
	if o.offsets == nil {
		o.offsets = map[int64]bool{}
	}
	o.offsets[off] = true
	o.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	end := o.size
	if length >= 0 {
		end = min(off+length, o.size)
	}
	var body io.Reader = newBlockReader(o.seed, off, end)
	if o.cut >= 0 && end > o.cut {
		body = &FailingReader{R: body, N: max(o.cut-off, 0)}
	}
	return io.NopCloser(body), nil
}

// opened reports whether a range starting at off was opened.
func (o *cutOpener) opened(off int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.offsets[off]
}

// checkContent compares the object at key with the blockReader stream of
// seed, size bytes long, streaming.
func checkContent(t *testing.T, b backends.Backend, key string, seed, size int64) {
	t.Helper()
	st, err := b.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	n, sum := readSHA256(t, b, key)
	if want := blockSHA256(seed, size); st.Size != size || n != size || sum != want {
		t.Errorf("%q: Stat size %d, read %d bytes, sha256 %s; want %d bytes, %s", key, st.Size, n, sum, size, want)
	}
}

// putResumable runs a PutResumable of the resumableSize bytes of the
// blockReader stream of seed, from a cutOpener failing at cut (-1: never).
func putResumable(t *testing.T, rp backends.ResumablePutter, key string, seed, cut int64, j backends.UploadJournal) (*cutOpener, backends.Object, error) {
	o := &cutOpener{seed: seed, size: resumableSize, cut: cut}
	mt := time.Date(2022, 3, 4, 5, 6, 7, 0, time.UTC)
	obj, err := rp.PutResumable(t.Context(), key, o.open, backends.Object{Key: key, Size: resumableSize, ModTime: mt}, j)
	return o, obj, err
}

// interruptedPut runs a PutResumable of key whose source fails at its
// last byte (so parts before the last can finish), checks that it failed
// and left no object at key, and returns its journal and what the journal
// records: the upload's id, part size and parts.
func interruptedPut(t *testing.T, b backends.Backend, rp backends.ResumablePutter, key string, seed int64) (*MemJournal, string, int64, []backends.Part) {
	t.Helper()
	j := NewMemJournal()
	o, obj, err := putResumable(t, rp, key, seed, resumableSize-1, j)
	if err == nil {
		t.Fatalf("PutResumable with a source failing at byte %d = %+v, nil; want an error", o.cut, obj)
	}
	if !errors.Is(err, ErrInjected) {
		t.Logf("note: PutResumable error does not wrap the source's error: %v", err)
	}
	AssertNotFound(t, b, key)
	id, ps, parts, err := j.Load(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return j, id, ps, parts
}

// testResumablePut: an upload interrupted by its source, then resumed with
// the same journal, stores the exact bytes, and does not read again the
// parts the journal recorded.
func testResumablePut(t *testing.T, b backends.Backend) {
	rp, ok := b.(backends.ResumablePutter)
	if !ok {
		t.Skipf("%s is not a backends.ResumablePutter", b)
	}
	const key, seed = "resumable/object.bin", 61
	j, _, ps, parts := interruptedPut(t, b, rp, key, seed)
	t.Logf("the interrupted upload left %d parts of %d bytes in the journal", len(parts), ps)

	o, obj, err := putResumable(t, rp, key, seed, -1, j)
	if err != nil {
		t.Fatalf("resumed PutResumable: %v", err)
	}
	checkObject(t, b, "PutResumable", obj, key, resumableSize, nil)
	checkContent(t, b, key, seed, resumableSize)
	for _, p := range parts {
		if off := int64(p.Number-1) * ps; o.opened(off) {
			t.Errorf("the resumed upload read part %d (offset %d) again; the journal had it", p.Number, off)
		}
	}
	if id, _, _, _ := j.Load(t.Context(), key); id != "" {
		t.Errorf("the journal still records upload %q after it completed", id)
	}
	if got := Keys(ListAll(t, b, "")); len(got) != 1 {
		t.Errorf("List = %q; want [%s]", got, key)
	}
}

// testUploadAbort: an upload aborted after an interruption leaves nothing
// at its key and is not resumed; aborting it again is no error.
func testUploadAbort(t *testing.T, b backends.Backend) {
	rp, ok := b.(backends.ResumablePutter)
	ua, ok2 := b.(backends.UploadAborter)
	if !ok || !ok2 {
		t.Skipf("%s is not a backends.ResumablePutter and backends.UploadAborter", b)
	}
	const key, seed = "aborted/object.bin", 62
	j, id, _, _ := interruptedPut(t, b, rp, key, seed)
	if id == "" {
		t.Skipf("%s sent %d bytes in one request: no upload to abort", b, resumableSize)
	}
	for range 2 {
		if err := ua.AbortUpload(t.Context(), key, id); err != nil {
			t.Fatalf("AbortUpload(%q, %q): %v", key, id, err)
		}
	}
	AssertNotFound(t, b, key)
	AssertEmpty(t, b)

	// The journal still names the aborted upload: it must start over.
	o, _, err := putResumable(t, rp, key, seed, -1, j)
	if err != nil {
		t.Fatalf("PutResumable after the abort: %v", err)
	}
	if !o.opened(0) {
		t.Errorf("PutResumable after the abort did not read the first part again: it resumed an aborted upload")
	}
	checkContent(t, b, key, seed, resumableSize)
}

// testBatchDelete: a batch removes exactly its keys; missing ones are no
// error.
func testBatchDelete(t *testing.T, b backends.Backend) {
	bd, ok := b.(backends.BatchDeleter)
	if !ok {
		t.Skipf("%s is not a backends.BatchDeleter", b)
	}
	keep := []string{"keep", "dir/keep", "dir/sub/keep"}
	batch := []string{"gone", "dir/gone", "missing", "dir/sub/gone", "no/such/folder/key"}
	if m := bd.MaxBatch(); m < 1 {
		t.Fatalf("MaxBatch = %d", m)
	} else if len(batch) > m {
		batch = batch[:m]
	}
	for _, k := range append(slices.Clone(keep), batch...) {
		if k != "missing" && k != "no/such/folder/key" {
			PutBytes(t, b, k, []byte(k))
		}
	}
	errs, err := bd.DeleteBatch(t.Context(), batch)
	if err != nil {
		t.Fatalf("DeleteBatch(%q): %v", batch, err)
	}
	if len(errs) != len(batch) {
		t.Fatalf("DeleteBatch(%q) gave %d errors; want one per key", batch, len(errs))
	}
	for i, e := range errs {
		if e != nil {
			t.Errorf("DeleteBatch: key %q: %v", batch[i], e)
		}
	}
	for _, k := range batch {
		AssertNotFound(t, b, k)
	}
	slices.Sort(keep)
	if got := Keys(ListAll(t, b, "")); !slices.Equal(got, keep) {
		t.Errorf("List after DeleteBatch = %q; want %q", got, keep)
	}
	for _, k := range keep {
		if got := ReadAll(t, b, k); string(got) != k {
			t.Errorf("%q = %q after DeleteBatch", k, got)
		}
	}
}

// testServerSideCopy: a copy from a second backend of the same kind holds
// the source's bytes and size, replaces what was at its key, and leaves
// the source alone; a missing source key is ErrNotFound and copies nothing.
func testServerSideCopy(t *testing.T, b backends.Backend, newBackend func(t *testing.T) backends.Backend) {
	sc, ok := b.(backends.ServerSideCopier)
	if !ok {
		t.Skipf("%s is not a backends.ServerSideCopier", b)
	}
	src := newBackend(t)
	if !sc.CanCopyFrom(src) {
		t.Skipf("%s cannot copy server-side from %s", b, src)
	}
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		key  string
		seed int64
		size int64
	}{{"copy/small.txt", 71, 1000}, {"copy/empty", 72, 0}, {"copy/large.bin", 73, 3<<20 + 11}} {
		srcObj, err := src.Put(t.Context(), c.key, newBlockReader(c.seed, 0, c.size), backends.Object{Key: c.key, Size: c.size, ModTime: mt})
		if err != nil {
			t.Fatalf("Put(%q) in the source: %v", c.key, err)
		}
		dst := "copied/" + c.key
		PutBytes(t, b, dst, []byte("old content"))
		obj, err := sc.CopyFrom(t.Context(), src, c.key, dst, srcObj)
		if err != nil {
			t.Fatalf("CopyFrom(%q -> %q): %v", c.key, dst, err)
		}
		checkObject(t, b, "CopyFrom", obj, dst, c.size, nil)
		checkContent(t, b, dst, c.seed, c.size)
		checkContent(t, src, c.key, c.seed, c.size)
	}
	_, err := sc.CopyFrom(t.Context(), src, "missing", "copied/missing", backends.Object{Key: "missing", Size: 1})
	if !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("CopyFrom of a missing key = %v; want ErrNotFound", err)
	}
	AssertNotFound(t, b, "copied/missing")
	if got := ListAll(t, b, ""); len(got) != 3 {
		t.Errorf("List after copies = %q; want the 3 copies", Keys(got))
	}
}

// readPinned reads src's range [offset, offset+length) pinned to src.
func readPinned(t *testing.T, p backends.PinnedOpener, src backends.Object, offset, length int64) ([]byte, error) {
	t.Helper()
	rc, err := p.OpenPinned(t.Context(), src, offset, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// testPinnedRead: a pinned read gives the listed version's bytes, fails
// with ErrSourceChanged once the key holds another version (same size and
// mtime), and a read that began before the overwrite either gives the old
// version whole or fails with ErrSourceChanged; never a mix.
func testPinnedRead(t *testing.T, b backends.Backend) {
	p, ok := b.(backends.PinnedOpener)
	if !ok {
		t.Skipf("%s is not a backends.PinnedOpener", b)
	}
	const key, size = "pinned/file.bin", 300 << 10
	mt := time.Date(2021, 2, 3, 4, 5, 6, 0, time.UTC)
	put := func(seed int64) backends.Object {
		t.Helper()
		if _, err := b.Put(t.Context(), key, newBlockReader(seed, 0, size), backends.Object{Key: key, Size: size, ModTime: mt}); err != nil {
			t.Fatalf("Put: %v", err)
		}
		obj, err := b.Stat(t.Context(), key)
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		return obj
	}
	v1 := put(81)
	want1, _ := io.ReadAll(newBlockReader(81, 0, size))
	got, err := readPinned(t, p, v1, 0, -1)
	if err != nil || !slices.Equal(got, want1) {
		t.Fatalf("pinned read of the listed version: %d bytes (want %d, equal %v), err %v", len(got), size, slices.Equal(got, want1), err)
	}
	if got, err := readPinned(t, p, v1, 1000, 5000); err != nil || !slices.Equal(got, want1[1000:6000]) {
		t.Fatalf("pinned range read: %d bytes, err %v; want bytes [1000, 6000)", len(got), err)
	}

	// A read under way while the key is overwritten.
	rc, err := p.OpenPinned(t.Context(), v1, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 10<<10)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	v2 := put(82)
	rest, err := io.ReadAll(rc)
	rc.Close()
	if err != nil && !errors.Is(err, backends.ErrSourceChanged) {
		t.Errorf("read under way when the key was overwritten: %v; want no error or ErrSourceChanged", err)
	}
	if err == nil && !slices.Equal(append(head, rest...), want1) {
		t.Errorf("read under way when the key was overwritten gave %d bytes that are not the first version, and no error", len(head)+len(rest))
	}

	for _, r := range [][2]int64{{0, -1}, {0, 100}, {size - 100, 100}} {
		if got, err := readPinned(t, p, v1, r[0], r[1]); !errors.Is(err, backends.ErrSourceChanged) {
			t.Errorf("pinned read [%d, +%d) of an overwritten version: %d bytes, err %v; want ErrSourceChanged", r[0], r[1], len(got), err)
		} else if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name the key", err)
		}
	}
	want2, _ := io.ReadAll(newBlockReader(82, 0, size))
	if got, err := readPinned(t, p, v2, 0, -1); err != nil || !slices.Equal(got, want2) {
		t.Errorf("pinned read of the new version: %d bytes, err %v", len(got), err)
	}
	if _, err := readPinned(t, p, backends.Object{Key: "pinned/missing", Size: 5, ETag: v2.ETag}, 0, -1); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("pinned read of a missing key: %v; want ErrNotFound", err)
	}
}
