package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"syncer/backends"
)

// List streams ListObjectsV2 pages (1,000 keys each) into fn. Keys are
// relative to the backend's root; S3 keys that are not valid syncer keys
// are skipped: folder markers ending in "/" quietly, others ("a//b", "..")
// with a warning. A listing that ends early, or a reply that is not a
// listing of the bucket, is an error, never a short listing. ETags are
// unquoted; Hashes[MD5] is the ETag when it is a plain MD5 (not a multipart
// "-N" tag, and the backend does not write with SSE-KMS).
//
// Objects in GLACIER or DEEP_ARCHIVE have Archived set to their class
// unless a restored copy is readable; Restoring, while a restore runs. The
// listing asks for each object's RestoreStatus (OptionalObjectAttributes);
// a store that refuses to be asked is listed without, and its archived
// objects get a HeadObject each.
func (b *Backend) List(ctx context.Context, prefix string, fn func(backends.Object) error) error {
	if !utf8.ValidString(prefix) || strings.ContainsRune(prefix, 0) || strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("list %s: invalid list prefix %q", b, prefix)
	}
	if err := ctx.Err(); err != nil {
		return b.wrap(ctx, "list", "", err)
	}
	if !b.noListAttrs.Load() {
		err := b.list(ctx, prefix, true, fn)
		if !errors.Is(err, errAttrsRefused) {
			return err
		}
		b.noListAttrs.Store(true)
		b.log.Info("S3: the store refuses ListObjectsV2's OptionalObjectAttributes; restores of archived objects are read with HeadObject", "backend", b.String())
	}
	return b.list(ctx, prefix, false, fn)
}

// errAttrsRefused: the first ListObjectsV2 page was refused, as a request
// the store does not know (400 or 501), while it asked for RestoreStatus.
var errAttrsRefused = errors.New("OptionalObjectAttributes refused")

