package s3

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"syncer/backends"
)

// S3's limits on what an object carries besides its bytes.
const (
	maxUserMeta = 2048 // bytes of user metadata keys and values together
	maxTags     = 10
	maxTagKey   = 128 // characters
	maxTagValue = 256 // characters
)

// headerFields are the metadata fields of a GetObject or HeadObject reply.
type headerFields struct {
	contentType, contentEncoding, contentDisposition, contentLanguage, cacheControl *string
	expires, redirect                                                               *string
	user                                                                            map[string]string
	tagCount                                                                        *int32
}

// metadata returns the fields as backends.Metadata (tags not known yet).
func (h headerFields) metadata() *backends.Metadata {
	m := &backends.Metadata{
		ContentType:             aws.ToString(h.contentType),
		ContentEncoding:         aws.ToString(h.contentEncoding),
		ContentDisposition:      aws.ToString(h.contentDisposition),
		ContentLanguage:         aws.ToString(h.contentLanguage),
		CacheControl:            aws.ToString(h.cacheControl),
		Expires:                 aws.ToString(h.expires),
		WebsiteRedirectLocation: aws.ToString(h.redirect),
		User:                    maps.Clone(h.user),
	}
	if len(m.User) == 0 {
		m.User = nil
	}
	if t, ok := parseMTime(m.User[MetaMTime]); ok {
		m.ModTime = t
	}
	if aws.ToInt32(h.tagCount) == 0 {
		m.TagsKnown = true // none, and the reply says so
	}
	return m
}

func getFields(out *s3.GetObjectOutput) headerFields {
	return headerFields{out.ContentType, out.ContentEncoding, out.ContentDisposition, out.ContentLanguage, out.CacheControl,
		out.ExpiresString, out.WebsiteRedirectLocation, out.Metadata, out.TagCount}
}

func headFields(out *s3.HeadObjectOutput) headerFields {
	return headerFields{out.ContentType, out.ContentEncoding, out.ContentDisposition, out.ContentLanguage, out.CacheControl,
		out.ExpiresString, out.WebsiteRedirectLocation, out.Metadata, out.TagCount}
}

// readTags fills m.Tags with GetObjectTagging when the reply that made m
// counted tags (m.TagsKnown false).
func (b *Backend) readTags(ctx context.Context, key, k string, m *backends.Metadata) error {
	if m.TagsKnown {
		return nil
	}
	out, err := b.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(b.bucket), Key: aws.String(k)})
	if err != nil {
		if isNotFound(err) && ctx.Err() == nil {
			return b.notFound("read tags of", key)
		}
		return b.wrap(ctx, "read tags of", key, err)
	}
	m.Tags = make(map[string]string, len(out.TagSet))
	for _, t := range out.TagSet {
		m.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	m.TagsKnown = true
	return nil
}

// withMeta returns rc carrying the metadata of g's first reply (see
// backends.MetaReader); when the whole object is read, its tags too (read
// only when the reply counts some).
func (b *Backend) withMeta(ctx context.Context, key string, g *getter, whole bool, rc io.ReadCloser) (io.ReadCloser, error) {
	if g.meta == nil {
		return rc, nil
	}
	if whole {
		if err := b.readTags(ctx, key, g.objKey, g.meta); err != nil {
			rc.Close()
			return nil, err
		}
	}
	return backends.WithMeta(rc, g.meta), nil
}

var _ backends.MetaStater = (*Backend)(nil)

// StatMeta returns the metadata of key, tags included, from HeadObject
// (pinned to etag when not "") and GetObjectTagging when there are tags.
func (b *Backend) StatMeta(ctx context.Context, key, etag string) (*backends.Metadata, error) {
	k, err := b.objKey(key)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", b, err)
	}
	head, err := b.head(ctx, "stat", key, k, etag)
	if err != nil {
		return nil, err
	}
	m := headFields(head).metadata()
	if err := b.readTags(ctx, key, k, m); err != nil {
		return nil, err
	}
	return m, nil
}

// head is HeadObject of k, pinned to etag when not "".
func (b *Backend) head(ctx context.Context, op, key, k, etag string) (*s3.HeadObjectOutput, error) {
	in := &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(k)}
	if etag != "" {
		in.IfMatch = aws.String(`"` + etag + `"`)
	}
	out, err := b.client.HeadObject(ctx, in)
	if err != nil {
		switch {
		case ctx.Err() != nil:
		case isNotFound(err):
			return nil, b.notFound(op, key)
		case errorCode(err) == "PreconditionFailed" || httpStatus(err) == 412:
			return nil, backends.SourceChanged(op, b, key, "its ETag is no longer the one listed")
		}
		return nil, b.wrap(ctx, op, key, err)
	}
	return out, nil
}

// written is the metadata one write stores, ready for a request.
type written struct {
	m       *backends.Metadata
	tagging *string // x-amz-tagging; nil: none
}

