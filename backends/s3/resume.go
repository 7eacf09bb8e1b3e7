package s3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"syncer/backends"
)

// PutResumable uploads the object that open reads as a multipart upload
// whose progress j records, continuing a recorded upload where the server
// has its parts. Each part streams from its own ranged read of the source
// (no buffer); a part that fails transiently is re-read and re-sent.
//
// Objects of unknown size or below UploadCutoff go through Put (one
// request, nothing to resume). A recorded upload is continued when ListParts
// finds it: parts the server lists and the journal recorded with the same
// size and ETag are kept, every other part is sent. If the upload is gone
// (NoSuchUpload) or its recorded part size cannot lay out src.Size, it
// starts over. The upload is aborted (and
// j told) only on a permanent store error; on cancellation or a transient
// failure it is left for the next run to resume.
//
// The journal is trusted to belong to the same source object: a caller
// whose source changed must call j.Finished (and AbortUploads) first.
func (b *Backend) PutResumable(ctx context.Context, key string, open backends.RangeOpener, src backends.Object, j backends.UploadJournal) (backends.Object, error) {
	k, err := b.objKey(key)
	if err != nil {
		return backends.Object{}, fmt.Errorf("put %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return backends.Object{}, b.wrap(ctx, "put", key, err)
	}
	if src.Size < 0 || src.Size < b.uploadCutoff {
		return b.putOpened(ctx, key, open, src)
	}

	id, ps, recorded, err := j.Load(ctx, key)
	if err != nil {
		return backends.Object{}, b.wrap(ctx, "put", key, fmt.Errorf("load upload journal: %w", err))
	}
	done := map[int32]backends.Part{}
	if id != "" {
		done, err = b.resumable(ctx, key, k, id, ps, src.Size, recorded)
		if err != nil {
			return backends.Object{}, err
		}
		if done == nil { // not resumable: start over
			done = map[int32]backends.Part{}
			b.abort(ctx, k, id)
			if err := j.Finished(ctx, key); err != nil {
				return backends.Object{}, b.wrap(ctx, "put", key, fmt.Errorf("upload journal: %w", err))
			}
			id = ""
		} else {
			parts := (src.Size + ps - 1) / ps
			b.log.Info(fmt.Sprintf("resuming upload of %s at part %d of %d", key, len(done)+1, parts),
				"backend", b.String(), "key", key, "parts_done", len(done))
		}
	}
	if id == "" {
		ps = b.partSizeFor(src.Size)
		w, err := b.toWrite(key, src)
		if err != nil {
			return backends.Object{}, err
		}
		if id, err = b.createUpload(ctx, key, k, w); err != nil {
			return backends.Object{}, err
		}
		if err := j.Started(ctx, key, id, ps); err != nil {
			b.abort(ctx, k, id)
			return backends.Object{}, b.wrap(ctx, "put", key, fmt.Errorf("upload journal: %w", err))
		}
	}

	// giveUp aborts the upload after a permanent store error.
	giveUp := func(err error) (backends.Object, error) {
		if IsPermanent(err) && ctx.Err() == nil {
			b.abort(ctx, k, id)
			if jerr := j.Finished(ctx, key); jerr != nil {
				err = fmt.Errorf("%w (and forgetting the upload failed: %v)", err, jerr)
			}
		}
		return backends.Object{}, err
	}

	nparts := int32((src.Size + ps - 1) / ps)
	if err := b.sendParts(ctx, key, k, id, ps, src.Size, open, j, done); err != nil {
		var je *journalError
		if errors.As(err, &je) {
			return backends.Object{}, b.wrap(ctx, "put", key, fmt.Errorf("upload journal: %w", je.err))
		}
		return giveUp(err)
	}
	parts := make([]types.CompletedPart, 0, nparts)
	etags := make([]string, 0, nparts)
	for num := int32(1); num <= nparts; num++ {
		p := done[num]
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: aws.String(p.ETag)})
		etags = append(etags, p.ETag)
	}
	etag, err := b.complete(ctx, "put", key, k, id, parts, etags, src.Size)
	if err != nil {
		return giveUp(err)
	}
	if err := j.Finished(ctx, key); err != nil {
		return backends.Object{}, b.wrap(ctx, "put", key, fmt.Errorf("upload journal: %w", err))
	}
	b.abortOthers(ctx, k, id)
	return backends.Object{Key: key, Size: src.Size, ETag: etag}, nil
}

