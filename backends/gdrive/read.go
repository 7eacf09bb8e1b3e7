package gdrive

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"

	"google.golang.org/api/drive/v3"

	"syncer/backends"
)

// maxReadResumes bounds how often one Open stream re-requests after a
// dropped connection.
const maxReadResumes = 10

// Stat returns the object at key.
func (b *Backend) Stat(ctx context.Context, key string) (backends.Object, error) {
	if err := backends.CheckKey(key); err != nil {
		return backends.Object{}, fmt.Errorf("stat %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return backends.Object{}, b.wrap(ctx, "stat", key, err)
	}
	f, _, err := b.lookup(ctx, key)
	if err != nil {
		return backends.Object{}, b.wrap(ctx, "stat", key, err)
	}
	if f == nil {
		return backends.Object{}, b.notFound("stat", key)
	}
	o, err := b.object(key, f)
	if err != nil {
		return backends.Object{}, b.errorf("stat", key, "%v", err)
	}
	return o, nil
}

// Open streams the object at key from offset: binary files with ranged
// alt=media downloads (resumed from where they broke on a dropped
// connection; a whole read is checked against Drive's md5Checksum), Google
// Docs by exporting them (the export is read from its start; offset bytes
// are skipped).
func (b *Backend) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := backends.CheckKey(key); err != nil {
		return nil, fmt.Errorf("open %s: %w", b, err)
	}
	if offset < 0 {
		return nil, b.errorf("open", key, "negative offset %d", offset)
	}
	if err := ctx.Err(); err != nil {
		return nil, b.wrap(ctx, "open", key, err)
	}
	// A run of ranges (the parts of an upload elsewhere) looks the key up
	// at its first range, from offset 0, and reuses that file for the
	// ranges after it.
	var f *drive.File
	if offset > 0 {
		f = b.ranged.get(key)
	}
	cached := f != nil
	if !cached {
		var err error
		if f, _, err = b.lookup(ctx, key); err != nil {
			return nil, b.wrap(ctx, "open", key, err)
		}
		if f == nil {
			return nil, b.notFound("open", key)
		}
		if length >= 0 && !strings.HasPrefix(f.MimeType, googlePrefix) {
			b.ranged.put(key, f)
		}
	}
	r := &fileReader{b: b, ctx: ctx, key: key, f: f, pos: offset, end: -1, size: -1}
	if length >= 0 {
		r.end = offset + length
	}
	if strings.HasPrefix(f.MimeType, googlePrefix) {
		r.export = b.exports[f.MimeType].mime
	} else {
		size, err := contentSize(f)
		if err != nil {
			b.ranged.forget(key)
			return nil, b.errorf("open", key, "%v", err)
		}
		r.size = size
		if size >= 0 {
			// The size is known: clamp the range to it.
			if r.end < 0 || r.end > size {
				r.end = size
			}
			if r.pos >= r.end {
				return io.NopCloser(strings.NewReader("")), nil
			}
			if offset == 0 && r.end == size && f.Md5Checksum != "" {
				r.md5 = md5.New()
			}
		}
	}
	if length == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	if err := r.open(); err != nil {
		if cached && errors.Is(err, backends.ErrNotFound) {
			// The remembered file went away: look the key up again.
			b.ranged.forget(key)
			return b.Open(ctx, key, offset, length)
		}
		return nil, err
	}
	return r, nil
}

// fileReader reads a download or an export and resumes it after
// transient failures.
type fileReader struct {
	b       *Backend
	ctx     context.Context
	key     string
	f       *drive.File
	export  string // export mime type; "" for a download
	pos     int64  // next byte to hand out
	end     int64  // end of the range; -1: to the end (exports, unknown sizes)
	size    int64  // a download's size; -1 when unknown (see contentSize)
	body    io.ReadCloser
	skip    int64 // bytes of the body to drop before pos (exports)
	md5     hash.Hash
	resumes int
	err     error // sticky
}

