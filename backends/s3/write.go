package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"syncer/backends"
)

// Put stores r at key. Which request carries the bytes depends on the size
// (see the package doc); memory is at most one part buffer per call. On any
// failure, cancellation included, a multipart upload is aborted, so key
// never shows a partial object and keeps what it had.
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, src backends.Object) (backends.Object, error) {
	k, err := b.objKey(key)
	if err != nil {
		return backends.Object{}, fmt.Errorf("put %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return backends.Object{}, b.wrap(ctx, "put", key, err)
	}
	w, err := b.toWrite(key, src)
	if err != nil {
		return backends.Object{}, err
	}
	size := src.Size
	// Every path reads r through one ExactReader: source failures and size
	// mismatches come out as *backends.SourceError, never retried.
	switch {
	case size >= 0 && size < b.uploadCutoff && size <= b.partSize:
		buf, release := b.buffer(size)
		defer release()
		if _, _, err := backends.NewExactReader(ctx, r, size, nil).Fill(buf[:size]); err != nil {
			return backends.Object{}, b.wrap(ctx, "put", key, err)
		}
		return b.putBuffer(ctx, key, k, buf[:size], w)
	case size >= 0 && size < b.uploadCutoff && b.https:
		return b.putStream(ctx, key, k, r, src.Size, w)
	case size < 0:
		// Unknown size: one buffer decides between PutObject and multipart.
		buf, release := b.buffer(b.partSize)
		defer release()
		er := backends.NewExactReader(ctx, r, -1, nil)
		n, eof, err := er.Fill(buf)
		if err != nil {
			return backends.Object{}, b.wrap(ctx, "put", key, err)
		}
		if eof && int64(n) < b.uploadCutoff {
			return b.putBuffer(ctx, key, k, buf[:n], w)
		}
		return b.putMultipart(ctx, key, k, er, src.Size, w, buf, n, eof)
	default:
		buf, release := b.buffer(min(b.partSizeFor(size), max(size, 1)))
		defer release()
		return b.putMultipart(ctx, key, k, backends.NewExactReader(ctx, r, size, nil), size, w, buf, 0, false)
	}
}

// buffer returns a buffer of at least n bytes (n <= part size) and its
// release function. Part-size buffers are pooled.
func (b *Backend) buffer(n int64) ([]byte, func()) {
	if n <= smallObject || n > b.partSize {
		return make([]byte, n), func() {}
	}
	p := b.bufPool.Get().(*[]byte)
	return (*p)[:n], func() { b.bufPool.Put(p) }
}

// partSizeFor returns the part size for an object of size bytes: the
// configured one, grown (in MiB steps) so that the object fits 10,000 parts.
func (b *Backend) partSizeFor(size int64) int64 {
	ps := b.partSize
	if size > ps*MaxParts {
		ps = (size + MaxParts - 1) / MaxParts
		ps = (ps + MiB - 1) / MiB * MiB
	}
	return ps
}

// contentType guesses from the key's extension, as browsers will want it.
func contentType(key string) *string {
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return aws.String(t)
	}
	return aws.String("application/octet-stream")
}

// objectWrite is what every request that writes an object at a key
// carries: the key, and the backend's storage class and encryption. Its
// methods build those requests.
type objectWrite struct {
	bucket, key *string
	class       types.StorageClass
	sse         types.ServerSideEncryption
	kms         *string // SSE-KMS key id; nil: the store's default
}

func (b *Backend) objectWrite(k string) objectWrite {
	w := objectWrite{bucket: aws.String(b.bucket), key: aws.String(k), class: types.StorageClass(b.storageClass), sse: types.ServerSideEncryption(b.sse)}
	if b.kmsKeyID != "" {
		w.kms = aws.String(b.kmsKeyID)
	}
	return w
}

func (w objectWrite) put(meta written) *s3.PutObjectInput {
	in := &s3.PutObjectInput{Bucket: w.bucket, Key: w.key,
		StorageClass: w.class, ServerSideEncryption: w.sse, SSEKMSKeyId: w.kms}
	meta.put(in)
	return in
}

func (w objectWrite) createUpload(meta written) *s3.CreateMultipartUploadInput {
	in := &s3.CreateMultipartUploadInput{Bucket: w.bucket, Key: w.key,
		StorageClass: w.class, ServerSideEncryption: w.sse, SSEKMSKeyId: w.kms}
	meta.createUpload(in)
	return in
}

