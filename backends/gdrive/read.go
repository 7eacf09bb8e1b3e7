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
	"time"

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
	return b.open(ctx, key, "", offset, length)
}

// OpenPinned is Open pinned to the revision src describes (its ETag,
// Drive's headRevisionId): it fails with backends.ErrSourceChanged when
// the file's head revision is another at open, or once the last byte of
// the range is read (one metadata request then). A whole download is
// also checked against the md5Checksum, as Open does. Google Docs have no
// revision to pin (their ETag is empty) and are read as by Open.
func (b *Backend) OpenPinned(ctx context.Context, src backends.Object, offset, length int64) (io.ReadCloser, error) {
	return b.open(ctx, src.Key, src.ETag, offset, length)
}

// open is Open pinned to head revision rev ("": not pinned).
func (b *Backend) open(ctx context.Context, key, rev string, offset, length int64) (io.ReadCloser, error) {
	if err := backends.CheckKey(key); err != nil {
		return nil, fmt.Errorf("open %s: %w", b, err)
	}
	if offset < 0 {
		return nil, b.errorf("open", key, "negative offset %d", offset)
	}
	if err := ctx.Err(); err != nil {
		return nil, b.wrap(ctx, "open", key, err)
	}
	if b.capDown.Load() {
		return nil, &backends.StopError{Reason: DownloadCapReason, Err: b.errorf("open", key, "not sent: Drive refused an earlier download of this run with its download quota")}
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
		if f, _, err = b.find(ctx, key, backends.IDsFrom(ctx).Src); err != nil {
			return nil, b.wrap(ctx, "open", key, err)
		}
		if f == nil {
			return nil, b.notFound("open", key)
		}
		if length >= 0 && !strings.HasPrefix(f.MimeType, googlePrefix) {
			b.ranged.put(key, f)
		}
	}
	if rev != "" && f.HeadRevisionId != "" && f.HeadRevisionId != rev {
		b.ranged.forget(key)
		return nil, backends.SourceChanged("open", b, key, fmt.Sprintf("its head revision is %s, not %s", f.HeadRevisionId, rev))
	}
	d := &downloader{b: b, key: key, f: f, size: -1}
	end := int64(-1)
	if length >= 0 {
		end = offset + length
	}
	var sum hash.Hash
	if strings.HasPrefix(f.MimeType, googlePrefix) {
		d.export = b.exports[f.MimeType].mime
	} else {
		size, err := contentSize(f)
		if err != nil {
			b.ranged.forget(key)
			return nil, b.errorf("open", key, "%v", err)
		}
		d.size = size
		if size >= 0 {
			// The size is known: clamp the range to it.
			if end < 0 || end > size {
				end = size
			}
			if offset >= end {
				return io.NopCloser(strings.NewReader("")), nil
			}
			if offset == 0 && end == size && f.Md5Checksum != "" {
				sum = md5.New()
			}
		}
	}
	if length == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	body, end, err := d.open(ctx, offset, end)
	if err != nil {
		if cached && errors.Is(err, backends.ErrNotFound) {
			// The remembered file went away: look the key up again.
			b.ranged.forget(key)
			return b.open(ctx, key, rev, offset, length)
		}
		return nil, err
	}
	var r *backends.ResumingReader
	r = backends.NewResumingReader(ctx, backends.Resume{
		Open: d.reopen,
		Retry: func(ctx context.Context, _ int, err error) bool {
			if errors.Is(err, context.Canceled) {
				return false
			}
			b.log.Warn("Google Drive: download interrupted; resuming", "backend", b.String(), "key", key, "offset", r.Pos(), "err", err)
			b.tr.retried(nil, err)
			return true
		},
		Max: maxReadResumes,
		// A download of known size must reach its end; an export's end
		// is where it ends.
		Exact: d.export == "",
		Fail:  func(err error) error { return b.wrap(ctx, "read", key, err) },
	}, body, offset, end)
	var rc io.ReadCloser = r
	pinned := rev != "" && d.export == "" && f.HeadRevisionId != ""
	switch {
	case sum != nil:
		// A whole download is checked against the listed md5: bytes of
		// another revision fail it, with no request more.
		rc = &md5Checker{ReadCloser: rc, b: b, key: key, md5: sum, want: f.Md5Checksum, pinned: pinned}
	case pinned:
		left := int64(-1) // the end is unknown
		if end >= 0 {
			left = end - offset
		}
		rc = backends.EndChecked(r, left, func() error { return d.sameRevision(ctx, rev) })
	}
	return backends.WithMeta(rc, fileMeta(f, d.export)), nil
}

// fileMeta is what a read of f tells a destination (backends.MetaReader):
// its mimeType as the Content-Type (the export's for a Google Doc) and its
// modifiedTime.
func fileMeta(f *drive.File, export string) *backends.Metadata {
	m := &backends.Metadata{ContentType: f.MimeType}
	if export != "" {
		m.ContentType = export
	}
	if t, err := time.Parse(time.RFC3339Nano, f.ModifiedTime); err == nil {
		m.ModTime = t
	}
	return m
}

// sameRevision fails with backends.ErrSourceChanged when the file's head
// revision is no longer rev.
func (d *downloader) sameRevision(ctx context.Context, rev string) error {
	f, err := d.b.svc.Files.Get(d.f.Id).Fields("headRevisionId").SupportsAllDrives(true).Context(ctx).Do()
	switch {
	case err != nil && isNotFound(err) && ctx.Err() == nil:
		return backends.SourceChanged("read", d.b, d.key, "the file was deleted while it was being read")
	case err != nil:
		return d.b.wrap(ctx, "read", d.key, err)
	case f.HeadRevisionId != rev:
		d.b.ranged.forget(d.key) // the next range looks the file up again
		return backends.SourceChanged("read", d.b, d.key, fmt.Sprintf("its head revision went from %s to %s while it was read", rev, f.HeadRevisionId))
	}
	return nil
}