// toWrite returns the metadata a write of src at key stores: the source's
// (src.Meta), or a Content-Type guessed from the key when there is none;
// x-amz-meta-mtime as the source has it, else src.ModTime in rclone's
// form; then the sync's edits. Metadata S3 would refuse is an error that
// names the field.
func (b *Backend) toWrite(key string, src backends.Object) (written, error) {
	m, err := src.MetaEdit.Apply(src.Meta)
	if err != nil {
		return written{}, b.errorf("put", key, "%v", err)
	}
	if src.Meta == nil && m.ContentType == "" {
		m.ContentType = aws.ToString(contentType(key))
	}
	if _, ok := m.User[MetaMTime]; !ok && !src.ModTime.IsZero() && !dropped(src.MetaEdit, backends.UserMetaPrefix+MetaMTime) {
		if m.User == nil {
			m.User = map[string]string{}
		}
		m.User[MetaMTime] = formatMTime(src.ModTime)
	}
	if err := b.checkMeta(key, m); err != nil {
		return written{}, err
	}
	w := written{m: m}
	if m.TagsKnown && len(m.Tags) > 0 {
		w.tagging = aws.String(backends.FormatTagging(m.Tags))
	}
	return w, nil
}

// dropped reports whether e drops the field name.
func dropped(e *backends.MetaEdit, name string) bool {
	if e == nil {
		return false
	}
	for _, d := range e.Drop {
		if strings.EqualFold(d, name) {
			return true
		}
	}
	return false
}

// checkMeta refuses metadata over S3's limits, naming the field, before
// anything is sent (so nothing is written at key).
func (b *Backend) checkMeta(key string, m *backends.Metadata) error {
	total, biggest, biggestLen := 0, "", -1
	keys := make([]string, 0, len(m.User))
	for k := range m.User {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n := len(k) + len(m.User[k])
		total += n
		if n > biggestLen {
			biggest, biggestLen = k, n
		}
		if strings.ContainsAny(k, " \t\r\n:") || strings.ContainsAny(m.User[k], "\r\n") {
			return b.errorf("put", key, "user metadata field %s%s cannot be sent as an HTTP header", backends.UserMetaPrefix, k)
		}
	}
	if total > maxUserMeta {
		return b.errorf("put", key, "user metadata is %d bytes, over S3's limit of %d (largest field %s%s, %d bytes)",
			total, maxUserMeta, backends.UserMetaPrefix, biggest, biggestLen)
	}
	if !m.TagsKnown {
		return nil
	}
	if len(m.Tags) > maxTags {
		return b.errorf("put", key, "the object has %d tags, over S3's limit of %d", len(m.Tags), maxTags)
	}
	for k, v := range m.Tags {
		if utf8.RuneCountInString(k) > maxTagKey || utf8.RuneCountInString(v) > maxTagValue {
			return b.errorf("put", key, "tag %q is over S3's limits (key %d, value %d characters)", shorten(k), maxTagKey, maxTagValue)
		}
	}
	return nil
}

// expiresOption sets the Expires header as the source sent it: the SDK's
// Expires field is a time, which would rewrite a value it cannot parse.
func expiresOption(v string) func(*s3.Options) {
	return func(o *s3.Options) {
		if v == "" {
			return
		}
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Build.Add(middleware.BuildMiddlewareFunc("syncerExpires",
				func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
					if req, ok := in.Request.(*smithyhttp.Request); ok {
						req.Header.Set("Expires", v)
					}
					return next.HandleBuild(ctx, in)
				}), middleware.After)
		})
	}
}

func (w written) put(in *s3.PutObjectInput) {
	m := w.m
	in.ContentType = optional(m.ContentType)
	in.ContentEncoding = optional(m.ContentEncoding)
	in.ContentDisposition = optional(m.ContentDisposition)
	in.ContentLanguage = optional(m.ContentLanguage)
	in.CacheControl = optional(m.CacheControl)
	in.WebsiteRedirectLocation = optional(m.WebsiteRedirectLocation)
	in.Metadata = m.User
	in.Tagging = w.tagging
}

func (w written) createUpload(in *s3.CreateMultipartUploadInput) {
	m := w.m
	in.ContentType = optional(m.ContentType)
	in.ContentEncoding = optional(m.ContentEncoding)
	in.ContentDisposition = optional(m.ContentDisposition)
	in.ContentLanguage = optional(m.ContentLanguage)
	in.CacheControl = optional(m.CacheControl)
	in.WebsiteRedirectLocation = optional(m.WebsiteRedirectLocation)
	in.Metadata = m.User
	in.Tagging = w.tagging
}

// copyReplace makes in a CopyObject that replaces the metadata and, when
// the tags are known, the tags.
func (w written) copyReplace(in *s3.CopyObjectInput) {
	m := w.m
	in.MetadataDirective = types.MetadataDirectiveReplace
	in.ContentType = optional(m.ContentType)
	in.ContentEncoding = optional(m.ContentEncoding)
	in.ContentDisposition = optional(m.ContentDisposition)
	in.ContentLanguage = optional(m.ContentLanguage)
	in.CacheControl = optional(m.CacheControl)
	in.WebsiteRedirectLocation = optional(m.WebsiteRedirectLocation)
	in.Metadata = m.User
	if m.TagsKnown {
		in.TaggingDirective = types.TaggingDirectiveReplace
		in.Tagging = w.tagging
	}
}

// options are the per-request options of a write of w.
func (w written) options() func(*s3.Options) { return expiresOption(w.m.Expires) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
