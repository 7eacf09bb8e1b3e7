// Package backendtest is the conformance suite every syncer backend passes,
// plus helpers for tests that use backends.
//
// A backend joins in a few lines:
//
//	func TestBackend(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backends.Backend { return newEmptyBackend(t) })
//	}
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"syncer/backends"
)

// Run runs every case against a backend made by newBackend. Each call must
// return a fresh, empty backend (a new temp folder, a new bucket prefix).
// The cases of optional capabilities run where the backend has them; the
// server-side copy case copies from a second backend made by newBackend.
func Run(t *testing.T, newBackend func(t *testing.T) backends.Backend) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newBackend(t)) })
	}
	for _, c := range optionalCases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newBackend(t), newBackend) })
	}
}

var cases = []struct {
	name string
	fn   func(t *testing.T, b backends.Backend)
}{
	{"EmptyList", testEmptyList},
	{"ListAfterPut", testListAfterPut},
	{"ListPrefix", testListPrefix},
	{"ListManyKeys", testListManyKeys},
	{"ListFnError", testListFnError},
	{"ListCancelled", testListCancelled},
	{"AwkwardKeys", testAwkwardKeys},
	{"ModTime", testModTime},
	{"NotFound", testNotFound},
	{"FolderIsNotObject", testFolderIsNotObject},
	{"RangeReads", testRangeReads},
	{"Overwrite", testOverwrite},
	{"FailingReader", testFailingReader},
	{"SizeMismatch", testSizeMismatch},
	{"LargeObject", testLargeObject},
	{"LargeObjectUnknownSize", testLargeObjectUnknownSize},
	{"Delete", testDelete},
	{"InvalidKeys", testInvalidKeys},
	{"CancelledPut", testCancelledPut},
	{"ConcurrentPutSameKey", testConcurrentPutSameKey},
	{"Hashes", testHashes},
}

// within reports whether a and b differ by less than prec.
func within(a, b time.Time, prec time.Duration) bool {
	d := a.Sub(b)
	if d < 0 {
		d = -d
	}
	return d < prec || d == 0
}

// checkObject compares what a backend reported (from Put, Stat or List)
// with the expected key and size, and, when want is non-nil, with the other
// report of the same object.
func checkObject(t *testing.T, b backends.Backend, what string, got backends.Object, key string, size int64, want *backends.Object) {
	t.Helper()
	if got.Key != key {
		t.Errorf("%s: Key = %q; want %q", what, got.Key, key)
	}
	if got.Size != size {
		t.Errorf("%s %q: Size = %d; want %d", what, key, got.Size, size)
	}
	if want == nil {
		return
	}
	// Precision 0: the backend keeps no modification times (compared on
	// size and hashes only), so there is nothing to agree on.
	if prec := backends.ModTimePrecision(b); prec > 0 && !within(got.ModTime, want.ModTime, prec) {
		t.Errorf("%s %q: ModTime = %v; Put reported %v (precision %v)", what, key, got.ModTime, want.ModTime, prec)
	}
	if want.ETag != "" && got.ETag != "" && got.ETag != want.ETag {
		t.Errorf("%s %q: ETag = %q; Put reported %q", what, key, got.ETag, want.ETag)
	}
}

func testEmptyList(t *testing.T, b backends.Backend) {
	for _, prefix := range []string{"", "a", "a/", "a/b"} {
		if objs := ListAll(t, b, prefix); len(objs) != 0 {
			t.Errorf("List(%q) on an empty backend = %q", prefix, Keys(objs))
		}
	}
}

func testListAfterPut(t *testing.T, b backends.Backend) {
	sizes := map[string]int{"a": 0, "b/c": 1, "b/d/e": 100, "f.txt": 70000}
	put := map[string]backends.Object{}
	for key, size := range sizes {
		put[key] = PutBytes(t, b, key, RandomBytes(int64(size), size))
		checkObject(t, b, "Put", put[key], key, int64(size), nil)
	}
	objs := ListAll(t, b, "")
	if len(objs) != len(sizes) {
		t.Errorf("List = %q; want %d keys", Keys(objs), len(sizes))
	}
	for key, size := range sizes {
		want := put[key]
		o, ok := objs[key]
		if !ok {
			t.Errorf("List: %q missing", key)
			continue
		}
		checkObject(t, b, "List", o, key, int64(size), &want)
		st, err := b.Stat(t.Context(), key)
		if err != nil {
			t.Errorf("Stat(%q): %v", key, err)
			continue
		}
		checkObject(t, b, "Stat", st, key, int64(size), &want)
	}
}

