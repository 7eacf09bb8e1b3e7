package gdrive

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"google.golang.org/api/drive/v3"
	"google.golang.org/api/googleapi"

	"syncer/backends"
)

// MaxMultipartSize is the largest upload sent in one (multipart) request:
// Google documents that upload type for files of 5 MB or less.
const MaxMultipartSize = 5_000_000

// Put uploads r to key. An existing binary file at key is updated in
// place (files.update: the id, sharing and history stay); otherwise a new
// file is created, with missing folders. Objects of known size below
// ChunkSize and at most MaxMultipartSize go in one multipart request from
// a buffer of their size;
// others in a resumable session, one ChunkSize chunk at a time. Drive
// shows the new content only when the upload completes, so a failed Put
// leaves nothing (or the old content) at key. The source's modification
// time is set on the file; the data's md5 is checked against Drive's.
// A key that names a Google Doc gets a new binary file (which then owns
// the key; the Doc takes the dup form).
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, src backends.Object) (backends.Object, error) {
	if err := backends.CheckKey(key); err != nil {
		return backends.Object{}, fmt.Errorf("put %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return backends.Object{}, b.wrap(ctx, "put", key, err)
	}
	if src.Size > MaxFileSize {
		return backends.Object{}, &backends.PermanentError{Msg: fmt.Sprintf("put %s: key %q", b, key), Err: tooLarge(src.Size)}
	}
	if err := b.capUpErr("put", key); err != nil {
		return backends.Object{}, err
	}
	t, unlock, err := b.writeTarget(ctx, "put", key)
	if err != nil {
		return backends.Object{}, err
	}
	defer unlock()
	dir, leaf, parent, existing := t.dir, t.leaf, t.parent, t.existing
	if existing != nil && strings.HasPrefix(existing.MimeType, googlePrefix) {
		existing = nil
	}
	f, err := b.upload(ctx, key, parent, leaf, existing, r, src)
	if err != nil && ctx.Err() == nil && b.upCapped(err) {
		return backends.Object{}, b.stopUp(ctx, "put", key, err)
	}
	if err != nil {
		if st := statusOf(err); (st == http.StatusNotFound || st == http.StatusGone) && ctx.Err() == nil {
			// Either the folder (or the file being replaced) went away,
			// or a resumable session expired.
			target := parent
			if existing != nil {
				target = existing.Id
			}
			if f, gerr := b.get(ctx, target); gerr == nil && f != nil && !f.Trashed {
				return backends.Object{}, b.errorf("put", key, "the resumable upload session expired (HTTP %d); the upload must start over", st)
			}
			if dir != "" {
				b.folders.forget(dir) // a cached folder went away
			}
		}
		return backends.Object{}, b.wrap(ctx, "put", key, err)
	}
	o, err := b.object(key, f)
	if err != nil { // upload checked the size already: not expected
		return backends.Object{}, b.errorf("put", key, "%v", err)
	}
	return o, nil
}

// writeTarget is where a write of key goes.
type writeTarget struct {
	dir, leaf string      // key's folder key and name in it
	parent    string      // the folder's id
	existing  *drive.File // the object at key now (maybe a Google Doc); nil: none
}

// writeTarget locks key for a write by op and finds where it goes, making
// missing folders. The caller calls unlock when done, unless err is set.
func (b *Backend) writeTarget(ctx context.Context, op, key string) (writeTarget, func(), error) {
	var t writeTarget
	unlock := b.locks.lock("key\x00" + key)
	fail := func(err error) (writeTarget, func(), error) {
		unlock()
		return t, nil, b.wrap(ctx, op, key, err)
	}
	if err := b.resolveRoot(ctx); err != nil {
		return fail(err)
	}
	var err error
	t.dir, t.leaf = splitKey(key)
	if id := backends.IDsFrom(ctx).Dst; id != "" {
		// The file syncer wrote at key: updated in place, found by id
		// (name search lags behind recent creates).
		f, parent, _, err := b.byID(ctx, id, key)
		if err != nil {
			return fail(err)
		}
		if f != nil {
			t.parent, t.existing = parent, f
			return t, unlock, nil
		}
	}
	if backends.Existing(ctx) {
		// The caller's state says key exists: find it without making
		// folders, by listing when name search (which lags behind recent
		// creates) misses it (lookup), rather than make a second one.
		f, parent, err := b.lookup(ctx, key)
		if err != nil {
			return fail(err)
		}
		if f != nil && parent != "" {
			t.parent, t.existing = parent, f
			return t, unlock, nil
		}
	}
	if t.parent, err = b.resolveDir(ctx, t.dir, true); err != nil {
		return fail(err)
	}
	if t.existing, err = b.findObject(ctx, t.parent, t.leaf); err != nil {
		return fail(err)
	}
	return t, unlock, nil
}

// resumableChunk is the chunk for a resumable upload of size bytes (-1:
// unknown). The Go client sends a body that fits in one chunk as one
// multipart request, so a chunk never reaches size when size is over
// MaxMultipartSize, and stays below it when size is unknown: the chunk is
// then the largest 256 KiB multiple under the size (or the limit).
func resumableChunk(chunk, size int64) int64 {
	limit := size - 1
	if size < 0 {
		limit = MaxMultipartSize
	}
	if limit < chunk {
		chunk = max(ChunkGranularity, limit/ChunkGranularity*ChunkGranularity)
	}
	return chunk
}

// formatTime renders a modification time as Drive takes it (RFC 3339,
// UTC, milliseconds).
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// upload creates a file named after leaf in parent, or replaces the
// content of existing, and checks what Drive stored.
func (b *Backend) upload(ctx context.Context, key, parent, leaf string, existing *drive.File, r io.Reader, src backends.Object) (*drive.File, error) {
	name := SegmentToName(leaf)
	ctype := mime.TypeByExtension(path.Ext(name))
	if src.Meta != nil && src.Meta.ContentType != "" && !strings.HasPrefix(src.Meta.ContentType, googlePrefix) {
		ctype = src.Meta.ContentType // the source's (S3's Content-Type)
	}
	if ctype == "" || strings.HasPrefix(ctype, googlePrefix) {
		ctype = "application/octet-stream"
	}
	meta := &drive.File{}
	if !src.ModTime.IsZero() {
		meta.ModifiedTime = formatTime(src.ModTime)
	}
	// The source goes through an ExactReader, so an upload never
	// completes with fewer or more bytes than declared.
	sent := md5.New()
	cr := backends.NewExactReader(ctx, r, src.Size, sent)
	var media io.Reader = cr
	opts := []googleapi.MediaOption{googleapi.ContentType(ctype), googleapi.ChunkSize(int(resumableChunk(b.chunkSize, src.Size)))}
	var buf []byte // the whole content, for small objects
	if src.Size >= 0 && src.Size < b.chunkSize && src.Size <= MaxMultipartSize {
		// Small: read it whole into a buffer of its size (below one
		// chunk) and send one multipart request that the transport can
		// repeat on a transient error.
		buf = make([]byte, src.Size)
		if _, _, err := cr.Fill(buf); err != nil {
			return nil, err
		}
		opts[1] = googleapi.ChunkSize(0)
	}
	var f *drive.File
	var err error
	switch {
	case existing != nil:
		if buf != nil {
			media = bytes.NewReader(buf)
		}
		f, err = b.svc.Files.Update(existing.Id, meta).Media(media, opts...).
			Fields(googleapi.Field(fileFields)).SupportsAllDrives(true).Context(ctx).Do()
	case buf != nil:
		// One request that may be sent again: under a generated id.
		meta.Name = name
		meta.Parents = []string{parent}
		f, err = b.createOnce(ctx, parent, name, func(id string) (*drive.File, error) {
			if err := announce(ctx, id); err != nil {
				return nil, err
			}
			meta.Id = id
			return b.svc.Files.Create(meta).Media(bytes.NewReader(buf), opts...).
				Fields(googleapi.Field(fileFields)).SupportsAllDrives(true).Context(ctx).Do()
		})
	default:
		// A resumable session makes the file only when it completes, and
		// a repeated last chunk answers with that same file. Its source is
		// read once, so the session is not sent again; its generated id,
		// announced first, lets the next run find a file whose last
		// answer never arrived (the run killed, the status unreachable).
		meta.Name = name
		meta.Parents = []string{parent}
		id := b.takeID(ctx)
		if err := announce(ctx, id); err != nil {
			return nil, err
		}
		meta.Id = id
		f, err = b.svc.Files.Create(meta).Media(media, opts...).
			Fields(googleapi.Field(fileFields)).SupportsAllDrives(true).Context(ctx).Do()
		if err != nil && id != "" && statusOf(err) == http.StatusBadRequest && b.noIDs.CompareAndSwap(false, true) {
			// Perhaps refused for the id (createOnce can tell by
			// creating again; this upload cannot): the next try goes
			// without, as every create of this run.
			b.log.Warn("Google Drive refused a resumable upload that carried a generated file id; creating without ids from now on", "backend", b.String(), "key", key, "err", err)
		}
	}
	if err != nil {
		return nil, err
	}
	if f == nil || f.Id == "" {
		// Nothing to check, nor to remove: the item, if any, is unknown.
		return nil, errors.New("the answer to the upload lacks the stored file (null, or no id)")
	}
	if err := ctx.Err(); err != nil {
		// Too late to stop Drive; the new content is complete and correct.
		b.log.Debug("Google Drive: upload finished after cancellation", "backend", b.String(), "key", key)
	}
	sum := hex.EncodeToString(sent.Sum(nil))
	var bad string
	if f.Md5Checksum == "" {
		// Drive reports the md5 of every binary file it stores; an answer
		// without it is not trusted on its size alone. Ask once more.
		got, gerr := b.get(ctx, f.Id)
		switch {
		case gerr != nil:
			bad = fmt.Sprintf("Drive's answer had no md5Checksum and fetching it failed: %v", gerr)
		case got == nil:
			bad = "Drive's answer had no md5Checksum and the file is gone"
		case got.Md5Checksum == "":
			bad = "Drive reports no md5Checksum for the stored file, so it cannot be verified"
		default:
			f = got
		}
	}
	if bad == "" {
		size, serr := contentSize(f)
		switch {
		case serr != nil:
			bad = serr.Error()
		case size != cr.N():
			bad = fmt.Sprintf("Drive stored %d bytes; %d were sent", size, cr.N())
		case f.Md5Checksum != sum:
			bad = fmt.Sprintf("Drive stored md5 %s; the data sent has md5 %s", f.Md5Checksum, sum)
		}
	}
	if bad != "" {
		if existing == nil {
			// Leave nothing wrong behind.
			if derr := b.svc.Files.Delete(f.Id).SupportsAllDrives(true).Context(context.WithoutCancel(ctx)).Do(); derr != nil {
				bad += fmt.Sprintf(" (and removing it failed: %v)", derr)
			}
		}
		return nil, errors.New("upload verification failed: " + bad)
	}
	return f, nil
}

// Delete trashes (delete_mode "trash") or deletes the object at key.
// With a destination id (backends.WithIDs) it removes that file when it
// is still key's, and succeeds when Drive no longer knows it or it is in
// the trash; when it is elsewhere and no file has key's name, Delete
// fails (the state says key exists). Otherwise a missing key, or a
// folder's, is not an error; a key that name search
// misses is looked for by listing its folders first (see lookup), as the
// search lags behind creates.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := backends.CheckKey(key); err != nil {
		return fmt.Errorf("delete %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return b.wrap(ctx, "delete", key, err)
	}
	unlock := b.locks.lock("key\x00" + key)
	defer unlock()
	id := backends.IDsFrom(ctx).Dst
	var f *drive.File
	if id != "" {
		// The file syncer wrote at key, by id: gone (404 or trashed) is
		// a success.
		var gone bool
		var err error
		if f, _, gone, err = b.byID(ctx, id, key); err != nil {
			return b.wrap(ctx, "delete", key, err)
		}
		if gone {
			return nil
		}
	}
	if f == nil {
		var err error
		if f, _, err = b.lookup(ctx, key); err != nil {
			return b.wrap(ctx, "delete", key, err)
		}
	}
	if f == nil && id != "" {
		// The state says key exists, and its file is elsewhere now.
		return b.errorf("delete", key, "Google Drive finds nothing at the key, and the file syncer wrote there (id %s) has been moved or renamed since; it is left alone. If the key was written moments ago, Drive's name search may not show it yet: run again", id)
	}
	if f == nil {
		return nil
	}
	if err := b.remove(ctx, f.Id); err != nil && !(isNotFound(err) && ctx.Err() == nil) {
		return b.wrapRemove(ctx, "delete", key, err)
	}
	return nil
}

// remove trashes or deletes the item id per the delete mode.
func (b *Backend) remove(ctx context.Context, id string) error {
	if b.deleteMode == DeletePermanent {
		return b.svc.Files.Delete(id).SupportsAllDrives(true).Context(ctx).Do()
	}
	_, err := b.svc.Files.Update(id, &drive.File{Trashed: true}).Fields("id").SupportsAllDrives(true).Context(ctx).Do()
	return err
}
