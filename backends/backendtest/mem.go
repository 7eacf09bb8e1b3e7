package backendtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"syncer/backends"
)

// Mem is an in-memory backends.Backend for tests. It keeps whole objects in
// memory, so it is for small test data only. Besides the contract it
// implements backends.Hasher (md5, sha256) and backends.Precisioner (1 ns),
// reports each object's md5 in Hashes, and counts calls per operation.
//
// The capability wrappers MemBatch, MemCopier and MemResumable add the
// optional interfaces of package backends on top of a Mem.
type Mem struct {
	name string

	mu    sync.Mutex
	objs  map[string]memObject
	gen   int64
	calls map[string]int
	fault func(op, key string) error
}

type memObject struct {
	data []byte // never modified once stored
	mod  time.Time
	etag string
	md5  string
}

var (
	_ backends.Backend      = (*Mem)(nil)
	_ backends.Hasher       = (*Mem)(nil)
	_ backends.Precisioner  = (*Mem)(nil)
	_ backends.PinnedOpener = (*Mem)(nil)
)

// NewMem returns an empty in-memory backend; name appears in String().
func NewMem(name string) *Mem {
	return &Mem{name: name, objs: map[string]memObject{}, calls: map[string]int{}}
}

// String returns e.g. `mem "dst"`.
func (m *Mem) String() string { return fmt.Sprintf("mem %q", m.name) }

// Precision reports that modification times are kept to the nanosecond.
func (m *Mem) Precision() time.Duration { return time.Nanosecond }

// SetFault installs f (nil removes it). It is called at the start of every
// operation with its name ("list", "stat", "open", "put", "delete", "hash",
// "copy", "put-resumable", "abort-upload") and key (the prefix for
// "list"); an error it returns fails the operation (for "list", the
// listing). For batch deletes it is called once per key as "delete".
func (m *Mem) SetFault(f func(op, key string) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fault = f
}

// Calls returns how many times operation op was called (see SetFault for
// the names), including calls that failed.
func (m *Mem) Calls(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

// Data returns a copy of the object at key, and whether there is one.
func (m *Mem) Data(key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[key]
	return bytes.Clone(o.data), ok
}

// Keys returns the stored keys, sorted.
func (m *Mem) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.objs))
	for k := range m.objs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Set stores data at key with modification time mod (now when zero),
// bypassing faults and call counts, and returns the object.
func (m *Mem) Set(key string, data []byte, mod time.Time) backends.Object {
	return m.store(key, bytes.Clone(data), mod)
}

// memBackend lets wrappers from other packages that embed a Mem be
// recognized by MemCopier.
func (m *Mem) memBackend() *Mem { return m }

type memHolder interface{ memBackend() *Mem }