func testListPrefix(t *testing.T, b backends.Backend) {
	keys := []string{
		"photos/2019-01/a.jpg", "photos/2019-02/b.jpg", "photos/2019.txt",
		"photos/2020/c.jpg", "photos/.hidden", "photosx", "p", "docs/d.txt", ".dotfile",
	}
	for _, k := range keys {
		PutBytes(t, b, k, []byte(k))
	}
	prefixes := []string{
		"", "p", "photos", "photos/", "photos/2019", "photos/2019-0", "photos/2019-01",
		"photos/2019-01/", "photos/2019-01/a", "photos/2019-01/a.jpg", "photos/2019-01/a.jpg/",
		"photos/2020", "photos/2020/", "photos/.", ".", "docs/d", "nothing", "nothing/", "nothing/x",
	}
	for _, prefix := range prefixes {
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		sort.Strings(want)
		got := Keys(ListAll(t, b, prefix))
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("List(%q) = %q; want %q", prefix, got, want)
		}
	}
}

// testListManyKeys lists past the page sizes of remote stores (S3: 1,000).
func testListManyKeys(t *testing.T, b backends.Backend) {
	const n = 2500
	key := func(i int) string { return fmt.Sprintf("many/k%05d", i) }
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				data := []byte(fmt.Sprint(i))
				if _, err := b.Put(t.Context(), key(i), bytes.NewReader(data), backends.Object{Size: int64(len(data))}); err != nil {
					t.Errorf("Put(%q): %v", key(i), err)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		return
	}
	PutBytes(t, b, "other", []byte("x"))

	for _, prefix := range []string{"", "many/", "many/k"} {
		seen := make([]bool, n)
		count := 0
		err := b.List(t.Context(), prefix, func(o backends.Object) error {
			var i int
			if _, err := fmt.Sscanf(o.Key, "many/k%05d", &i); err != nil || i < 0 || i >= n || key(i) != o.Key {
				if prefix != "" || o.Key != "other" {
					t.Errorf("List(%q): unexpected key %q", prefix, o.Key)
				}
				return nil
			}
			if seen[i] {
				t.Errorf("List(%q): %q listed twice", prefix, o.Key)
			}
			if want := int64(len(fmt.Sprint(i))); o.Size != want {
				t.Errorf("List(%q): %q Size = %d; want %d", prefix, o.Key, o.Size, want)
			}
			seen[i] = true
			count++
			return nil
		})
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		if count != n {
			t.Errorf("List(%q) found %d of %d keys", prefix, count, n)
		}
	}
}

func testListFnError(t *testing.T, b backends.Backend) {
	for _, k := range []string{"a", "b/c", "d/e/f"} {
		PutBytes(t, b, k, []byte(k))
	}
	stop := errors.New("stop here")
	calls := 0
	err := b.List(t.Context(), "", func(backends.Object) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("List with failing fn = %v; want %v", err, stop)
	}
	if calls != 1 {
		t.Errorf("fn called %d times after returning an error; want 1", calls)
	}
}

