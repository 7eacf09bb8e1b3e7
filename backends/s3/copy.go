package s3

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"syncer/backends"
)

// CanCopyFrom reports whether CopyFrom can copy from src inside the store:
// src must be an s3 backend. With server_side_copy "always" that is enough;
// with "never" nothing qualifies; with "auto" both must use the same
// endpoint and the same credentials (the same static keys, or the same
// profile and role, or both the default chain and the same role), so one
// set of credentials reaches both buckets.
func (b *Backend) CanCopyFrom(src backends.Backend) bool {
	s, ok := src.(*Backend)
	if !ok || s == nil {
		return false
	}
	switch b.ssc {
	case CopyNever:
		return false
	case CopyAlways:
		return true
	}
	return sameEndpoint(b.endpoint, s.endpoint) && b.creds == s.creds
}

func sameEndpoint(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}

// CopyFrom copies srcKey of src (an *s3.Backend) to key without the bytes
// passing through syncer: CopyObject below the copy cutoff (5 GiB), a
// multipart upload of UploadPartCopy parts at or above it. The copy is
// pinned to srcObj.ETag when known, so a source that changed since it was
// listed fails the copy instead of copying another version. A HeadObject
// of that version gives the source's metadata: headers, user metadata and
// tags are copied (x-amz-meta-mtime is the source's LastModified when it
// has none), with srcObj.MetaEdit applied; storage class and encryption
// are the destination's.
func (b *Backend) CopyFrom(ctx context.Context, src backends.Backend, srcKey, key string, srcObj backends.Object) (backends.Object, error) {
	s, ok := src.(*Backend)
	if !ok {
		return backends.Object{}, fmt.Errorf("copy %s: source %s is not an s3 backend", b, src)
	}
	k, err := b.objKey(key)
	if err != nil {
		return backends.Object{}, fmt.Errorf("copy %s: %w", b, err)
	}
	sk, err := s.objKey(srcKey)
	if err != nil {
		return backends.Object{}, fmt.Errorf("copy from %s: %w", s, err)
	}
	if err := ctx.Err(); err != nil {
		return backends.Object{}, b.wrap(ctx, "copy", key, err)
	}
	// The source's metadata, from the version the copy is pinned to.
	head, err := s.head(ctx, "copy from", srcKey, sk, srcObj.ETag)
	if err != nil {
		return backends.Object{}, err
	}
	if srcObj.Size < 0 || srcObj.ETag == "" {
		srcObj.Size, srcObj.ETag = aws.ToInt64(head.ContentLength), unquote(aws.ToString(head.ETag))
	}
	if class, _ := headArchive(head); class != "" {
		return backends.Object{}, fmt.Errorf("copy from %s: key %q: %w (%s)", s, srcKey, backends.ErrArchived, class)
	}
	meta := headFields(head).metadata()
	// What the destination gets: the source's fields, its LastModified as
	// x-amz-meta-mtime when it has none, and the sync's edits.
	want := backends.Object{Meta: meta, ModTime: aws.ToTime(head.LastModified), MetaEdit: srcObj.MetaEdit}
	source := s.bucket + "/" + escapeKey(sk)
	var match *string
	if srcObj.ETag != "" {
		match = aws.String(`"` + srcObj.ETag + `"`)
	}
	if srcObj.Size < b.copyCutoff {
		// MetadataDirective COPY when the store can copy everything as it
		// is; else REPLACE with the fields (tags are copied unless edited).
		var replace *written
		opts := []func(*s3.Options){b.slowOp}
		if meta.ModTime.IsZero() || !srcObj.MetaEdit.Empty() {
			w, err := b.toWrite(key, want)
			if err != nil {
				return backends.Object{}, err
			}
			replace = &w
			opts = append(opts, w.options())
		}
		out, err := b.client.CopyObject(ctx, b.objectWrite(k).copy(source, match, head.WebsiteRedirectLocation, replace), opts...)
		if err != nil {
			if isNotFound(err) && ctx.Err() == nil {
				return backends.Object{}, s.notFound("copy from", srcKey)
			}
			return backends.Object{}, b.wrapCopy(ctx, s, key, srcKey, err)
		}
		return b.copyResult(ctx, s, srcKey, sk, key, k, srcObj, out)
	}
	if err := s.readTags(ctx, srcKey, sk, meta); err != nil {
		return backends.Object{}, err
	}
	w, err := b.toWrite(key, want)
	if err != nil {
		return backends.Object{}, err
	}
	return b.copyMultipart(ctx, s, srcKey, key, k, source, match, srcObj.Size, w)
}