// begin counts a call of op and runs the checks every operation shares.
func (m *Mem) begin(ctx context.Context, op, key string, checkKey bool) error {
	m.mu.Lock()
	m.calls[op]++
	fault := m.fault
	m.mu.Unlock()
	if checkKey {
		if err := backends.CheckKey(key); err != nil {
			return fmt.Errorf("%s %s: %w", op, m, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: key %q: %w", op, m, key, err)
	}
	if fault != nil {
		if err := fault(op, key); err != nil {
			return fmt.Errorf("%s %s: key %q: %w", op, m, key, err)
		}
	}
	return nil
}

func (m *Mem) store(key string, data []byte, mod time.Time) backends.Object {
	if mod.IsZero() {
		mod = time.Now()
	}
	sum := md5.Sum(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	o := memObject{data: data, mod: mod, etag: fmt.Sprintf("mem-%d", m.gen), md5: hex.EncodeToString(sum[:])}
	m.objs[key] = o
	return o.object(key)
}

func (o memObject) object(key string) backends.Object {
	return backends.Object{Key: key, Size: int64(len(o.data)), ModTime: o.mod, ETag: o.etag,
		Hashes: map[backends.HashType]string{backends.MD5: o.md5}}
}

func (m *Mem) get(op, key string) (memObject, error) {
	m.mu.Lock()
	o, ok := m.objs[key]
	m.mu.Unlock()
	if !ok {
		return o, fmt.Errorf("%s %s: key %q: %w", op, m, key, backends.ErrNotFound)
	}
	return o, nil
}

// List calls fn for every object under prefix, in key order, from a
// snapshot taken when the listing starts.
func (m *Mem) List(ctx context.Context, prefix string, fn func(backends.Object) error) error {
	if err := m.begin(ctx, "list", prefix, false); err != nil {
		return err
	}
	m.mu.Lock()
	var keys []string
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	objs := make([]memObject, len(keys))
	slices.Sort(keys)
	for i, k := range keys {
		objs[i] = m.objs[k]
	}
	m.mu.Unlock()
	for i, k := range keys {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", m, err)
		}
		if err := fn(objs[i].object(k)); err != nil {
			return err
		}
	}
	return nil
}

// Stat returns the object at key.
func (m *Mem) Stat(ctx context.Context, key string) (backends.Object, error) {
	if err := m.begin(ctx, "stat", key, true); err != nil {
		return backends.Object{}, err
	}
	o, err := m.get("stat", key)
	if err != nil {
		return backends.Object{}, err
	}
	return o.object(key), nil
}

// Open streams the object's bytes from offset; reads fail once ctx is done.
func (m *Mem) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	return m.open(ctx, key, "", offset, length)
}

// OpenPinned is Open that fails with backends.ErrSourceChanged unless the
// object is the version src describes (its ETag). Stored data is never
// modified, so a read that started goes on with its version.
func (m *Mem) OpenPinned(ctx context.Context, src backends.Object, offset, length int64) (io.ReadCloser, error) {
	return m.open(ctx, src.Key, src.ETag, offset, length)
}

// open is Open; with etag != "" the object must have that ETag.
func (m *Mem) open(ctx context.Context, key, etag string, offset, length int64) (io.ReadCloser, error) {
	if err := m.begin(ctx, "open", key, true); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("open %s: key %q: negative offset %d", m, key, offset)
	}
	o, err := m.get("open", key)
	if err != nil {
		return nil, err
	}
	if etag != "" && o.etag != etag {
		return nil, backends.SourceChanged("open", m, key, "another version since it was listed")
	}
	data := o.data[min(offset, int64(len(o.data))):]
	if length >= 0 && length < int64(len(data)) {
		data = data[:length]
	}
	return io.NopCloser(&memCtxReader{ctx: ctx, r: bytes.NewReader(data)}), nil
}

type memCtxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *memCtxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// readAll reads r whole, checking ctx between reads; with size >= 0 it
// fails unless r yields exactly size bytes.
func readAll(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	var buf bytes.Buffer
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	if _, err := buf.ReadFrom(&memCtxReader{ctx: ctx, r: r}); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size >= 0 && int64(buf.Len()) != size {
		return nil, fmt.Errorf("source yielded %d bytes, declared %d", min(int64(buf.Len()), size+1), size)
	}
	return buf.Bytes(), nil
}

// Put stores r's bytes at key once r is read whole and matches src.Size.
func (m *Mem) Put(ctx context.Context, key string, r io.Reader, src backends.Object) (backends.Object, error) {
	if err := m.begin(ctx, "put", key, true); err != nil {
		return backends.Object{}, err
	}
	data, err := readAll(ctx, r, src.Size)
	if err != nil {
		return backends.Object{}, fmt.Errorf("put %s: key %q: %w", m, key, err)
	}
	return m.store(key, data, src.ModTime), nil
}

// Delete removes the object at key; a missing key is not an error.
func (m *Mem) Delete(ctx context.Context, key string) error {
	if err := m.begin(ctx, "delete", key, true); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.objs, key)
	m.mu.Unlock()
	return nil
}