// journalError is a failure to record a finished part.
type journalError struct{ err error }

func (e *journalError) Error() string { return e.err.Error() }

// sendParts uploads the parts of an object of size bytes (parts of ps) that
// done lacks, up to b.concurrency at a time, each streamed from its own
// ranged read, and adds them to done. Each finished part is recorded in j
// (one call at a time) before it counts as done. After a failure no part
// starts, but those in flight may finish (and be recorded, for the next
// run); the first failure is returned.
func (b *Backend) sendParts(ctx context.Context, key, k, id string, ps, size int64, open backends.RangeOpener, j backends.UploadJournal, done map[int32]backends.Part) error {
	nparts := int32((size + ps - 1) / ps)
	var todo []int32 // at most 10,000
	for num := int32(1); num <= nparts; num++ {
		if _, ok := done[num]; !ok {
			todo = append(todo, num)
		}
	}
	var (
		g      errgroup.Group
		failed atomic.Bool
		mu     sync.Mutex // done, and the journal
	)
	g.SetLimit(b.concurrency)
	stopped := false
	for _, num := range todo {
		if failed.Load() || ctx.Err() != nil {
			break
		}
		if backends.Stopping(ctx) {
			// At a part boundary: the parts sent are recorded, and the
			// next run sends the rest.
			stopped = true
			break
		}
		off := int64(num-1) * ps
		length := min(ps, size-off)
		g.Go(func() error {
			p, err := b.uploadStreamPart(ctx, key, k, id, num, off, length, open)
			if err != nil {
				failed.Store(true)
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if err := j.PartDone(context.WithoutCancel(ctx), key, p); err != nil {
				failed.Store(true)
				return &journalError{err}
			}
			done[num] = p
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return b.wrap(ctx, "put", key, err)
	}
	if stopped {
		return fmt.Errorf("put %s: key %q: %d of %d parts sent: %w", b, key, len(done), nparts, backends.ErrStopped)
	}
	return nil
}

// abortOthers aborts every other unfinished upload of exactly k, once an
// upload of k completed. Such an upload is one syncer started and lost track
// of (a retried CreateMultipartUpload whose first answer was lost, or a run
// killed between creating an upload and recording it); anyone else's would
// overwrite the object this sync just wrote. Failures only cost storage
// until a later run, so they are not errors.
func (b *Backend) abortOthers(ctx context.Context, k, id string) {
	out, err := b.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(b.bucket), Prefix: aws.String(k),
	})
	if err != nil {
		return
	}
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) != k || aws.ToString(u.UploadId) == id {
			continue
		}
		b.abort(ctx, k, aws.ToString(u.UploadId))
	}
}