// copyResult verifies what a CopyObject stored and returns the object.
//
// The reply must carry a CopyObjectResult with an ETag: AWS sends the 200
// headers at once and keeps the connection alive with spaces while it
// copies, so a connection that ends early leaves a blank body and no word
// on the copy. When the source's ETag is an MD5 and the copy is not
// encrypted with KMS or SSE-C, the copy's ETag is the same MD5, and then
// Hashes[MD5]. A different ETag fails the copy, unless HeadObject shows the
// source is encrypted (its ETag is then no MD5 to compare with). Otherwise
// (a multipart source, encryption) HeadObject must find the copy's ETag and
// the source's size at the key.
func (b *Backend) copyResult(ctx context.Context, s *Backend, srcKey, sk, key, k string, srcObj backends.Object, out *s3.CopyObjectOutput) (backends.Object, error) {
	obj := backends.Object{Key: key, Size: srcObj.Size}
	if r := out.CopyObjectResult; r != nil {
		obj.ETag = unquote(aws.ToString(r.ETag))
		obj.ModTime = aws.ToTime(r.LastModified)
	}
	if obj.ETag == "" {
		return backends.Object{}, b.errorf("copy", key, "the store answered CopyObject (from %s key %q) without a result ETag: the copy is not confirmed", s, srcKey)
	}
	srcMD5 := strings.ToLower(srcObj.ETag)
	encrypted := b.etagNotMD5(out.ServerSideEncryption, out.SSECustomerAlgorithm)
	if !encrypted && plainMD5(srcMD5) {
		if strings.EqualFold(obj.ETag, srcMD5) {
			obj.Hashes = map[backends.HashType]string{backends.MD5: srcMD5}
			return obj, nil
		}
		// The source's ETag may be no MD5 after all: a source object
		// encrypted with KMS (a bucket default) or SSE-C.
		head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(sk)})
		if err != nil {
			return backends.Object{}, b.wrap(ctx, "copy", key, fmt.Errorf("the copy's ETag %q differs from the source's %q; checking the source %s key %q: %w", shorten(obj.ETag), srcObj.ETag, s, srcKey, err))
		}
		if !strings.HasPrefix(string(head.ServerSideEncryption), "aws:kms") && aws.ToString(head.SSECustomerAlgorithm) == "" {
			return backends.Object{}, b.errorf("copy", key, "the copy's ETag %q differs from the MD5 %s of the source (%s key %q): the store did not copy the source's bytes", shorten(obj.ETag), srcMD5, s, srcKey)
		}
	}
	head, err := b.headWritten(ctx, "copy", key, k, srcObj.Size, "CopyObject answered an ETag that cannot be checked against the source's")
	if err != nil {
		return backends.Object{}, err
	}
	if hetag := unquote(aws.ToString(head.ETag)); hetag != obj.ETag {
		return backends.Object{}, b.errorf("copy", key, "CopyObject answered ETag %q, but the object there has ETag %q", shorten(obj.ETag), shorten(hetag))
	}
	return obj, nil
}

// copyMultipart copies in UploadPartCopy parts; the upload is aborted on
// any error (a server-side copy is quick to redo; nothing is journaled).
// UploadPartCopy copies no metadata: the upload is created with w.
func (b *Backend) copyMultipart(ctx context.Context, s *Backend, srcKey, key, k, source string, match *string, size int64, w written) (obj backends.Object, err error) {
	cu, err := b.client.CreateMultipartUpload(ctx, b.objectWrite(k).createUpload(w), w.options())
	if err != nil {
		return backends.Object{}, b.wrap(ctx, "copy", key, err)
	}
	id := aws.ToString(cu.UploadId)
	defer func() {
		if err != nil {
			b.abort(ctx, k, id)
		}
	}()
	ps := b.copyPartSize
	if size > ps*MaxParts {
		ps = (size + MaxParts - 1) / MaxParts
	}
	var (
		parts []types.CompletedPart
		etags []string
	)
	for off, num := int64(0), int32(1); off < size; off, num = off+ps, num+1 {
		end := min(off+ps, size) - 1
		out, err := b.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket:            aws.String(b.bucket),
			Key:               aws.String(k),
			UploadId:          aws.String(id),
			PartNumber:        aws.Int32(num),
			CopySource:        aws.String(source),
			CopySourceIfMatch: match,
			CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		}, b.slowOp)
		if err != nil {
			return backends.Object{}, b.wrapCopy(ctx, s, key, srcKey, fmt.Errorf("part %d: %w", num, err))
		}
		etag := ""
		if out.CopyPartResult != nil {
			etag = unquote(aws.ToString(out.CopyPartResult.ETag))
		}
		if etag == "" {
			return backends.Object{}, b.errorf("copy", key, "the store answered UploadPartCopy of part %d (from %s key %q) without a result ETag: the part is not confirmed", num, s, srcKey)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: aws.String(etag)})
		etags = append(etags, etag)
	}
	etag, err := b.complete(ctx, "copy", key, k, id, parts, etags, size)
	if err != nil {
		return backends.Object{}, err
	}
	return backends.Object{Key: key, Size: size, ETag: etag}, nil
}

// escapeKey percent-encodes an object key for x-amz-copy-source: every
// byte but unreserved characters and "/" (so "+" and "%" survive intact).
func escapeKey(k string) string {
	const hexdig = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hexdig[c>>4])
		sb.WriteByte(hexdig[c&15])
	}
	return sb.String()
}

// wrapCopy describes a failed server-side copy. A missing bucket or a
// refusal there concerns the source as the destination's store sees it,
// not the destination bucket: say so, and how to stream instead.
func (b *Backend) wrapCopy(ctx context.Context, s *Backend, key, srcKey string, err error) error {
	code := errorCode(err)
	st := httpStatus(err)
	if ctx.Err() == nil && isArchivedErr(err) {
		return s.archivedErr("copy from", srcKey, err)
	}
	if ctx.Err() == nil && (code == "NoSuchBucket" || code == "AccessDenied" || st == http.StatusForbidden) {
		return &backends.PermanentError{
			Msg: fmt.Sprintf("copy %s: key %q: server-side copy from bucket %q (key %q) failed (%s): the destination's endpoint or credentials cannot reach the source bucket; use server_side_copy = \"auto\" or \"never\" to stream instead",
				b, key, s.bucket, srcKey, firstNonEmpty(code, http.StatusText(st))),
			Err: err,
		}
	}
	return b.wrap(ctx, "copy", key, fmt.Errorf("from %s key %q: %w", s, srcKey, err))
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