// Hash returns the md5 or sha256 digest of the object at key.
func (m *Mem) Hash(ctx context.Context, key string, t backends.HashType) (string, error) {
	if err := m.begin(ctx, "hash", key, true); err != nil {
		return "", err
	}
	o, err := m.get("hash", key)
	if err != nil {
		return "", err
	}
	switch t {
	case backends.MD5:
		return o.md5, nil
	case backends.SHA256:
		sum := sha256.Sum256(o.data)
		return hex.EncodeToString(sum[:]), nil
	}
	return "", fmt.Errorf("hash %s: key %q: unsupported hash type %q", m, key, t)
}

// MemBatch is a Mem that deletes in batches of at most Max keys
// (backends.BatchDeleter) and records the size of each batch.
type MemBatch struct {
	*Mem
	Max int

	bmu     sync.Mutex
	batches [][]string
}

var _ backends.BatchDeleter = (*MemBatch)(nil)

// NewMemBatch wraps m with batch deletes of at most max keys.
func NewMemBatch(m *Mem, max int) *MemBatch { return &MemBatch{Mem: m, Max: max} }

// MaxBatch returns Max.
func (b *MemBatch) MaxBatch() int { return b.Max }

// DeleteBatch deletes keys one by one under the Mem's fault hook; a batch
// larger than Max fails whole.
func (b *MemBatch) DeleteBatch(ctx context.Context, keys []string) ([]error, error) {
	b.bmu.Lock()
	b.batches = append(b.batches, slices.Clone(keys))
	b.bmu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("delete batch %s: %w", b, err)
	}
	if len(keys) > b.Max {
		return nil, fmt.Errorf("delete batch %s: %d keys, more than the maximum %d", b, len(keys), b.Max)
	}
	errs := make([]error, len(keys))
	for i, k := range keys {
		errs[i] = b.Delete(ctx, k)
	}
	return errs, nil
}

// Batches returns the keys of each DeleteBatch call, in call order.
func (b *MemBatch) Batches() [][]string {
	b.bmu.Lock()
	defer b.bmu.Unlock()
	out := make([][]string, len(b.batches))
	for i, k := range b.batches {
		out[i] = slices.Clone(k)
	}
	return out
}

// MemCopier is a Mem that copies server-side from any Mem
// (backends.ServerSideCopier), including a Mem embedded in a wrapper.
type MemCopier struct{ *Mem }

var _ backends.ServerSideCopier = MemCopier{}

// CanCopyFrom reports whether src is (or embeds) a Mem.
func (c MemCopier) CanCopyFrom(src backends.Backend) bool {
	_, ok := src.(memHolder)
	return ok
}

// CopyFrom stores a copy of src's object at srcKey as key.
func (c MemCopier) CopyFrom(ctx context.Context, src backends.Backend, srcKey, key string, srcObj backends.Object) (backends.Object, error) {
	if err := c.begin(ctx, "copy", key, true); err != nil {
		return backends.Object{}, err
	}
	h, ok := src.(memHolder)
	if !ok {
		return backends.Object{}, fmt.Errorf("copy %s: cannot copy from %s", c, src)
	}
	if err := backends.CheckKey(srcKey); err != nil {
		return backends.Object{}, fmt.Errorf("copy %s: %w", c, err)
	}
	o, err := h.memBackend().get("copy", srcKey)
	if err != nil {
		return backends.Object{}, err
	}
	if srcObj.Size >= 0 && srcObj.Size != int64(len(o.data)) {
		return backends.Object{}, fmt.Errorf("copy %s: key %q: source has %d bytes, declared %d", c, srcKey, len(o.data), srcObj.Size)
	}
	mod := srcObj.ModTime
	if mod.IsZero() {
		mod = o.mod
	}
	return c.store(key, o.data, mod), nil
}

// Range is one read a MemResumable made through its RangeOpener.
type Range struct {
	Key            string
	Offset, Length int64
}