// copy copies source ("bucket/escaped key"), with its metadata and tags,
// when its ETag matches match (nil: any); meta, when not nil, replaces them.
// The directive COPY does not copy the website redirect (S3 keeps it apart):
// redirect is the source's.
func (w objectWrite) copy(source string, match, redirect *string, meta *written) *s3.CopyObjectInput {
	in := &s3.CopyObjectInput{Bucket: w.bucket, Key: w.key, CopySource: aws.String(source), CopySourceIfMatch: match,
		MetadataDirective: types.MetadataDirectiveCopy, TaggingDirective: types.TaggingDirectiveCopy,
		WebsiteRedirectLocation: redirect, StorageClass: w.class, ServerSideEncryption: w.sse, SSEKMSKeyId: w.kms}
	if meta != nil {
		meta.copyReplace(in)
	}
	return in
}

// putBuffer sends data with one PutObject. The body is seekable, so the SDK
// retries it, and Content-MD5 lets the store reject corrupted bytes.
func (b *Backend) putBuffer(ctx context.Context, key, k string, data []byte, w written) (backends.Object, error) {
	sum := md5.Sum(data)
	in := b.objectWrite(k).put(w)
	in.Body = bytes.NewReader(data)
	in.ContentLength = aws.Int64(int64(len(data)))
	in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(sum[:]))
	out, err := b.client.PutObject(ctx, in, w.options())
	if err != nil {
		return backends.Object{}, b.wrap(ctx, "put", key, err)
	}
	return b.putResult(ctx, key, k, int64(len(data)), out, hex.EncodeToString(sum[:]))
}

// putResult verifies what a single PutObject stored and returns the object.
// Unless the object is encrypted with KMS or SSE-C (by the backend's sse,
// or by the bucket's default, which the reply reports), its ETag is the MD5
// of its bytes: it must equal md5hex (in either case), which then becomes
// Hashes[MD5]. A reply without an ETag (a proxy, a store that lost the
// headers) is checked with HeadObject: the key must hold size bytes and an
// ETag that passes the same test. Anything else fails the Put: the store
// did not confirm the bytes it keeps.
func (b *Backend) putResult(ctx context.Context, key, k string, size int64, out *s3.PutObjectOutput, md5hex string) (backends.Object, error) {
	etag := unquote(aws.ToString(out.ETag))
	encrypted := b.etagNotMD5(out.ServerSideEncryption, out.SSECustomerAlgorithm)
	if etag == "" {
		head, err := b.headWritten(ctx, "put", key, k, size, "PutObject answered without an ETag")
		if err != nil {
			return backends.Object{}, err
		}
		etag = unquote(aws.ToString(head.ETag))
		encrypted = encrypted || b.etagNotMD5(head.ServerSideEncryption, head.SSECustomerAlgorithm)
		if etag == "" {
			return backends.Object{}, b.errorf("put", key, "the store reports no ETag for the object, neither in the PutObject reply nor in HeadObject: the write cannot be verified")
		}
	}
	obj := backends.Object{Key: key, Size: size, ETag: etag}
	if encrypted {
		return obj, nil
	}
	if !strings.EqualFold(etag, md5hex) {
		return backends.Object{}, b.errorf("put", key, "the store's ETag %q is not the MD5 %s of the bytes sent: the data was corrupted in transit, or the store did not keep them", shorten(etag), md5hex)
	}
	obj.Hashes = map[backends.HashType]string{backends.MD5: md5hex}
	return obj, nil
}

// etagNotMD5 reports whether an object written by b, with the encryption a
// reply reports, has an ETag that is not the MD5 of its bytes: KMS (the
// backend's sse, or the bucket's default) or SSE-C.
func (b *Backend) etagNotMD5(sse types.ServerSideEncryption, sseCustomer *string) bool {
	return strings.HasPrefix(b.sse, "aws:kms") || strings.HasPrefix(string(sse), "aws:kms") || aws.ToString(sseCustomer) != ""
}

// headWritten checks with HeadObject that k holds size bytes, after a write
// whose reply could not vouch for it (why says how).
func (b *Backend) headWritten(ctx context.Context, op, key, k string, size int64, why string) (*s3.HeadObjectOutput, error) {
	head, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(k)})
	if err != nil {
		if isNotFound(err) && ctx.Err() == nil {
			return nil, b.errorf(op, key, "%s, and the object is not there", why)
		}
		return nil, b.wrap(ctx, op, key, fmt.Errorf("%s; checking the object: %w", why, err))
	}
	if head.ContentLength == nil || *head.ContentLength != size {
		got := "no size"
		if head.ContentLength != nil {
			got = fmt.Sprintf("%d bytes", *head.ContentLength)
		}
		return nil, b.errorf(op, key, "%s, and the object there has %s, not %d", why, got, size)
	}
	return head, nil
}

