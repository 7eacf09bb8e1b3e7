package backendtest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/backendtest"
)

var epoch = time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)

func TestMem(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend { return backendtest.NewMem("mem") })
}

// The capability wrappers keep the base contract.
func TestMemWrappers(t *testing.T) {
	t.Run("Batch", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backends.Backend { return backendtest.NewMemBatch(backendtest.NewMem("b"), 3) })
	})
	t.Run("Copier", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backends.Backend { return backendtest.MemCopier{Mem: backendtest.NewMem("c")} })
	})
	t.Run("Resumable", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backends.Backend { return backendtest.NewMemResumable(backendtest.NewMem("r"), 1000) })
	})
}

func TestMemFaultsAndCalls(t *testing.T) {
	m := backendtest.NewMem("m")
	boom := errors.New("boom")
	m.SetFault(func(op, key string) error {
		if op == "put" && key == "bad" {
			return boom
		}
		return nil
	})
	backendtest.PutBytes(t, m, "good", []byte("x"))
	if _, err := m.Put(t.Context(), "bad", bytes.NewReader([]byte("y")), backends.Object{Size: 1}); !errors.Is(err, boom) {
		t.Errorf("Put(bad) = %v; want the injected error", err)
	}
	if got := m.Calls("put"); got != 2 {
		t.Errorf("Calls(put) = %d; want 2", got)
	}
	if got := m.Keys(); !slices.Equal(got, []string{"good"}) {
		t.Errorf("Keys = %q; want [good]", got)
	}
	m.SetFault(nil)
	m.Set("bad", []byte("set"), epoch)
	if d, ok := m.Data("bad"); !ok || string(d) != "set" {
		t.Errorf("Data(bad) = %q, %v", d, ok)
	}
	if got := m.Calls("put"); got != 2 {
		t.Errorf("Set counted as a put: Calls(put) = %d", got)
	}
}

func TestMemBatch(t *testing.T) {
	m := backendtest.NewMem("m")
	b := backendtest.NewMemBatch(m, 2)
	for _, k := range []string{"a", "b", "c"} {
		m.Set(k, []byte(k), epoch)
	}
	m.SetFault(func(op, key string) error {
		if op == "delete" && key == "b" {
			return errors.New("denied")
		}
		return nil
	})
	errs, err := b.DeleteBatch(t.Context(), []string{"a", "b"})
	if err != nil || len(errs) != 2 || errs[0] != nil || errs[1] == nil {
		t.Errorf("DeleteBatch = %v, %v; want [nil, error], nil", errs, err)
	}
	if _, err := b.DeleteBatch(t.Context(), []string{"a", "b", "c"}); err == nil {
		t.Errorf("DeleteBatch of 3 keys with MaxBatch 2: no error")
	}
	if got := m.Keys(); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("Keys = %q; want [b c]", got)
	}
	if got := b.Batches(); len(got) != 2 || len(got[0]) != 2 || len(got[1]) != 3 {
		t.Errorf("Batches = %q", got)
	}
}

func TestMemCopier(t *testing.T) {
	src := backendtest.NewMem("src")
	dst := backendtest.MemCopier{Mem: backendtest.NewMem("dst")}
	src.Set("k", []byte("hello"), epoch)
	if !dst.CanCopyFrom(src) || !dst.CanCopyFrom(backendtest.NewMemBatch(src, 1)) {
		t.Fatal("CanCopyFrom(a Mem) = false")
	}
	obj, err := dst.CopyFrom(t.Context(), src, "k", "copy", backends.Object{Key: "k", Size: 5, ModTime: epoch})
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != 5 || !obj.ModTime.Equal(epoch) {
		t.Errorf("CopyFrom = %+v", obj)
	}
	if d, _ := dst.Data("copy"); string(d) != "hello" {
		t.Errorf("copied %q", d)
	}
	if src.Calls("open") != 0 {
		t.Errorf("CopyFrom opened the source")
	}
	if _, err := dst.CopyFrom(t.Context(), src, "missing", "x", backends.Object{Size: -1}); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("CopyFrom(missing) = %v; want ErrNotFound", err)
	}
}

func TestMemResumable(t *testing.T) {
	data := backendtest.RandomBytes(1, 10*100+7)
	src := backendtest.NewMem("src")
	src.Set("big", data, epoch)
	open := func(ctx context.Context, off, n int64) (io.ReadCloser, error) { return src.Open(ctx, "big", off, n) }
	dst := backendtest.NewMemResumable(backendtest.NewMem("dst"), 100)
	j := backendtest.NewMemJournal()

	ctx, cancel := context.WithCancel(t.Context())
	dst.AfterPart = func(key string, p backends.Part) {
		if p.Number == 3 {
			cancel()
		}
	}
	obj := backends.Object{Key: "big", Size: int64(len(data)), ModTime: epoch}
	if _, err := dst.PutResumable(ctx, "big", open, obj, j); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted PutResumable = %v; want context.Canceled", err)
	}
	backendtest.AssertNotFound(t, dst, "big")
	id, ps, parts, _ := j.Load(t.Context(), "big")
	if id == "" || ps != 100 || len(parts) != 3 {
		t.Fatalf("journal after interruption: id %q, part size %d, %d parts; want 3 parts of 100", id, ps, len(parts))
	}
	if got := dst.InProgress(); !slices.Equal(got, []string{id}) {
		t.Errorf("InProgress = %q; want [%s]", got, id)
	}

	dst.AfterPart = nil
	before := len(dst.Reads())
	got, err := dst.PutResumable(t.Context(), "big", open, obj, j)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != int64(len(data)) {
		t.Errorf("Size = %d", got.Size)
	}
	var offsets []int64
	for _, r := range dst.Reads()[before:] {
		offsets = append(offsets, r.Offset)
	}
	if want := []int64{300, 400, 500, 600, 700, 800, 900, 1000}; !slices.Equal(offsets, want) {
		t.Errorf("resumed reads at %v; want %v", offsets, want)
	}
	if d, _ := dst.Data("big"); !bytes.Equal(d, data) {
		t.Errorf("resumed object differs from the source")
	}
	if k := j.Keys(); len(k) != 0 || len(dst.InProgress()) != 0 {
		t.Errorf("after completion: journal %q, uploads %q", k, dst.InProgress())
	}

	// A journal entry the store no longer knows starts over.
	if err := j.Started(t.Context(), "big", "unknown-id", 100); err != nil {
		t.Fatal(err)
	}
	before = len(dst.Reads())
	if _, err := dst.PutResumable(t.Context(), "big", open, obj, j); err != nil {
		t.Fatal(err)
	}
	if n := len(dst.Reads()) - before; n != 11 {
		t.Errorf("restarted upload read %d parts; want 11", n)
	}
	if err := dst.AbortUpload(t.Context(), "big", "nothing"); err != nil {
		t.Errorf("AbortUpload of a missing upload: %v", err)
	}
	if got := dst.Aborted(); !slices.Equal(got, []string{"nothing"}) {
		t.Errorf("Aborted = %q", got)
	}
}