// MemResumable is a Mem that uploads in parts of PartSize through a
// journal, like a multipart store (backends.ResumablePutter,
// backends.UploadAborter). Parts stay in memory until the upload
// completes; an upload the journal records, and that the MemResumable
// still holds with the same part size, is continued from its first
// missing part. A cancelled upload is left for a later call to resume.
type MemResumable struct {
	*Mem
	PartSize int64 // default 1 MiB
	// AfterPart, when set, is called after each part is stored and
	// journaled (not for parts skipped on resume).
	AfterPart func(key string, p backends.Part)

	umu     sync.Mutex
	uploads map[string]*memUpload // by upload id
	nextID  int
	reads   []Range
	aborted []string
}

type memUpload struct {
	key      string
	partSize int64
	parts    map[int32][]byte
}

var (
	_ backends.ResumablePutter = (*MemResumable)(nil)
	_ backends.UploadAborter   = (*MemResumable)(nil)
)

// NewMemResumable wraps m with resumable uploads in parts of partSize.
func NewMemResumable(m *Mem, partSize int64) *MemResumable {
	return &MemResumable{Mem: m, PartSize: partSize}
}

// Reads returns the ranges read through RangeOpeners, in order.
func (r *MemResumable) Reads() []Range {
	r.umu.Lock()
	defer r.umu.Unlock()
	return slices.Clone(r.reads)
}

// Aborted returns the ids passed to AbortUpload, in order.
func (r *MemResumable) Aborted() []string {
	r.umu.Lock()
	defer r.umu.Unlock()
	return slices.Clone(r.aborted)
}