func (b *Backend) list(ctx context.Context, prefix string, attrs bool, fn func(backends.Object) error) error {
	in := &s3.ListObjectsV2Input{
		Bucket:       aws.String(b.bucket),
		Prefix:       aws.String(b.root + prefix),
		MaxKeys:      aws.Int32(listPage),
		EncodingType: types.EncodingTypeUrl,
	}
	if attrs {
		in.OptionalObjectAttributes = []types.OptionalObjectAttributes{types.OptionalObjectAttributesRestoreStatus}
	}
	// Not the SDK's paginator: it ends quietly when a truncated page has no
	// new continuation token, and a listing cut short must never pass for
	// a whole one (the plan would delete the copies of what it missed).
	first := true
	for page, err := range b.listPages(ctx, in) {
		if err != nil {
			if st := httpStatus(err); first && attrs && ctx.Err() == nil && (st == http.StatusBadRequest || st == http.StatusNotImplemented) {
				return errAttrsRefused
			}
			return err
		}
		first = false
		decode := page.EncodingType == types.EncodingTypeUrl
		for _, o := range page.Contents {
			if err := ctx.Err(); err != nil {
				return b.wrap(ctx, "list", "", err)
			}
			k := aws.ToString(o.Key)
			if decode {
				if k, err = url.QueryUnescape(k); err != nil {
					return b.wrap(ctx, "list", "", fmt.Errorf("undecodable key %q in listing: %w", aws.ToString(o.Key), err))
				}
			}
			rel, ok := strings.CutPrefix(k, b.root)
			if !ok || !strings.HasPrefix(rel, prefix) {
				continue
			}
			if err := backends.CheckKey(rel); err != nil {
				// Folder markers ("photos/") are how consoles show empty
				// folders: skipped quietly, as rclone does.
				if dir, ok := strings.CutSuffix(rel, "/"); rel != "" && (!ok || backends.CheckKey(dir) != nil) {
					b.log.Warn("S3: skipping an object whose key cannot be a syncer key", "backend", b.String(),
						"key", fmt.Sprintf("%q", k), "reason", err)
				}
				continue
			}
			obj := backends.Object{
				Key:     rel,
				Size:    aws.ToInt64(o.Size),
				ModTime: aws.ToTime(o.LastModified),
				ETag:    unquote(aws.ToString(o.ETag)),
			}
			obj.Hashes = b.md5Hashes(obj.ETag, b.sse)
			obj.Archived, obj.Restoring = listedArchive(string(o.StorageClass), o.RestoreStatus)
			if obj.Archived != "" && !attrs {
				out, err := b.head(ctx, "list", rel, k, "")
				if err != nil {
					return err
				}
				obj.Archived, obj.Restoring = headArchive(out)
			}
			if err := fn(obj); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// listPages yields the pages of a ListObjectsV2 listing, then stops; or an
// error, when a request fails, a reply is not a listing of the bucket (see
// checkListPage), or a page says the listing goes on without a new
// continuation token: one it just sent, or one it was given before (see
// backends.TokenTrail: a cycle A, B, A, ... would list the same keys for
// ever).
func (b *Backend) listPages(ctx context.Context, in *s3.ListObjectsV2Input) iter.Seq2[*s3.ListObjectsV2Output, error] {
	return func(yield func(*s3.ListObjectsV2Output, error) bool) {
		var sent backends.TokenTrail
		for {
			page, err := b.client.ListObjectsV2(ctx, in)
			if err != nil {
				yield(nil, b.wrap(ctx, "list", "", err))
				return
			}
			if err := b.checkListPage(page); err != nil {
				yield(nil, err)
				return
			}
			if !yield(page, nil) || !aws.ToBool(page.IsTruncated) {
				return
			}
			cur := aws.ToString(in.ContinuationToken)
			next := aws.ToString(page.NextContinuationToken)
			if next == "" || next == cur {
				yield(nil, fmt.Errorf("list %s: the server says the listing goes on but gives no new continuation token (%q after %q); stopping rather than trusting a partial listing",
					b, shorten(next), shorten(cur)))
				return
			}
			if sent.Repeated(next) {
				yield(nil, fmt.Errorf("list %s: the server says the listing goes on but gives a continuation token it gave before (%q after %q): the listing goes round in circles; stopping rather than trusting it",
					b, shorten(next), shorten(cur)))
				return
			}
			in.ContinuationToken = aws.String(next)
		}
	}
}

// checkListPage refuses a ListObjectsV2 reply that is not a listing of the
// bucket. The SDK decodes any 200 reply: an empty body, an HTML page from a
// proxy, JSON or XML with another root all become a page with no keys and
// IsTruncated unset, which would pass for an empty bucket (and a plan would
// delete every copy of the source's keys). Every S3 server sends
// <IsTruncated> and <Name>: the page must have IsTruncated, and Name, when
// present, must be the bucket. KeyCount, when present, must not announce
// more keys than the page holds (entries lost on the way).
func (b *Backend) checkListPage(page *s3.ListObjectsV2Output) error {
	var why string
	n := len(page.Contents) + len(page.CommonPrefixes)
	switch {
	case page.IsTruncated == nil:
		why = "it has no IsTruncated element"
	case page.Name != nil && aws.ToString(page.Name) != b.bucket:
		why = fmt.Sprintf("it lists bucket %q", shorten(aws.ToString(page.Name)))
	case page.KeyCount != nil && int64(aws.ToInt32(page.KeyCount)) > int64(n):
		why = fmt.Sprintf("its KeyCount is %d but it holds %d keys", aws.ToInt32(page.KeyCount), n)
	default:
		return nil
	}
	return fmt.Errorf("list %s: the server's reply to ListObjectsV2 is not a listing of bucket %q (%s); stopping rather than taking it for an empty or partial listing",
		b, b.bucket, why)
}

// shorten cuts a server-provided string for an error message.
func shorten(s string) string {
	const limit = 100
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}

// unquote strips the quotes S3 puts around ETags.
func unquote(etag string) string { return strings.Trim(etag, `"`) }

// plainMD5 reports whether etag looks like a single-part MD5 ETag.
func plainMD5(etag string) bool {
	if len(etag) != 32 {
		return false
	}
	for i := 0; i < len(etag); i++ {
		c := etag[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// md5Hashes returns {md5: etag} when etag is the object's MD5: a plain
// 32-hex ETag of an object not encrypted with KMS (whose ETags are not
// MD5s). Objects encrypted with SSE-C also have non-MD5 ETags; syncer does
// not write those, and a listing cannot tell them apart.
func (b *Backend) md5Hashes(etag, sse string) map[backends.HashType]string {
	if !plainMD5(etag) || strings.HasPrefix(sse, "aws:kms") {
		return nil
	}
	return map[backends.HashType]string{backends.MD5: etag}
}

// Stat returns the object at key from HeadObject.
func (b *Backend) Stat(ctx context.Context, key string) (backends.Object, error) {
	k, err := b.objKey(key)
	if err != nil {
		return backends.Object{}, fmt.Errorf("stat %s: %w", b, err)
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(k)})
	if err != nil {
		if isNotFound(err) && ctx.Err() == nil {
			return backends.Object{}, b.notFound("stat", key)
		}
		return backends.Object{}, b.wrap(ctx, "stat", key, err)
	}
	etag := unquote(aws.ToString(out.ETag))
	obj := backends.Object{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		ETag:    etag,
		Hashes:  b.md5Hashes(etag, string(out.ServerSideEncryption)),
	}
	obj.Archived, obj.Restoring = headArchive(out)
	return obj, nil
}

// SourceModTime returns the modification time Put recorded for key in its
// metadata (x-amz-meta-mtime), or the zero time when there is none.
func (b *Backend) SourceModTime(ctx context.Context, key string) (time.Time, error) {
	k, err := b.objKey(key)
	if err != nil {
		return time.Time{}, fmt.Errorf("stat %s: %w", b, err)
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(k)})
	if err != nil {
		if isNotFound(err) && ctx.Err() == nil {
			return time.Time{}, b.notFound("stat", key)
		}
		return time.Time{}, b.wrap(ctx, "stat", key, err)
	}
	t, _ := parseMTime(out.Metadata[MetaMTime])
	return t, nil
}

// Open streams the object from offset with a ranged GetObject. A read that
// fails mid-stream on a dropped connection resumes with a new ranged GET
// pinned to the same ETag (If-Match), so the bytes always come from one
// version of the object. Every reply must hold the bytes asked for (see
// backends.CheckPartial): a server that ignores Range fails the read.
func (b *Backend) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	return b.open(ctx, key, "", offset, length)
}

// OpenPinned is Open with every GetObject, the first included, pinned to
// src's ETag (If-Match): a reply 412 Precondition Failed, the object being
// another version, fails with backends.ErrSourceChanged.
func (b *Backend) OpenPinned(ctx context.Context, src backends.Object, offset, length int64) (io.ReadCloser, error) {
	return b.open(ctx, src.Key, src.ETag, offset, length)
}

// open is Open pinned to etag ("": to the ETag of the first reply).
func (b *Backend) open(ctx context.Context, key, etag string, offset, length int64) (io.ReadCloser, error) {
	k, err := b.objKey(key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", b, err)
	}
	if offset < 0 {
		return nil, b.errorf("open", key, "negative offset %d", offset)
	}
	if err := ctx.Err(); err != nil {
		return nil, b.wrap(ctx, "open", key, err)
	}
	if length == 0 {
		if err := b.statVersion(ctx, key, etag); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	end := int64(-1)
	if length > 0 {
		end = offset + length
	}
	g := &getter{b: b, key: key, objKey: k, etag: etag}
	body, end, err := g.get(ctx, offset, end)
	if err != nil {
		if errors.Is(err, errRangeNotSatisfiable) {
			// Asked for bytes from the end (or past it) of an object,
			// maybe an empty one: empty, if the object exists.
			if serr := b.statVersion(ctx, key, etag); serr != nil {
				return nil, serr
			}
			return io.NopCloser(strings.NewReader("")), nil
		}
		return nil, err
	}
	return b.withMeta(ctx, key, g, offset == 0 && length < 0, backends.NewResumingReader(ctx, backends.Resume{
		Open: g.reopen,
		Retry: func(ctx context.Context, n int, err error) bool {
			return b.retryable(err) && b.sleep(ctx, n, err)
		},
		Max:  maxReadResumes,
		Fail: func(err error) error { return b.wrap(ctx, "read", key, err) },
	}, body, offset, end))
}

// statVersion checks that key exists and, with etag != "", has that ETag.
func (b *Backend) statVersion(ctx context.Context, key, etag string) error {
	o, err := b.Stat(ctx, key)
	if err == nil && etag != "" && o.ETag != etag {
		return backends.SourceChanged("open", b, key, fmt.Sprintf("its ETag is %s, not %s", o.ETag, etag))
	}
	return err
}

var errRangeNotSatisfiable = errors.New("range not satisfiable")

// maxReadResumes bounds how often one Open stream re-requests after a
// dropped connection.
const maxReadResumes = 10

// getter issues the GetObjects of one Open stream, pinned to etag: the
// one OpenPinned was given, else, after the first, the ETag of the first.
type getter struct {
	b           *Backend
	key, objKey string
	etag        string
	meta        *backends.Metadata // from the first reply
	got         bool               // a GetObject succeeded
}

// reopen is get for a resumed stream: a range that starts at the object's
// end is empty.
func (g *getter) reopen(ctx context.Context, pos, end int64) (io.ReadCloser, int64, error) {
	body, end, err := g.get(ctx, pos, end)
	if errors.Is(err, errRangeNotSatisfiable) {
		return http.NoBody, pos, nil // nothing left after all
	}
	return body, end, err
}

// get issues a GetObject for [pos, end) (end < 0: to the object's end) and
// returns its body and the end of the bytes it holds.
func (g *getter) get(ctx context.Context, pos, end int64) (io.ReadCloser, int64, error) {
	b := g.b
	in := &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(g.objKey)}
	switch {
	case end >= 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", pos, end-1))
	case pos > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", pos))
	default:
		// A whole object: have the SDK check the store's checksum, if
		// the store keeps a whole-object one.
		in.ChecksumMode = types.ChecksumModeEnabled
	}
	if g.etag != "" {
		in.IfMatch = aws.String(`"` + g.etag + `"`)
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		switch {
		case ctx.Err() != nil:
		case httpStatus(err) == http.StatusRequestedRangeNotSatisfiable || errorCode(err) == "InvalidRange":
			return nil, 0, errRangeNotSatisfiable
		case isNotFound(err):
			if g.got {
				return nil, 0, backends.SourceChanged("read", b, g.key, "the object was deleted while it was being read")
			}
			return nil, 0, b.notFound("open", g.key)
		case errorCode(err) == "PreconditionFailed" || httpStatus(err) == http.StatusPreconditionFailed:
			return nil, 0, backends.SourceChanged("read", b, g.key, "its ETag is no longer "+g.etag)
		case isArchivedErr(err):
			return nil, 0, b.archivedErr("open", g.key, err)
		}
		return nil, 0, b.wrap(ctx, "open", g.key, err)
	}
	status := 0
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		status = raw.StatusCode
	}
	rng := aws.ToString(in.Range)
	if rng != "" && status == http.StatusOK && aws.ToInt64(out.ContentLength) == 0 && out.ContentLength != nil {
		// A range of an empty object, as some servers answer instead of
		// 416.
		out.Body.Close()
		return nil, 0, errRangeNotSatisfiable
	}
	length := int64(-1)
	if out.ContentLength != nil {
		length = *out.ContentLength
	}
	end, err = backends.CheckPartial(rng, pos, end, status, aws.ToString(out.ContentRange), length)
	if err != nil {
		out.Body.Close()
		return nil, 0, fmt.Errorf("open %s: key %q: %w", b, g.key, err)
	}
	if g.etag == "" {
		g.etag = unquote(aws.ToString(out.ETag))
	}
	if !g.got {
		// The first reply's headers, also when the ETag was pinned
		// beforehand (OpenPinned).
		g.meta = getFields(out).metadata()
	}
	g.got = true
	return out.Body, end, nil
}
