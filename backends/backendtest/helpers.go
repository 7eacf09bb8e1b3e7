package backendtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"sort"
	"testing"

	"syncer/backends"
)

// ErrInjected is the error a FailingReader fails with unless told otherwise.
var ErrInjected = errors.New("backendtest: injected read failure")

// PutBytes stores data at key (with its size and no ModTime) and fails the
// test on error.
func PutBytes(t testing.TB, b backends.Backend, key string, data []byte) backends.Object {
	t.Helper()
	obj, err := b.Put(t.Context(), key, bytes.NewReader(data), backends.Object{Key: key, Size: int64(len(data))})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return obj
}

// ReadAll returns the whole object at key; for small test objects only.
func ReadAll(t testing.TB, b backends.Backend, key string) []byte {
	t.Helper()
	return ReadRange(t, b, key, 0, -1)
}

// ReadRange returns length bytes of the object at key from offset (length
// < 0: to the end); for small reads only.
func ReadRange(t testing.TB, b backends.Backend, key string, offset, length int64) []byte {
	t.Helper()
	rc, err := b.Open(t.Context(), key, offset, length)
	if err != nil {
		t.Fatalf("Open(%q, %d, %d): %v", key, offset, length, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q (%d, %d): %v", key, offset, length, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("close %q: %v", key, err)
	}
	return data
}

// ListAll returns the listing under prefix keyed by object key, failing the
// test on an error, a duplicate key, an invalid key or a key outside prefix.
// For small test listings only.
func ListAll(t testing.TB, b backends.Backend, prefix string) map[string]backends.Object {
	t.Helper()
	objs := map[string]backends.Object{}
	err := b.List(t.Context(), prefix, func(o backends.Object) error {
		if _, dup := objs[o.Key]; dup {
			t.Errorf("List(%q): key %q listed twice", prefix, o.Key)
		}
		if err := backends.CheckKey(o.Key); err != nil {
			t.Errorf("List(%q): %v", prefix, err)
		}
		if len(o.Key) < len(prefix) || o.Key[:len(prefix)] != prefix {
			t.Errorf("List(%q): key %q is outside the prefix", prefix, o.Key)
		}
		objs[o.Key] = o
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return objs
}

// Keys returns the sorted keys of a ListAll result.
func Keys(objs map[string]backends.Object) []string {
	keys := make([]string, 0, len(objs))
	for k := range objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// AssertNotFound fails the test unless Stat and Open both report key
// missing with an error wrapping backends.ErrNotFound.
func AssertNotFound(t testing.TB, b backends.Backend, key string) {
	t.Helper()
	if obj, err := b.Stat(t.Context(), key); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Stat(%q) = %+v, %v; want ErrNotFound", key, obj, err)
	}
	rc, err := b.Open(t.Context(), key, 0, -1)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Open(%q) error = %v; want ErrNotFound", key, err)
	}
}

// AssertEmpty fails the test unless List("") yields nothing.
func AssertEmpty(t testing.TB, b backends.Backend) {
	t.Helper()
	if objs := ListAll(t, b, ""); len(objs) != 0 {
		t.Errorf("List(\"\") = %q; want nothing", Keys(objs))
	}
}

// FailingReader yields the first N bytes of R (zero bytes when R is nil),
// then fails with Err (ErrInjected when nil).
type FailingReader struct {
	R   io.Reader
	N   int64
	Err error
	n   int64
}

func (r *FailingReader) Read(p []byte) (int, error) {
	if r.n >= r.N {
		return 0, r.err()
	}
	if int64(len(p)) > r.N-r.n {
		p = p[:r.N-r.n]
	}
	if r.R == nil {
		clear(p)
		r.n += int64(len(p))
		return len(p), nil
	}
	n, err := r.R.Read(p)
	r.n += int64(n)
	if err == io.EOF {
		err = r.err() // R ran out early: fail now
		if n > 0 {
			err = nil
			r.N = r.n
		}
	}
	return n, err
}

func (r *FailingReader) err() error {
	if r.Err != nil {
		return r.Err
	}
	return ErrInjected
}

// CancelReader yields R's bytes and calls Cancel once After bytes have been
// read; it keeps yielding afterwards, so only the backend's own context
// checks can stop a transfer.
type CancelReader struct {
	R      io.Reader
	After  int64
	Cancel context.CancelFunc
	n      int64
	done   bool
}

func (r *CancelReader) Read(p []byte) (int, error) {
	n, err := r.R.Read(p)
	r.n += int64(n)
	if !r.done && r.n >= r.After {
		r.done = true
		r.Cancel()
	}
	return n, err
}

// RandomReader returns size deterministic pseudo-random bytes derived from
// seed, generated as they are read (constant memory whatever the size).
func RandomReader(seed int64, size int64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], uint64(seed))
	return io.LimitReader(rand.NewChaCha8(s), size)
}

// RandomBytes returns the same bytes as RandomReader, in memory; for small
// sizes only.
func RandomBytes(seed int64, size int) []byte {
	data := make([]byte, size)
	if _, err := io.ReadFull(RandomReader(seed, int64(size)), data); err != nil {
		panic(err)
	}
	return data
}

// SHA256 streams r and returns its length and hex sha256 digest.
func SHA256(r io.Reader) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// RandomSHA256 returns the hex sha256 digest of RandomReader(seed, size).
func RandomSHA256(seed, size int64) string {
	_, sum, _ := SHA256(RandomReader(seed, size))
	return sum
}

func md5Hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}