// downloader issues the requests of one Open stream.
type downloader struct {
	b       *Backend
	key     string
	f       *drive.File
	export  string // export mime type; "" for a download
	size    int64  // a download's size; -1 when unknown (see contentSize)
	resumed bool
}

// reopen is open for a resumed stream.
func (d *downloader) reopen(ctx context.Context, pos, end int64) (io.ReadCloser, int64, error) {
	d.resumed = true
	return d.open(ctx, pos, end)
}

// open issues the request for [pos, end) (end < 0: to the end) and returns
// its body and the end of the bytes it holds. An export is read from its
// start: its first pos bytes are dropped as the body is read.
func (d *downloader) open(ctx context.Context, pos, end int64) (io.ReadCloser, int64, error) {
	b := d.b
	var resp *http.Response
	var err error
	rng := ""
	if d.export != "" {
		resp, err = b.svc.Files.Export(d.f.Id, d.export).Context(ctx).Download()
	} else {
		call := b.svc.Files.Get(d.f.Id).SupportsAllDrives(true).Context(ctx)
		switch {
		case end >= 0 && (pos > 0 || d.size < 0 || end < d.size):
			rng = fmt.Sprintf("bytes=%d-%d", pos, end-1)
		case end < 0 && pos > 0:
			rng = fmt.Sprintf("bytes=%d-", pos)
		}
		if rng != "" {
			call.Header().Set("Range", rng)
		}
		if b.ackAbuse {
			call.AcknowledgeAbuse(true)
		}
		resp, err = call.Download()
	}
	if err != nil {
		if ctx.Err() == nil && b.ackAbuse && reason(err) == "cannotDownloadAbusiveFile" {
			where, err := backends.Describe(ctx, "open", b, d.key, err)
			return nil, 0, &backends.PermanentError{Msg: where + ": Drive flags the file as malware or spam and refuses to download it even with acknowledge_abuse = true: only the file's owner or a shared drive's organizer may (cannotDownloadAbusiveFile)", Err: err}
		}
		if ctx.Err() == nil && b.downCapped(err) {
			return nil, 0, &backends.StopError{Reason: DownloadCapReason, Err: b.wrap(ctx, "open", d.key, err)}
		}
		if isNotFound(err) && ctx.Err() == nil {
			if d.resumed {
				return nil, 0, b.errorf("open", d.key, "the file was deleted while it was being read")
			}
			return nil, 0, b.notFound("open", d.key)
		}
		return nil, 0, b.wrap(ctx, "open", d.key, err)
	}
	if d.export != "" {
		return &skipper{ReadCloser: resp.Body, skip: pos}, end, nil
	}
	end, err = backends.CheckPartial(rng, pos, end, resp.StatusCode, resp.Header.Get("Content-Range"), resp.ContentLength)
	if err != nil {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("open %s: key %q: %w", b, d.key, err)
	}
	return resp.Body, end, nil
}

// skipper drops the first skip bytes of a body as it is read.
type skipper struct {
	io.ReadCloser
	skip int64
}

func (s *skipper) Read(p []byte) (int, error) {
	if s.skip > 0 {
		n, err := io.CopyN(io.Discard, s.ReadCloser, s.skip)
		s.skip -= n
		if err != nil {
			return 0, err // EOF: the export is shorter than the offset
		}
	}
	return s.ReadCloser.Read(p)
}

// md5Checker checks a whole download against Drive's md5Checksum at its
// end.
type md5Checker struct {
	io.ReadCloser
	b      *Backend
	key    string
	md5    hash.Hash
	want   string
	pinned bool // read for OpenPinned: a mismatch is a changed source
	err    error
}

func (c *md5Checker) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.ReadCloser.Read(p)
	c.md5.Write(p[:n])
	if err == io.EOF {
		if sum := hex.EncodeToString(c.md5.Sum(nil)); sum != c.want {
			c.err = c.b.errorf("read", c.key, "downloaded data has md5 %s but Drive reports %s", sum, c.want)
			if c.pinned {
				c.err = backends.SourceChanged("read", c.b, c.key, fmt.Sprintf("the downloaded data has md5 %s, not the listed %s", sum, c.want))
			}
			return n, c.err
		}
	}
	return n, err
}

// StatMeta is the metadata a read of key would carry (see fileMeta), for
// an upload elsewhere that writes it before the first byte; with etag (a
// head revision) it fails with backends.ErrSourceChanged when the file is
// at another revision.
func (b *Backend) StatMeta(ctx context.Context, key, etag string) (*backends.Metadata, error) {
	if err := backends.CheckKey(key); err != nil {
		return nil, fmt.Errorf("stat %s: %w", b, err)
	}
	f, _, err := b.find(ctx, key, backends.IDsFrom(ctx).Src)
	if err != nil {
		return nil, b.wrap(ctx, "stat", key, err)
	}
	if f == nil {
		return nil, b.notFound("stat", key)
	}
	if etag != "" && f.HeadRevisionId != "" && f.HeadRevisionId != etag {
		return nil, backends.SourceChanged("stat", b, key, fmt.Sprintf("its head revision is %s, not %s", f.HeadRevisionId, etag))
	}
	export := ""
	if strings.HasPrefix(f.MimeType, googlePrefix) {
		export = b.exports[f.MimeType].mime
	}
	return fileMeta(f, export), nil
}