// InProgress returns the ids of uploads started and neither completed nor
// aborted, sorted.
func (r *MemResumable) InProgress() []string {
	r.umu.Lock()
	defer r.umu.Unlock()
	var ids []string
	for id := range r.uploads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (r *MemResumable) read(ctx context.Context, open backends.RangeOpener, key string, off, length int64) ([]byte, error) {
	r.umu.Lock()
	r.reads = append(r.reads, Range{Key: key, Offset: off, Length: length})
	r.umu.Unlock()
	rc, err := open(ctx, off, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readAll(ctx, rc, length)
}

// PutResumable uploads the object open reads, in parts journaled in j.
func (r *MemResumable) PutResumable(ctx context.Context, key string, open backends.RangeOpener, src backends.Object, j backends.UploadJournal) (backends.Object, error) {
	if err := r.begin(ctx, "put-resumable", key, true); err != nil {
		return backends.Object{}, err
	}
	fail := func(err error) (backends.Object, error) {
		return backends.Object{}, fmt.Errorf("put %s: key %q: %w", r, key, err)
	}
	if src.Size < 0 {
		data, err := r.read(ctx, open, key, 0, -1)
		if err != nil {
			return fail(err)
		}
		return r.store(key, data, src.ModTime), nil
	}
	id, ps, recorded, err := j.Load(ctx, key)
	if err != nil {
		return fail(fmt.Errorf("load journal: %w", err))
	}
	r.umu.Lock()
	up := r.uploads[id]
	r.umu.Unlock()
	done := map[int32]bool{}
	if id != "" {
		if up == nil || up.key != key || up.partSize != ps {
			// Not resumable: forget it and start over.
			r.umu.Lock()
			delete(r.uploads, id)
			r.umu.Unlock()
			if err := j.Finished(ctx, key); err != nil {
				return fail(fmt.Errorf("journal: %w", err))
			}
			id, up = "", nil
		} else {
			r.umu.Lock()
			for _, p := range recorded {
				if data, ok := up.parts[p.Number]; ok && int64(len(data)) == p.Size {
					done[p.Number] = true
				}
			}
			r.umu.Unlock()
		}
	}
	if id == "" {
		ps = r.PartSize
		if ps <= 0 {
			ps = 1 << 20
		}
		r.umu.Lock()
		r.nextID++
		id = fmt.Sprintf("mem-upload-%d", r.nextID)
		up = &memUpload{key: key, partSize: ps, parts: map[int32][]byte{}}
		if r.uploads == nil {
			r.uploads = map[string]*memUpload{}
		}
		r.uploads[id] = up
		r.umu.Unlock()
		if err := j.Started(ctx, key, id, ps); err != nil {
			return fail(fmt.Errorf("journal: %w", err))
		}
	}
	nparts := int32((src.Size + ps - 1) / ps)
	for num := int32(1); num <= nparts; num++ {
		if done[num] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		off := int64(num-1) * ps
		length := min(ps, src.Size-off)
		data, err := r.read(ctx, open, key, off, length)
		if err != nil {
			return fail(fmt.Errorf("part %d: %w", num, err))
		}
		sum := md5.Sum(data)
		r.umu.Lock()
		up.parts[num] = data
		r.umu.Unlock()
		p := backends.Part{Number: num, Size: length, ETag: hex.EncodeToString(sum[:])}
		if err := j.PartDone(ctx, key, p); err != nil {
			return fail(fmt.Errorf("journal: %w", err))
		}
		if r.AfterPart != nil {
			r.AfterPart(key, p)
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	var all bytes.Buffer
	r.umu.Lock()
	for num := int32(1); num <= nparts; num++ {
		all.Write(up.parts[num])
	}
	delete(r.uploads, id)
	r.umu.Unlock()
	obj := r.store(key, all.Bytes(), src.ModTime)
	if err := j.Finished(ctx, key); err != nil {
		return fail(fmt.Errorf("journal: %w", err))
	}
	return obj, nil
}

// AbortUpload discards the upload id; a missing upload is not an error.
func (r *MemResumable) AbortUpload(ctx context.Context, key, id string) error {
	if err := r.begin(ctx, "abort-upload", key, true); err != nil {
		return err
	}
	r.umu.Lock()
	defer r.umu.Unlock()
	r.aborted = append(r.aborted, id)
	delete(r.uploads, id)
	return nil
}

// MemJournal is an in-memory backends.UploadJournal for tests.
type MemJournal struct {
	mu      sync.Mutex
	uploads map[string]*memJournalEntry
}

type memJournalEntry struct {
	id       string
	partSize int64
	parts    map[int32]backends.Part
}

var _ backends.UploadJournal = (*MemJournal)(nil)

// NewMemJournal returns an empty journal.
func NewMemJournal() *MemJournal { return &MemJournal{uploads: map[string]*memJournalEntry{}} }

// Load returns the upload recorded for key.
func (j *MemJournal) Load(ctx context.Context, key string) (string, int64, []backends.Part, error) {
	if err := ctx.Err(); err != nil {
		return "", 0, nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	e := j.uploads[key]
	if e == nil {
		return "", 0, nil, nil
	}
	var parts []backends.Part
	for _, p := range e.parts {
		parts = append(parts, p)
	}
	slices.SortFunc(parts, func(a, b backends.Part) int { return int(a.Number - b.Number) })
	return e.id, e.partSize, parts, nil
}

// Started records a new upload for key, replacing any other.
func (j *MemJournal) Started(ctx context.Context, key, id string, partSize int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.uploads[key] = &memJournalEntry{id: id, partSize: partSize, parts: map[int32]backends.Part{}}
	return nil
}

// PartDone records a finished part.
func (j *MemJournal) PartDone(ctx context.Context, key string, p backends.Part) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	e := j.uploads[key]
	if e == nil {
		return errors.New("journal: part of an upload that was not started")
	}
	e.parts[p.Number] = p
	return nil
}

// Finished forgets the upload of key.
func (j *MemJournal) Finished(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.uploads, key)
	return nil
}

// Keys returns the keys with a recorded upload, sorted.
func (j *MemJournal) Keys() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var keys []string
	for k := range j.uploads {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
