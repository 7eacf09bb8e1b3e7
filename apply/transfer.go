package apply

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"syncer/backends"
	"syncer/config"
	"syncer/plan"
)

// A transfer moves one object's bytes from a sync's source to its
// destination and counts them in the progress. There is one implementation
// per strategy; chooseTransfer picks one per sync.
type transfer interface {
	// copy writes a's object, which src describes as the plan saw it, and
	// returns the written object and the source's md5 ("" when unknown).
	copy(ctx context.Context, a plan.Action, src backends.Object) (backends.Object, string, error)
}

// chooseTransfer picks how j copies, and the line that says so ("" when
// there is nothing to say): server-side when the destination can reach the
// source, else streamed (resumably, in parts, where the destination can).
// A copy that runs on this machine still moves the bytes here, so it is not
// used under a bandwidth limit, nor in checksum mode, which hashes the
// stream.
func (j *job) chooseTransfer() (transfer, string) {
	if sc, ok := j.to.(backends.ServerSideCopier); ok && sc.CanCopyFrom(j.from) {
		hc, onHost := sc.(backends.HostCopier)
		switch {
		case !onHost:
			return serverCopy{j, sc}, "copying server-side: object bytes do not pass through syncer"
		case j.e.limiter == nil && j.s.Compare != config.CompareChecksum:
			return hostCopy{j, hc}, "copying file to file in the kernel (copy_file_range)"
		}
	}
	var t transfer = streamPut{j}
	if rp, ok := j.to.(backends.ResumablePutter); ok {
		t = resumablePut{j, rp}
	}
	// A store of the source's kind that could copy server-side, but not
	// from this source: say why the bytes pass through syncer.
	_, copier := j.to.(backends.ServerSideCopier)
	_, onHost := j.to.(backends.HostCopier)
	if copier && !onHost && j.s.From.Type == j.s.To.Type {
		return t, "streaming through syncer: these backends cannot copy server-side (different stores or credentials)"
	}
	return t, ""
}

// hostCopy copies file to file on this machine, in the kernel.
type hostCopy struct {
	j  *job
	hc backends.HostCopier
}

func (t hostCopy) copy(ctx context.Context, a plan.Action, src backends.Object) (backends.Object, string, error) {
	got, err := t.hc.CopyOnHost(ctx, t.j.from, a.Key, a.Key, src, t.j.e.moved(ctx))
	if err != nil {
		return backends.Object{}, "", fmt.Errorf("copy %s -> %s: %w", t.j.from, t.j.to, err)
	}
	return got, a.Src.MD5, nil
}

// serverCopy has the destination copy from the source: the bytes do not
// pass through syncer, and count in the progress once the copy is done.
type serverCopy struct {
	j  *job
	sc backends.ServerSideCopier
}

func (t serverCopy) copy(ctx context.Context, a plan.Action, src backends.Object) (backends.Object, string, error) {
	got, err := t.sc.CopyFrom(ctx, t.j.from, a.Key, a.Key, src)
	if err != nil {
		return backends.Object{}, "", fmt.Errorf("server-side copy %s -> %s: %w", t.j.from, t.j.to, err)
	}
	t.j.e.moved(ctx)(max(a.Size, 0))
	return got, a.Src.MD5, nil
}

// resumablePut streams the source into an upload in parts, journalled in
// the state, which a later run resumes from its last finished part.
type resumablePut struct {
	j  *job
	rp backends.ResumablePutter
}

func (t resumablePut) copy(ctx context.Context, a plan.Action, src backends.Object) (backends.Object, string, error) {
	j := t.j
	if err := j.dropStaleUpload(ctx, a); err != nil {
		return backends.Object{}, "", err
	}
	// An upload in parts writes the metadata before it reads the source:
	// read it first, when the object may take parts.
	if ms, ok := j.from.(backends.MetaStater); ok && partSized(j.to, a.Size) {
		m, err := ms.StatMeta(ctx, a.Key, a.Src.ETag)
		if err != nil {
			return backends.Object{}, "", fmt.Errorf("read %s: %w", j.from, err)
		}
		src = withMeta(src, m)
	}
	// Every part is read pinned to the version the plan listed, so a
	// source that changes between two parts fails the next one.
	open := func(ctx context.Context, offset, length int64) (io.ReadCloser, error) {
		rc, err := backends.OpenPinned(ctx, j.from, src, offset, length)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", j.from, err)
		}
		return readCloser{j.wrap(ctx, rc), rc}, nil
	}
	got, err := t.rp.PutResumable(ctx, a.Key, open, src, j.e.st.Journal(j.s.Name, a.Src))
	if err != nil {
		if errors.Is(err, backends.ErrSourceChanged) {
			// Its parts hold a version that is gone: never resume it.
			j.dropUpload(ctx, a)
		}
		return backends.Object{}, "", fmt.Errorf("write %s: %w", j.to, err)
	}
	return got, a.Src.MD5, nil
}

// streamPut streams the source, read pinned to the version the plan
// listed, into the destination's Put; in checksum mode it hashes the
// stream, and refuses a source that changed since the plan.
type streamPut struct{ j *job }

func (t streamPut) copy(ctx context.Context, a plan.Action, src backends.Object) (backends.Object, string, error) {
	j := t.j
	rc, err := backends.OpenPinned(ctx, j.from, src, 0, -1)
	if err != nil {
		return backends.Object{}, "", fmt.Errorf("read %s: %w", j.from, err)
	}
	defer rc.Close()
	src = withMeta(src, backends.MetaOf(rc))
	r := j.wrap(ctx, rc)
	var h hash.Hash
	if j.s.Compare == config.CompareChecksum {
		h = md5.New()
		r = io.TeeReader(r, h)
	}
	got, err := j.to.Put(ctx, a.Key, r, src)
	if err != nil {
		return backends.Object{}, "", fmt.Errorf("write %s: %w", j.to, err)
	}
	if h == nil {
		return got, a.Src.MD5, nil
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if a.Src.MD5 != "" && sum != a.Src.MD5 {
		return backends.Object{}, "", fmt.Errorf("source changed since the plan (md5 %s, planned %s); not recorded, plan again", sum, a.Src.MD5)
	}
	return got, sum, nil
}

// wrap adds progress counting and the bandwidth limit to a source stream.
func (j *job) wrap(ctx context.Context, r io.Reader) io.Reader {
	r = &countingReader{ctx: ctx, r: r, add: j.e.moved(ctx)}
	if j.e.limiter != nil {
		r = &limitedReader{ctx: ctx, r: r, l: j.e.limiter}
	}
	return r
}

// readCloser is a wrapped source stream; it carries the metadata of the
// stream it wraps (the Closer).
type readCloser struct {
	io.Reader
	io.Closer
}

func (r readCloser) Meta() *backends.Metadata { return backends.MetaOf(r.Closer) }

// partSized reports whether an object of size bytes is larger than a part
// of dst (which may then upload it in parts).
func partSized(dst backends.Backend, size int64) bool {
	bs, ok := dst.(backends.BufferSizer)
	return ok && size > bs.PartSize()
}

// withMeta returns src with the metadata its source's Open returned (nil:
// none), and the modification time the source records there, if any.
func withMeta(src backends.Object, m *backends.Metadata) backends.Object {
	if m == nil {
		return src
	}
	src.Meta = m
	if !m.ModTime.IsZero() {
		src.ModTime = m.ModTime
	}
	return src
}