// putStream sends r, of known size, as the unseekable body of one
// PutObject (see streamOptions), computing its MD5 on the way.
func (b *Backend) putStream(ctx context.Context, key, k string, r io.Reader, size int64, w written) (backends.Object, error) {
	h := md5.New()
	body := backends.NewExactReader(ctx, r, size, h)
	in := b.objectWrite(k).put(w)
	in.Body = body
	in.ContentLength = aws.Int64(size)
	out, err := b.client.PutObject(ctx, in, b.streamOptions, w.options())
	if err == nil {
		err = backends.CheckSize(size, body.N()) // the request sent all bytes: cannot fail
	}
	if err != nil {
		if body.Err() != nil && ctx.Err() == nil {
			err = body.Err()
		}
		return backends.Object{}, b.wrap(ctx, "put", key, err)
	}
	return b.putResult(ctx, key, k, size, out, hex.EncodeToString(h.Sum(nil)))
}

// putMultipart uploads r in parts through buf, which holds the first n
// bytes of r already (eof: and nothing more) when n > 0. The upload is
// aborted on any error.
func (b *Backend) putMultipart(ctx context.Context, key, k string, r *backends.ExactReader, size int64, w written, buf []byte, n int, eof bool) (obj backends.Object, err error) {
	id, err := b.createUpload(ctx, key, k, w)
	if err != nil {
		return backends.Object{}, err
	}
	defer func() {
		if err != nil {
			b.abort(ctx, k, id)
		}
	}()
	var (
		parts []types.CompletedPart
		md5s  []string
		total int64
		ps    = int64(len(buf))
	)
	for num := int32(1); ; num++ {
		if n == 0 && !eof {
			want := ps
			if size >= 0 {
				want = min(ps, size-total)
			}
			if n, eof, err = r.Fill(buf[:want]); err != nil {
				return backends.Object{}, b.wrap(ctx, "put", key, err)
			}
		}
		if n == 0 && num > 1 {
			break // the previous part was the last
		}
		if num > MaxParts {
			return backends.Object{}, b.errorf("put", key, "the object needs more than %d parts of %d bytes: raise part_size", MaxParts, ps)
		}
		part, err := b.uploadBufferPart(ctx, key, k, id, num, buf[:n])
		if err != nil {
			return backends.Object{}, err
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: aws.String(part.ETag)})
		md5s = append(md5s, part.ETag)
		total += int64(n)
		if eof {
			break
		}
		n = 0
	}
	etag, err := b.complete(ctx, "put", key, k, id, parts, md5s, total)
	if err != nil {
		return backends.Object{}, err
	}
	return backends.Object{Key: key, Size: total, ETag: etag}, nil
}

func (b *Backend) createUpload(ctx context.Context, key, k string, w written) (string, error) {
	out, err := b.client.CreateMultipartUpload(ctx, b.objectWrite(k).createUpload(w), w.options())
	if err != nil {
		return "", b.wrap(ctx, "put", key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// abort aborts an upload until it is gone (abortGone), even when ctx is
// done; a failure is logged (the upload then stays for a later run or
// AbortUploads to clean up).
func (b *Backend) abort(ctx context.Context, k, id string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := b.abortGone(actx, k, id); err != nil {
		b.log.Warn("aborting a multipart upload", "backend", b.String(), "key", k, "upload", id, "err", err)
	}
}

// uploadBufferPart uploads one part from memory: the SDK retries it (the
// body is seekable), Content-MD5 makes the store check it, and we check its
// ETag; a mismatch is retried here a few times.
func (b *Backend) uploadBufferPart(ctx context.Context, key, k, id string, num int32, data []byte) (backends.Part, error) {
	sum := md5.Sum(data)
	want := hex.EncodeToString(sum[:])
	for attempt := 1; ; attempt++ {
		out, err := b.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:        aws.String(b.bucket),
			Key:           aws.String(k),
			UploadId:      aws.String(id),
			PartNumber:    aws.Int32(num),
			Body:          bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))),
			ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		})
		if err != nil {
			return backends.Part{}, b.wrap(ctx, "put", key, fmt.Errorf("part %d: %w", num, err))
		}
		part := backends.Part{Number: num, Size: int64(len(data)), ETag: unquote(aws.ToString(out.ETag)), Checksum: aws.ToString(out.ChecksumCRC32)}
		if b.sse == "aws:kms" || !plainMD5(part.ETag) || part.ETag == want {
			return part, nil
		}
		if attempt >= 3 {
			return backends.Part{}, b.errorf("put", key, "part %d: the store's ETag %s differs from the MD5 %s of the bytes sent", num, part.ETag, want)
		}
	}
}

