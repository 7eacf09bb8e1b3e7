package backends

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Metadata is what an object carries besides its bytes: its content type,
// the headers a web server serves with it, user metadata and tags. There is
// one per object in flight (a source's Open returns it, a Put writes it),
// never one per listing entry. Empty strings mean "not set".
type Metadata struct {
	ContentType             string
	ContentEncoding         string
	ContentDisposition      string
	ContentLanguage         string
	CacheControl            string
	Expires                 string // the header's text, as the source sent it
	WebsiteRedirectLocation string

	// User is the user metadata: S3's x-amz-meta-* headers, keys in lower
	// case without the prefix ("mtime", not "x-amz-meta-mtime").
	User map[string]string
	// Tags holds the object's tags when TagsKnown; a writer that is not
	// told the tags (TagsKnown false) writes none.
	Tags      map[string]string
	TagsKnown bool

	// ModTime is the modification time the source records for the object
	// beyond what its listing says (S3's x-amz-meta-mtime); zero when none.
	ModTime time.Time
}

// MetaReader is implemented by the streams of backends whose Open learns
// the object's metadata from the same reply as its bytes (S3 GetObject).
type MetaReader interface {
	Meta() *Metadata
}

// MetaStater is implemented by backends that can read an object's metadata
// without its bytes (S3 HeadObject), pinned to etag when not "". apply
// uses it before an upload in parts, whose metadata is written first.
type MetaStater interface {
	StatMeta(ctx context.Context, key, etag string) (*Metadata, error)
}

// MetaOf returns the metadata r carries, or nil.
func MetaOf(r any) *Metadata {
	if m, ok := r.(MetaReader); ok {
		return m.Meta()
	}
	return nil
}

// Header names a MetaEdit may set or drop, besides "x-amz-meta-<name>".
const (
	HeaderContentType        = "content-type"
	HeaderContentEncoding    = "content-encoding"
	HeaderContentDisposition = "content-disposition"
	HeaderContentLanguage    = "content-language"
	HeaderCacheControl       = "cache-control"
	HeaderExpires            = "expires"
	HeaderWebsiteRedirect    = "x-amz-website-redirect-location"
	HeaderTagging            = "x-amz-tagging" // all tags, as "k1=v1&k2=v2"
	UserMetaPrefix           = "x-amz-meta-"
)

// CheckHeaderName reports whether name (any case) is a field a MetaEdit can
// set or drop.
func CheckHeaderName(name string) error {
	n := strings.ToLower(name)
	switch n {
	case HeaderContentType, HeaderContentEncoding, HeaderContentDisposition, HeaderContentLanguage,
		HeaderCacheControl, HeaderExpires, HeaderWebsiteRedirect, HeaderTagging:
		return nil
	}
	if rest, ok := strings.CutPrefix(n, UserMetaPrefix); ok && rest != "" {
		return nil
	}
	return fmt.Errorf("unknown metadata field %q: use content-type, content-encoding, content-disposition, content-language, cache-control, expires, %s, %s or %s<name>",
		name, HeaderWebsiteRedirect, HeaderTagging, UserMetaPrefix)
}

// MetaEdit changes the metadata a sync writes, as rclone's --metadata-set
// and --header-upload do: Drop removes fields, then Set sets them (Set wins
// over the source's). Names are header names (see CheckHeaderName).
type MetaEdit struct {
	Set  map[string]string
	Drop []string
}

// Empty reports whether e changes nothing.
func (e *MetaEdit) Empty() bool { return e == nil || len(e.Set) == 0 && len(e.Drop) == 0 }

// Apply returns a copy of m (nil: no metadata) with e's changes; m is not
// modified. A set x-amz-tagging value that is not a query string is an
// error.
func (e *MetaEdit) Apply(m *Metadata) (*Metadata, error) {
	out := &Metadata{}
	if m != nil {
		*out = *m
		out.User = maps.Clone(m.User)
		out.Tags = maps.Clone(m.Tags)
	}
	if e.Empty() {
		return out, nil
	}
	for _, name := range e.Drop {
		out.set(name, "")
	}
	names := make([]string, 0, len(e.Set))
	for name := range e.Set {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := out.set(name, e.Set[name]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// set sets the field that header name holds to v ("" removes it).
func (m *Metadata) set(name, v string) error {
	n := strings.ToLower(name)
	switch n {
	case HeaderContentType:
		m.ContentType = v
	case HeaderContentEncoding:
		m.ContentEncoding = v
	case HeaderContentDisposition:
		m.ContentDisposition = v
	case HeaderContentLanguage:
		m.ContentLanguage = v
	case HeaderCacheControl:
		m.CacheControl = v
	case HeaderExpires:
		m.Expires = v
	case HeaderWebsiteRedirect:
		m.WebsiteRedirectLocation = v
	case HeaderTagging:
		tags, err := ParseTagging(v)
		if err != nil {
			return fmt.Errorf("metadata field %s: %w", name, err)
		}
		m.Tags, m.TagsKnown = tags, true
	default:
		key, ok := strings.CutPrefix(n, UserMetaPrefix)
		if !ok || key == "" {
			return CheckHeaderName(name)
		}
		if v == "" {
			delete(m.User, key)
			return nil
		}
		if m.User == nil {
			m.User = map[string]string{}
		}
		m.User[key] = v
	}
	return nil
}

// ParseTagging reads tags in the x-amz-tagging form "k1=v1&k2=v2"
// (URL-encoded); "" is no tags.
func ParseTagging(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(s)
	if err != nil {
		return nil, fmt.Errorf("tags %q are not in the form k1=v1&k2=v2: %w", s, err)
	}
	tags := make(map[string]string, len(q))
	for k, vs := range q {
		if len(vs) != 1 {
			return nil, fmt.Errorf("tag %q is given %d times", k, len(vs))
		}
		tags[k] = vs[0]
	}
	return tags, nil
}

// FormatTagging writes tags in the x-amz-tagging form, keys sorted, spaces
// as %20 ("" when there are none).
func FormatTagging(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(escapeTag(k))
		sb.WriteByte('=')
		sb.WriteString(escapeTag(tags[k]))
	}
	return sb.String()
}

func escapeTag(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// metaReadCloser is an io.ReadCloser that carries metadata.
type metaReadCloser struct {
	io.ReadCloser
	meta *Metadata
}

func (r metaReadCloser) Meta() *Metadata { return r.meta }

// WithMeta returns rc carrying m (see MetaReader).
func WithMeta(rc io.ReadCloser, m *Metadata) io.ReadCloser {
	return metaReadCloser{rc, m}
}