// resumable lists the parts the server has for upload id and returns
// those that the journal recorded (same number, size and ETag) and that fit
// an object of size bytes in parts of ps; nil (and no error) when the
// upload cannot be continued: it is gone, or ps cannot lay out size.
//
// The server's list alone is not trusted: a part whose upload was cut short
// (the source failed, the run was killed mid-part) may still be listed, and
// some stores (versitygw, for an unsigned body over plain HTTP) list it
// with its declared size and zeros for the missing bytes. Only a part we
// verified (its ETag matched the MD5 we sent) reaches the journal, so a
// part the server lists but the journal lacks — at most the one in flight
// when a run died — is sent again.
func (b *Backend) resumable(ctx context.Context, key, k, id string, ps, size int64, recorded []backends.Part) (map[int32]backends.Part, error) {
	if ps < MinPartSize || ps > MaxPartSize || (size+ps-1)/ps > MaxParts {
		return nil, nil
	}
	nparts := int32((size + ps - 1) / ps)
	journaled := make(map[int32]backends.Part, len(recorded))
	for _, p := range recorded {
		journaled[p.Number] = p
	}
	done := map[int32]backends.Part{}
	// A short list of parts only means more parts are sent again; a server
	// repeating its marker must not loop forever, though.
	p := s3.NewListPartsPaginator(b.client, &s3.ListPartsInput{
		Bucket: aws.String(b.bucket), Key: aws.String(k), UploadId: aws.String(id),
	}, func(o *s3.ListPartsPaginatorOptions) { o.StopOnDuplicateToken = true })
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if isNoSuchUpload(err) && ctx.Err() == nil {
				return nil, nil
			}
			return nil, b.wrap(ctx, "put", key, fmt.Errorf("list parts of upload: %w", err))
		}
		for _, sp := range page.Parts {
			// A part of the wrong size, or one the journal does not
			// vouch for, is sent again; parts past the end are left out
			// of Complete, which drops them.
			num := aws.ToInt32(sp.PartNumber)
			if num < 1 || num > nparts {
				continue
			}
			want := min(ps, size-int64(num-1)*ps)
			etag := unquote(aws.ToString(sp.ETag))
			if aws.ToInt64(sp.Size) != want {
				continue
			}
			if jp, ok := journaled[num]; !ok || jp.Size != want || unquote(jp.ETag) != etag {
				continue
			}
			done[num] = backends.Part{Number: num, Size: want, ETag: etag, Checksum: aws.ToString(sp.ChecksumCRC32)}
		}
	}
	return done, nil
}

// uploadStreamPart sends bytes [off, off+length) of the source as part num,
// streamed from open. A transient failure re-opens the range and sends it
// again, with backoff, up to the attempt limit. The part's MD5 is computed
// on the way and checked against its ETag.
func (b *Backend) uploadStreamPart(ctx context.Context, key, k, id string, num int32, off, length int64, open backends.RangeOpener) (backends.Part, error) {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return backends.Part{}, b.wrap(ctx, "put", key, err)
		}
		rc, err := open(ctx, off, length)
		if err != nil {
			return backends.Part{}, b.wrap(ctx, "put", key, &backends.SourceError{Err: fmt.Errorf("open part %d: %w", num, err)})
		}
		h := md5.New()
		body := backends.NewExactReader(ctx, rc, length, h)
		out, err := b.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:        aws.String(b.bucket),
			Key:           aws.String(k),
			UploadId:      aws.String(id),
			PartNumber:    aws.Int32(num),
			Body:          body,
			ContentLength: aws.Int64(length),
		}, b.streamOptions)
		rc.Close()
		if err == nil {
			err = backends.CheckSize(length, body.N())
		}
		if err != nil && ctx.Err() == nil {
			var se *backends.SourceError
			if errors.As(body.Err(), &se) {
				err = body.Err() // the source failed, not the store
			}
		}
		if err == nil {
			part := backends.Part{Number: num, Size: length, ETag: unquote(aws.ToString(out.ETag)), Checksum: aws.ToString(out.ChecksumCRC32)}
			sum := hex.EncodeToString(h.Sum(nil))
			if b.sse == "aws:kms" || !plainMD5(part.ETag) || part.ETag == sum {
				return part, nil
			}
			err = fmt.Errorf("the store's ETag %s differs from the MD5 %s of the bytes sent", part.ETag, sum)
			if attempt >= 3 {
				return backends.Part{}, b.errorf("put", key, "part %d: %v", num, err)
			}
			continue
		}
		if ctx.Err() != nil || !b.retryable(err) || attempt >= b.maxAttempts {
			return backends.Part{}, b.wrap(ctx, "put", key, fmt.Errorf("part %d: %w", num, err))
		}
		if !b.sleep(ctx, attempt, err) {
			return backends.Part{}, b.wrap(ctx, "put", key, ctx.Err())
		}
	}
}