// open issues the request for [pos, end).
func (r *fileReader) open() error {
	var resp *http.Response
	var err error
	if r.export != "" {
		resp, err = r.b.svc.Files.Export(r.f.Id, r.export).Context(r.ctx).Download()
		r.skip = r.pos
	} else {
		call := r.b.svc.Files.Get(r.f.Id).SupportsAllDrives(true).Context(r.ctx)
		switch {
		case r.end >= 0 && (r.pos > 0 || r.size < 0 || r.end < r.size):
			call.Header().Set("Range", fmt.Sprintf("bytes=%d-%d", r.pos, r.end-1))
		case r.end < 0 && r.pos > 0:
			call.Header().Set("Range", fmt.Sprintf("bytes=%d-", r.pos))
		}
		resp, err = call.Download()
	}
	if err != nil {
		if isNotFound(err) && r.ctx.Err() == nil {
			if r.resumes > 0 {
				return r.b.errorf("open", r.key, "the file was deleted while it was being read")
			}
			return r.b.notFound("open", r.key)
		}
		return r.b.wrap(r.ctx, "open", r.key, err)
	}
	if r.export == "" && r.pos > 0 && resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		return r.b.errorf("open", r.key, "Drive ignored the range request (HTTP %d)", resp.StatusCode)
	}
	if r.export == "" && resp.StatusCode == http.StatusPartialContent {
		// The body must start at the byte asked for, or its bytes would
		// be handed out as others.
		cr := resp.Header.Get("Content-Range")
		if start, _, _, ok := backends.ParseContentRange(cr); !ok || start != r.pos {
			resp.Body.Close()
			return r.b.errorf("open", r.key, "Drive answered a range request from byte %d with Content-Range %q", r.pos, cr)
		}
	}
	r.body = resp.Body
	return nil
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.end >= 0 && r.pos >= r.end {
		return 0, r.finish()
	}
	if r.end >= 0 && int64(len(p)) > r.end-r.pos {
		p = p[:r.end-r.pos]
	}
	for {
		if err := r.ctx.Err(); err != nil {
			r.err = r.b.wrap(r.ctx, "read", r.key, err)
			return 0, r.err
		}
		if r.skip > 0 {
			n, err := io.CopyN(io.Discard, r.body, r.skip)
			r.skip -= n
			if err == io.EOF {
				r.end, r.skip = r.pos, 0 // the export is shorter than the offset
				return 0, io.EOF
			}
			if err != nil {
				if rerr := r.resume(err); rerr != nil {
					return 0, rerr
				}
				continue
			}
		}
		n, err := r.body.Read(p)
		r.pos += int64(n)
		if r.md5 != nil {
			r.md5.Write(p[:n])
		}
		if err == nil || err == io.EOF {
			if err == io.EOF {
				if r.export == "" && r.pos < r.end {
					err = io.ErrUnexpectedEOF // the download was cut short
				} else {
					if r.end < 0 || r.pos < r.end {
						r.end = r.pos
					}
					return n, r.finish()
				}
			} else {
				return n, nil
			}
		}
		if n > 0 {
			return n, nil // the next Read meets the error again
		}
		if rerr := r.resume(err); rerr != nil {
			return 0, rerr
		}
	}
}

// resume reopens the stream at pos after err, or returns the error to
// report.
func (r *fileReader) resume(err error) error {
	if r.ctx.Err() != nil || r.resumes >= maxReadResumes || errors.Is(err, context.Canceled) {
		r.err = r.b.wrap(r.ctx, "read", r.key, err)
		return r.err
	}
	r.resumes++
	r.body.Close()
	r.b.log.Warn("Google Drive: download interrupted; resuming", "backend", r.b.String(), "key", r.key, "offset", r.pos, "err", err)
	if oerr := r.open(); oerr != nil {
		r.err = oerr
		return r.err
	}
	return nil
}

// finish checks a whole download against Drive's md5Checksum at its end.
func (r *fileReader) finish() error {
	if r.md5 != nil {
		sum := hex.EncodeToString(r.md5.Sum(nil))
		r.md5 = nil
		if sum != r.f.Md5Checksum {
			r.err = r.b.errorf("read", r.key, "downloaded data has md5 %s but Drive reports %s", sum, r.f.Md5Checksum)
			return r.err
		}
	}
	return io.EOF
}

func (r *fileReader) Close() error {
	if r.body == nil {
		return nil
	}
	return r.body.Close()
}