func testListCancelled(t *testing.T, b backends.Backend) {
	for _, k := range []string{"a", "b/c"} {
		PutBytes(t, b, k, []byte(k))
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := b.List(ctx, "", func(backends.Object) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context = %v; want context.Canceled", err)
	}
}

// AwkwardKeys are names that trip up path handling and URL encoding.
var AwkwardKeys = []string{
	"with space", "a dir/with space.txt", " leading space", "trailing space ",
	"café/é.txt", "日本/日本語.txt", "100%", "%41", "%2F%2e%2e", "a+b", "a+/+b",
	"#hash", "a&b=c", "q?x=1&y", "~tilde", "semi;colon,comma", "(paren)[bracket]{brace}",
	`quote'"dq`, "at@sign$dollar!bang*star", ".hidden", "..x", "x..", "dir/.hidden/..y",
	"emoji/🙂.txt", "long/" + strings.Repeat("n", 200),
	strings.Repeat("deep/", 19) + "bottom.txt", // 20 levels
}

func testAwkwardKeys(t *testing.T, b backends.Backend) {
	want := map[string][]byte{}
	for _, k := range AwkwardKeys {
		want[k] = []byte("content of " + k)
	}
	want["empty"] = nil
	want["zero/empty.bin"] = nil
	for k, data := range want {
		obj := PutBytes(t, b, k, data)
		checkObject(t, b, "Put", obj, k, int64(len(data)), nil)
		st, err := b.Stat(t.Context(), k)
		if err != nil {
			t.Errorf("Stat(%q): %v", k, err)
			continue
		}
		checkObject(t, b, "Stat", st, k, int64(len(data)), &obj)
		if got := ReadAll(t, b, k); !bytes.Equal(got, data) {
			t.Errorf("Open(%q) = %q; want %q", k, got, data)
		}
	}
	objs := ListAll(t, b, "")
	for k, data := range want {
		o, ok := objs[k]
		if !ok {
			t.Errorf("List: %q missing", k)
			continue
		}
		checkObject(t, b, "List", o, k, int64(len(data)), nil)
		if objs := ListAll(t, b, k); len(objs) != 1 {
			t.Errorf("List(%q) = %q; want just the key", k, Keys(objs))
		}
	}
	for k := range objs {
		if _, ok := want[k]; !ok {
			t.Errorf("List: unexpected key %q", k)
		}
	}
}

func testModTime(t *testing.T, b backends.Backend) {
	prec := backends.ModTimePrecision(b)
	if prec == 0 {
		t.Skipf("%s keeps no modification times (Precision() == 0)", b)
	}
	times := map[string]time.Time{
		"nanos":        time.Date(2019, 5, 6, 7, 8, 9, 123456789, time.UTC),
		"dir/seconds":  time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC),
		"zone":         time.Date(2024, 2, 29, 23, 59, 59, 500000000, time.FixedZone("X", 5*3600+1800)),
		"future/y2040": time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for k, mt := range times {
		data := []byte(k)
		obj, err := b.Put(t.Context(), k, bytes.NewReader(data), backends.Object{Key: k, Size: int64(len(data)), ModTime: mt})
		if err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
		if !within(obj.ModTime, mt, prec) {
			t.Errorf("Put(%q) ModTime = %v; want %v (precision %v)", k, obj.ModTime, mt, prec)
		}
		st, err := b.Stat(t.Context(), k)
		if err != nil {
			t.Fatalf("Stat(%q): %v", k, err)
		}
		if !within(st.ModTime, mt, prec) {
			t.Errorf("Stat(%q) ModTime = %v; want %v (precision %v)", k, st.ModTime, mt, prec)
		}
	}
	for k, o := range ListAll(t, b, "") {
		if !within(o.ModTime, times[k], prec) {
			t.Errorf("List: %q ModTime = %v; want %v (precision %v)", k, o.ModTime, times[k], prec)
		}
	}

	// Without a source time the backend picks its own: unknown or about now.
	obj := PutBytes(t, b, "now", []byte("now"))
	if !obj.ModTime.IsZero() {
		if d := time.Since(obj.ModTime); d > 24*time.Hour || d < -24*time.Hour {
			t.Errorf("Put without ModTime: ModTime = %v; want about now", obj.ModTime)
		}
	}
}

func testNotFound(t *testing.T, b backends.Backend) {
	AssertNotFound(t, b, "missing")
	AssertNotFound(t, b, "no/such/folder/key")
	PutBytes(t, b, "present", []byte("x"))
	AssertNotFound(t, b, "presen")
	AssertNotFound(t, b, "present2")
}

func testFolderIsNotObject(t *testing.T, b backends.Backend) {
	PutBytes(t, b, "dir/sub/f", []byte("f"))
	AssertNotFound(t, b, "dir")
	AssertNotFound(t, b, "dir/sub")
	if err := b.Delete(t.Context(), "dir"); err != nil {
		t.Errorf("Delete of a folder name: %v; want nil (not an object)", err)
	}
	if got := Keys(ListAll(t, b, "")); len(got) != 1 || got[0] != "dir/sub/f" {
		t.Errorf("List = %q; want [dir/sub/f]", got)
	}
	if got := ReadAll(t, b, "dir/sub/f"); string(got) != "f" {
		t.Errorf("dir/sub/f = %q after Delete(\"dir\")", got)
	}
}

func testRangeReads(t *testing.T, b backends.Backend) {
	data := RandomBytes(7, 1000)
	PutBytes(t, b, "r", data)
	for _, c := range []struct{ off, n int64 }{
		{0, -1}, {0, 1000}, {0, 1}, {100, -1}, {100, 50}, {999, -1}, {999, 1},
		{990, 100}, {0, 5000}, {1000, -1}, {1000, 10}, {10, 0}, {0, 0},
	} {
		want := data[c.off:]
		if c.n >= 0 && c.n < int64(len(want)) {
			want = want[:c.n]
		}
		if got := ReadRange(t, b, "r", c.off, c.n); !bytes.Equal(got, want) {
			t.Errorf("Open(off=%d, len=%d) gave %d bytes; want %d (equal: %v)",
				c.off, c.n, len(got), len(want), bytes.HasPrefix(want, got))
		}
	}
	PutBytes(t, b, "zero", nil)
	if got := ReadRange(t, b, "zero", 0, -1); len(got) != 0 {
		t.Errorf("zero-byte object read %d bytes", len(got))
	}
}

func testOverwrite(t *testing.T, b backends.Backend) {
	for i, size := range []int{1000, 10, 0, 300000, 7} {
		data := RandomBytes(int64(i), size)
		obj := PutBytes(t, b, "k", data)
		checkObject(t, b, "Put", obj, "k", int64(size), nil)
		st, err := b.Stat(t.Context(), "k")
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		checkObject(t, b, "Stat", st, "k", int64(size), &obj)
		if got := ReadAll(t, b, "k"); !bytes.Equal(got, data) {
			t.Fatalf("overwrite %d: read %d bytes, want %d (content differs)", i, len(got), size)
		}
		objs := ListAll(t, b, "")
		if len(objs) != 1 || objs["k"].Size != int64(size) {
			t.Fatalf("overwrite %d: List = %+v; want only k with size %d", i, objs, size)
		}
	}
}

// putFails runs Put and checks that it failed and that key then holds old
// (nil: nothing) and the listing has only the other keys.
func putFails(t *testing.T, b backends.Backend, ctx context.Context, key string, r io.Reader, src backends.Object, old []byte) error {
	t.Helper()
	src.Key = key
	obj, err := b.Put(ctx, key, r, src)
	if err == nil {
		t.Errorf("Put(%q) = %+v, nil; want an error", key, obj)
	}
	if old == nil {
		AssertNotFound(t, b, key)
		if objs := ListAll(t, b, key); len(objs) != 0 {
			t.Errorf("after failed Put(%q), List = %q", key, Keys(objs))
		}
	} else if got := ReadAll(t, b, key); !bytes.Equal(got, old) {
		t.Errorf("after failed Put(%q), content = %d bytes; want the old %d bytes", key, len(got), len(old))
	}
	return err
}

func testFailingReader(t *testing.T, b backends.Backend) {
	old := RandomBytes(1, 2000)
	PutBytes(t, b, "existing", old)
	for _, size := range []int64{1000, -1} {
		for _, c := range []struct {
			key string
			old []byte
		}{{"new", nil}, {"dir/new", nil}, {"existing", old}} {
			r := &FailingReader{R: RandomReader(2, 1000), N: 500}
			err := putFails(t, b, t.Context(), c.key, r, backends.Object{Size: size}, c.old)
			if err != nil && !errors.Is(err, ErrInjected) {
				t.Logf("note: Put(%q) error does not wrap the reader's error: %v", c.key, err)
			}
		}
	}
	if got := Keys(ListAll(t, b, "")); len(got) != 1 {
		t.Errorf("List = %q; want [existing]", got)
	}
}

func testSizeMismatch(t *testing.T, b backends.Backend) {
	old := []byte("old content")
	PutBytes(t, b, "existing", old)
	for _, c := range []struct {
		name       string
		size, give int64
	}{{"short", 1000, 500}, {"empty", 10, 0}, {"long", 500, 1000}, {"long-from-zero", 0, 1}} {
		putFails(t, b, t.Context(), "new-"+c.name, RandomReader(3, c.give), backends.Object{Size: c.size}, nil)
		putFails(t, b, t.Context(), "existing", RandomReader(3, c.give), backends.Object{Size: c.size}, old)
	}
	if got := Keys(ListAll(t, b, "")); len(got) != 1 {
		t.Errorf("List = %q; want [existing]", got)
	}
}

// readSHA256 streams the object at key and returns its length and hex
// sha256 digest, failing the test on an error.
func readSHA256(t *testing.T, b backends.Backend, key string) (int64, string) {
	t.Helper()
	rc, err := b.Open(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	n, sum, err := SHA256(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return n, sum
}

// checkLarge compares the object at key with RandomReader(seed, size) by
// streaming digests, whole and in one range.
func checkLarge(t *testing.T, b backends.Backend, key string, seed, size int64) {
	t.Helper()
	st, err := b.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if st.Size != size {
		t.Errorf("Stat(%q) Size = %d; want %d", key, st.Size, size)
	}
	if n, sum := readSHA256(t, b, key); n != size || sum != RandomSHA256(seed, size) {
		t.Errorf("%q: read %d bytes, sha256 %s; want %d bytes, %s", key, n, sum, size, RandomSHA256(seed, size))
	}

	off, length := size/2+7, int64(1<<20+3)
	rc, err := b.Open(t.Context(), key, off, length)
	if err != nil {
		t.Fatalf("Open(%q, %d, %d): %v", key, off, length, err)
	}
	_, sum, err := SHA256(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("read %q range: %v", key, err)
	}
	want := RandomReader(seed, size)
	if _, err := io.CopyN(io.Discard, want, off); err != nil {
		t.Fatal(err)
	}
	if _, wantSum, _ := SHA256(io.LimitReader(want, length)); sum != wantSum {
		t.Errorf("%q range (%d, %d): content differs", key, off, length)
	}
}

func testLargeObject(t *testing.T, b backends.Backend) {
	const size = 20 << 20
	obj, err := b.Put(t.Context(), "big/object.bin", RandomReader(42, size), backends.Object{Key: "big/object.bin", Size: size})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	checkObject(t, b, "Put", obj, "big/object.bin", size, nil)
	checkLarge(t, b, "big/object.bin", 42, size)
}

func testLargeObjectUnknownSize(t *testing.T, b backends.Backend) {
	const size = 12<<20 + 12345
	obj, err := b.Put(t.Context(), "big/unknown.bin", RandomReader(43, size), backends.Object{Key: "big/unknown.bin", Size: -1})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	checkObject(t, b, "Put", obj, "big/unknown.bin", size, nil)
	checkLarge(t, b, "big/unknown.bin", 43, size)
}

func testDelete(t *testing.T, b backends.Backend) {
	PutBytes(t, b, "a/b/c", []byte("c"))
	PutBytes(t, b, "a/d", []byte("d"))
	PutBytes(t, b, "e", []byte("e"))
	for _, k := range []string{"a/b/c", "e"} {
		if err := b.Delete(t.Context(), k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
		AssertNotFound(t, b, k)
	}
	if got := Keys(ListAll(t, b, "")); len(got) != 1 || got[0] != "a/d" {
		t.Errorf("List after deletes = %q; want [a/d]", got)
	}
	for _, k := range []string{"e", "missing", "no/such/folder/key", "a/b/c"} {
		if err := b.Delete(t.Context(), k); err != nil {
			t.Errorf("Delete of missing %q = %v; want nil", k, err)
		}
	}
	// The folder may have been pruned; putting into it again must work.
	PutBytes(t, b, "a/b/c", []byte("again"))
	if got := ReadAll(t, b, "a/b/c"); string(got) != "again" {
		t.Errorf("a/b/c after re-Put = %q", got)
	}
}

// InvalidKeys must be refused by every backend operation.
var InvalidKeys = []string{
	"", "/abs", "/", "../x", "..", ".", "a/..", "a/../b", "a/./b", "./a", "a//b", "a/", "a/b/",
	"bad\xffutf8", "nul\x00byte",
}

func testInvalidKeys(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	for _, k := range InvalidKeys {
		if obj, err := b.Put(ctx, k, strings.NewReader("data"), backends.Object{Size: 4}); err == nil {
			t.Errorf("Put(%q) = %+v, nil; want an error", k, obj)
		}
		if obj, err := b.Stat(ctx, k); err == nil || errors.Is(err, backends.ErrNotFound) {
			t.Errorf("Stat(%q) = %+v, %v; want an invalid-key error", k, obj, err)
		}
		rc, err := b.Open(ctx, k, 0, -1)
		if err == nil {
			rc.Close()
		}
		if err == nil || errors.Is(err, backends.ErrNotFound) {
			t.Errorf("Open(%q) error = %v; want an invalid-key error", k, err)
		}
		if err := b.Delete(ctx, k); err == nil {
			t.Errorf("Delete(%q) = nil; want an error", k)
		}
	}
	AssertEmpty(t, b)
}

func testCancelledPut(t *testing.T, b backends.Backend) {
	old := []byte("old content")
	PutBytes(t, b, "existing", old)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range []struct {
		key string
		old []byte
	}{{"new", nil}, {"dir/new", nil}, {"existing", old}} {
		err := putFails(t, b, ctx, c.key, strings.NewReader("data"), backends.Object{Size: 4}, c.old)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Put(%q) with a cancelled context = %v; want context.Canceled", c.key, err)
		}
	}

	// Cancelled mid-stream: the reader keeps giving bytes after the cancel.
	for _, c := range []struct {
		key string
		old []byte
	}{{"mid/new", nil}, {"existing", old}} {
		for _, size := range []int64{4 << 20, -1} {
			ctx, cancel := context.WithCancel(t.Context())
			r := &CancelReader{R: RandomReader(5, 4<<20), After: 1 << 20, Cancel: cancel}
			err := putFails(t, b, ctx, c.key, r, backends.Object{Size: size}, c.old)
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Put(%q) cancelled mid-stream = %v; want context.Canceled", c.key, err)
			}
			cancel()
		}
	}
	if got := Keys(ListAll(t, b, "")); len(got) != 1 {
		t.Errorf("List = %q; want [existing]", got)
	}
}

func testConcurrentPutSameKey(t *testing.T, b backends.Backend) {
	const writers, size = 8, 100 << 10
	var wg sync.WaitGroup
	sums := map[string]bool{}
	for i := range writers {
		sums[RandomSHA256(int64(i), size)] = true
		wg.Go(func() {
			if _, err := b.Put(t.Context(), "same", RandomReader(int64(i), size), backends.Object{Size: size}); err != nil {
				t.Errorf("Put %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	rc, err := b.Open(t.Context(), "same", 0, -1)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	n, sum, err := SHA256(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if n != size || !sums[sum] {
		t.Errorf("after concurrent Puts: %d bytes, content matches no writer", n)
	}
	if got := Keys(ListAll(t, b, "")); len(got) != 1 {
		t.Errorf("List = %q; want [same]", got)
	}
}

// testHashes checks any digest a backend reports, and Hasher when present.
func testHashes(t *testing.T, b backends.Backend) {
	data := RandomBytes(9, 12345)
	want := map[backends.HashType]string{
		backends.MD5:    md5Hex(data),
		backends.SHA256: RandomSHA256(9, 12345),
	}
	put := PutBytes(t, b, "h", data)
	st, err := b.Stat(t.Context(), "h")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	listed := ListAll(t, b, "")["h"]
	for what, o := range map[string]backends.Object{"Put": put, "Stat": st, "List": listed} {
		for ht, sum := range o.Hashes {
			if w, known := want[ht]; known && sum != w {
				t.Errorf("%s reported %s %s; want %s", what, ht, sum, w)
			}
		}
	}
	h, ok := b.(backends.Hasher)
	if !ok {
		return
	}
	supported := 0
	for ht, w := range want {
		got, err := h.Hash(t.Context(), "h", ht)
		if err != nil {
			t.Logf("Hash(%s): %v", ht, err)
			continue
		}
		supported++
		if got != w {
			t.Errorf("Hash(%s) = %s; want %s", ht, got, w)
		}
	}
	if supported == 0 {
		t.Errorf("Hasher supports neither md5 nor sha256")
	}
	if _, err := h.Hash(t.Context(), "missing", backends.SHA256); err == nil {
		t.Errorf("Hash of a missing key: no error")
	}
}