// putOpened is Put from a RangeOpener, re-opening the source to retry a
// transient failure of a request whose body was streamed.
func (b *Backend) putOpened(ctx context.Context, key string, open backends.RangeOpener, src backends.Object) (backends.Object, error) {
	for attempt := 1; ; attempt++ {
		rc, err := open(ctx, 0, -1)
		if err != nil {
			return backends.Object{}, b.wrap(ctx, "put", key, &backends.SourceError{Err: err})
		}
		put := src
		if put.Meta == nil {
			put.Meta = backends.MetaOf(rc) // from the same GetObject
		}
		obj, err := b.Put(ctx, key, rc, put)
		rc.Close()
		if err == nil || ctx.Err() != nil || !b.retryable(err) || attempt >= b.maxAttempts {
			return obj, err
		}
		if !b.sleep(ctx, attempt, err) {
			return backends.Object{}, b.wrap(ctx, "put", key, ctx.Err())
		}
	}
}

// AbortUpload abandons the multipart upload id of key, which a journal
// still records but no run will resume. A missing upload is not an error.
func (b *Backend) AbortUpload(ctx context.Context, key, id string) error {
	k, err := b.objKey(key)
	if err != nil {
		return fmt.Errorf("abort upload %s: %w", b, err)
	}
	if err := b.abortGone(ctx, k, id); err != nil {
		return b.wrap(ctx, "abort upload", key, err)
	}
	return nil
}

// abortChecks bounds the aborts of one upload; abortSettle is the wait
// before the first check that it is gone, doubled before each next one.
const abortChecks = 5

var abortSettle = 100 * time.Millisecond

// abortGone aborts upload id of k and then checks, abortSettle later, that
// ListParts no longer finds it, aborting again while it does. A part
// still being written when the abort arrives can land after it and bring
// the upload back (AWS documents that an abort may need repeating while
// parts are in flight; versitygw recreates the upload's folder for such a
// part), and a forgotten upload is storage billed until someone aborts it.
// An upload already gone is not an error.
func (b *Backend) abortGone(ctx context.Context, k, id string) error {
	wait := abortSettle
	for n := 1; ; n++ {
		_, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(b.bucket), Key: aws.String(k), UploadId: aws.String(id),
		})
		if err != nil && (ctx.Err() != nil || !(isNoSuchUpload(err) || isNotFound(err))) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		_, err = b.client.ListParts(ctx, &s3.ListPartsInput{
			Bucket: aws.String(b.bucket), Key: aws.String(k), UploadId: aws.String(id), MaxParts: aws.Int32(1),
		})
		switch {
		case err != nil && (isNoSuchUpload(err) || isNotFound(err)):
			return nil
		case err != nil:
			return fmt.Errorf("check that upload %s is gone: %w", id, err)
		case n >= abortChecks:
			return fmt.Errorf("upload %s is still listed after %d aborts", id, n)
		}
		wait *= 2
	}
}

// Upload is a multipart upload in progress under the backend's root.
type Upload struct {
	Key       string // relative to the root
	ID        string
	Initiated time.Time
}

// AbortUploads aborts multipart uploads under the root that were initiated
// at least olderThan ago and that keep does not claim (keep may be nil),
// and returns how many it aborted. apply calls it after a successful run to
// clean up uploads that a killed run left and no journal will resume.
func (b *Backend) AbortUploads(ctx context.Context, olderThan time.Duration, keep func(Upload) bool) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	n := 0
	// A short listing only leaves some uploads for a later run.
	p := s3.NewListMultipartUploadsPaginator(b.client, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(b.bucket), Prefix: aws.String(b.root),
	}, func(o *s3.ListMultipartUploadsPaginatorOptions) { o.StopOnDuplicateToken = true })
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, b.wrap(ctx, "list uploads", "", err)
		}
		for _, u := range page.Uploads {
			rel, ok := strings.CutPrefix(aws.ToString(u.Key), b.root)
			up := Upload{Key: rel, ID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)}
			if !ok || up.Initiated.After(cutoff) || (keep != nil && keep(up)) {
				continue
			}
			_, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(b.bucket), Key: u.Key, UploadId: u.UploadId,
			})
			if err != nil && !isNoSuchUpload(err) {
				return n, b.wrap(ctx, "abort upload", rel, err)
			}
			n++
		}
	}
	return n, nil
}