// complete completes an upload of size bytes with its parts' ETags (and
// no part checksums, which some stores reject for uploads created without
// a checksum algorithm). If a retried Complete finds the upload gone
// because an earlier attempt succeeded unseen, the object's ETag and size
// decide.
//
// The reply must carry the object's ETag, in the multipart form "<hex>-N"
// with N the number of parts; when every part ETag is an MD5 (and the
// object is not encrypted with KMS), the hex must be the MD5 of their
// digests. A 200 reply may be empty or blank (AWS sends its headers at once
// and keeps the connection alive with spaces, so a connection that ends
// early leaves no result), or its ETag may be missing or in another form
// (some stores): then HeadObject decides, and the object must have size
// bytes and the ETag of the reply, if any, checked the same way when it is
// in the multipart form.
func (b *Backend) complete(ctx context.Context, op, key, k, id string, parts []types.CompletedPart, partETags []string, size int64) (string, error) {
	want := multipartETag(partETags)
	out, err := b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(b.bucket),
		Key:             aws.String(k),
		UploadId:        aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}, b.slowOp)
	if err != nil {
		if isNoSuchUpload(err) && want != "" && ctx.Err() == nil {
			if st, serr := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(k)}); serr == nil &&
				unquote(aws.ToString(st.ETag)) == want && aws.ToInt64(st.ContentLength) == size {
				return want, nil
			}
		}
		return "", b.wrap(ctx, op, key, fmt.Errorf("complete multipart upload: %w", err))
	}
	etag := unquote(aws.ToString(out.ETag))
	encrypted := b.etagNotMD5(out.ServerSideEncryption, nil)
	if isMultipartETag(etag) {
		return etag, b.checkMultipartETag(op, key, etag, want, len(parts), encrypted)
	}
	why := "CompleteMultipartUpload answered without an ETag"
	if etag != "" {
		why = fmt.Sprintf("CompleteMultipartUpload answered ETag %q, not one of a multipart object", shorten(etag))
	}
	head, err := b.headWritten(ctx, op, key, k, size, why)
	if err != nil {
		return "", err
	}
	hetag := unquote(aws.ToString(head.ETag))
	switch {
	case hetag == "":
		return "", b.errorf(op, key, "%s, and HeadObject reports none either: the upload cannot be verified", why)
	case etag != "" && hetag != etag:
		return "", b.errorf(op, key, "%s, but the object there has ETag %q", why, shorten(hetag))
	case isMultipartETag(hetag):
		encrypted = encrypted || b.etagNotMD5(head.ServerSideEncryption, nil)
		return hetag, b.checkMultipartETag(op, key, hetag, want, len(parts), encrypted)
	}
	return hetag, nil
}

// checkMultipartETag checks a multipart ETag "<hex>-N" against the parts
// sent: N must be their number and, when want is known and the object is
// not encrypted, etag must be want.
func (b *Backend) checkMultipartETag(op, key, etag, want string, nparts int, encrypted bool) error {
	if _, n, _ := strings.Cut(etag, "-"); n != strconv.Itoa(nparts) {
		return b.errorf(op, key, "the multipart ETag %s counts %s parts; %d were sent", etag, n, nparts)
	}
	if want != "" && !encrypted && !strings.EqualFold(etag, want) {
		return b.errorf(op, key, "multipart ETag %s differs from %s computed from the parts sent", etag, want)
	}
	return nil
}

// multipartETag computes the usual multipart ETag, md5(part md5s)-N, or ""
// when a part ETag is not an MD5.
func multipartETag(partETags []string) string {
	h := md5.New()
	for _, e := range partETags {
		if !plainMD5(e) {
			return ""
		}
		raw, _ := hex.DecodeString(e)
		h.Write(raw)
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(partETags))
}

// isMultipartETag reports an ETag of the form <32 hex>-N, N in 1..10,000
// without leading zeros (hex digits in either case).
func isMultipartETag(etag string) bool {
	hexPart, n, ok := strings.Cut(etag, "-")
	if !ok || !plainMD5(strings.ToLower(hexPart)) || n == "" || n[0] == '0' || len(n) > 5 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	v, _ := strconv.Atoi(n)
	return v <= MaxParts
}

// formatMTime writes a time as rclone does in x-amz-meta-mtime: Unix
// seconds with a fraction ("1700000000.123456789"), so each tool reads the
// times the other wrote.
func formatMTime(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + "." + fmt.Sprintf("%09d", t.Nanosecond())
}

// parseMTime reads x-amz-meta-mtime: Unix seconds with an optional
// fraction (rclone's and syncer's form), or RFC 3339.
func parseMTime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	sec, frac, _ := strings.Cut(v, ".")
	if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
		var ns int64
		if frac != "" {
			if len(frac) > 9 {
				frac = frac[:9]
			}
			f, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			ns = f
		}
		return time.Unix(n, ns).UTC(), true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}
