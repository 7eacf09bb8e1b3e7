package s3

import (
	"bytes"
	"compress/gzip"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends"
	"syncer/backends/backendtest"
)

// fields is what an independent client reads of an object besides its
// bytes.
type fields struct {
	ContentType, ContentEncoding, ContentDisposition, ContentLanguage, CacheControl string
	Expires, Redirect                                                               string
	User, Tags                                                                      map[string]string
}

// awkward are user metadata values a store must keep byte for byte.
var awkward = map[string]string{
	"mtime":   "1433160000.5",
	"unicode": "café – 東京 ✓",
	"spaces":  "two  spaces,\tand a tab", // HTTP trims a header's ends
	"long":    strings.Repeat("0123456789abcdef", 60),
	"symbols": `a=b&c;d,"e"/f?g%20h+i`,
}

var threeTags = map[string]string{"team": "media", "cost centre": "42/a", "empty": ""}

// putWithClient writes key with every header, awkward user metadata and
// three tags, through the SDK directly (another client than syncer).
func putWithClient(t *testing.T, c *s3.Client, bucket, key string, body []byte) fields {
	t.Helper()
	f := fields{
		ContentType: "text/html; charset=utf-8", ContentEncoding: "gzip",
		ContentDisposition: `attachment; filename="résumé 2024.html"`, ContentLanguage: "fr-CA",
		CacheControl: "public, max-age=86400", Expires: "Thu, 01 Dec 2044 16:00:00 GMT",
		Redirect: "/other/page.html", User: awkward, Tags: threeTags,
	}
	exp, _ := time.Parse(time.RFC1123, f.Expires)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String(f.ContentType), ContentEncoding: aws.String(f.ContentEncoding),
		ContentDisposition: aws.String(f.ContentDisposition), ContentLanguage: aws.String(f.ContentLanguage),
		CacheControl: aws.String(f.CacheControl), Expires: &exp, WebsiteRedirectLocation: aws.String(f.Redirect),
		Metadata: awkward, Tagging: aws.String(backends.FormatTagging(threeTags)),
	})
	if err != nil {
		t.Fatalf("put %s with the SDK: %v", key, err)
	}
	return f
}

// readWithClient reads key's fields and bytes with the SDK directly.
func readWithClient(t *testing.T, c *s3.Client, bucket, key string) (fields, []byte) {
	t.Helper()
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := c.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get tags of %s: %v", key, err)
	}
	f := fields{
		ContentType: aws.ToString(out.ContentType), ContentEncoding: aws.ToString(out.ContentEncoding),
		ContentDisposition: aws.ToString(out.ContentDisposition), ContentLanguage: aws.ToString(out.ContentLanguage),
		CacheControl: aws.ToString(out.CacheControl), Expires: aws.ToString(out.ExpiresString),
		Redirect: aws.ToString(out.WebsiteRedirectLocation), User: out.Metadata, Tags: map[string]string{},
	}
	for _, tag := range tg.TagSet {
		f.Tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return f, body
}

func compareFields(t *testing.T, what string, got, want fields) {
	t.Helper()
	for _, c := range []struct{ name, got, want string }{
		{"Content-Type", got.ContentType, want.ContentType},
		{"Content-Encoding", got.ContentEncoding, want.ContentEncoding},
		{"Content-Disposition", got.ContentDisposition, want.ContentDisposition},
		{"Content-Language", got.ContentLanguage, want.ContentLanguage},
		{"Cache-Control", got.CacheControl, want.CacheControl},
		{"Expires", got.Expires, want.Expires},
		{"x-amz-website-redirect-location", got.Redirect, want.Redirect},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s = %q; want %q", what, c.name, c.got, c.want)
		}
	}
	if !maps.Equal(got.User, want.User) {
		t.Errorf("%s: user metadata\n got %q\nwant %q", what, got.User, want.User)
	}
	if !maps.Equal(got.Tags, want.Tags) {
		t.Errorf("%s: tags %q; want %q", what, got.Tags, want.Tags)
	}
}

func gzipped(t *testing.T, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := io.Copy(zw, backendtest.RandomReader(int64(size), int64(size))); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// Every S3 -> S3 path keeps the source's headers, user metadata (byte for
// byte) and tags, and the gzip bytes as they are: streamed across two
// servers with different keys, CopyObject on one server, and a multipart
// server-side copy (UploadPartCopy). An independent client reads both.
func TestMetadataS3ToS3(t *testing.T) {
	e := needEnv(t)
	ca, err := e.A.Client()
	if err != nil {
		t.Fatal(err)
	}
	cb, err := e.B.Client()
	if err != nil {
		t.Fatal(err)
	}
	srcBucket := newBucket(t, e.A)
	src := mustNew(t, testOptions(e.A, srcBucket, ""))
	small := gzipped(t, 100<<10)
	big := gzipped(t, 6*mib+10)
	want := putWithClient(t, ca, srcBucket, "site/index.html", small)
	putWithClient(t, ca, srcBucket, "site/big.html", big)

	sameBucket := newBucket(t, e.A)
	same := mustNew(t, testOptions(e.A, sameBucket, ""))
	partsOpts := testOptions(e.A, sameBucket, "parts/")
	partsOpts.CopyCutoff, partsOpts.CopyPartSize = 5*mib, 5*mib
	parts := mustNew(t, partsOpts)
	otherBucket := newBucket(t, e.B)
	otherOpts := testOptions(e.B, otherBucket, "")
	otherOpts.PartSize = 5 * mib
	other := mustNew(t, otherOpts)
	if other.CanCopyFrom(src) || !same.CanCopyFrom(src) {
		t.Fatal("CanCopyFrom: want streamed across keys, server-side on the same keys")
	}

	stream := func(t *testing.T, key string) {
		rc, err := src.Open(t.Context(), key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		m := backends.MetaOf(rc)
		if m == nil || !m.TagsKnown || len(m.Tags) != 3 {
			t.Fatalf("Open's metadata = %+v; want it with 3 tags", m)
		}
		if want := time.Unix(1433160000, 5e8).UTC(); !m.ModTime.Equal(want) {
			t.Errorf("Open's ModTime = %v; want %v from x-amz-meta-mtime", m.ModTime, want)
		}
		st, err := src.Stat(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Put(t.Context(), key, rc, backends.Object{Size: st.Size, ModTime: st.ModTime, Meta: m}); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	for _, c := range []struct {
		name   string
		client *s3.Client
		bucket string
		key    string
		body   []byte
		copy   func(t *testing.T) string // returns the written object's key in bucket
	}{
		{"streamed", cb, otherBucket, "site/index.html", small, func(t *testing.T) string { stream(t, "site/index.html"); return "site/index.html" }},
		{"streamed multipart", cb, otherBucket, "site/big.html", big, func(t *testing.T) string { stream(t, "site/big.html"); return "site/big.html" }},
		{"CopyObject", ca, sameBucket, "site/index.html", small, func(t *testing.T) string {
			if _, err := same.CopyFrom(t.Context(), src, "site/index.html", "site/index.html", backends.Object{Size: -1}); err != nil {
				t.Fatalf("CopyFrom: %v", err)
			}
			return "site/index.html"
		}},
		{"UploadPartCopy", ca, sameBucket, "site/big.html", big, func(t *testing.T) string {
			if _, err := parts.CopyFrom(t.Context(), src, "site/big.html", "site/big.html", backends.Object{Size: -1}); err != nil {
				t.Fatalf("CopyFrom: %v", err)
			}
			return "parts/site/big.html"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := c.copy(t)
			got, body := readWithClient(t, c.client, c.bucket, k)
			srcFields, _ := readWithClient(t, ca, srcBucket, c.key)
			compareFields(t, "source as read back", srcFields, want)
			compareFields(t, c.name, got, srcFields)
			if !bytes.Equal(body, c.body) {
				t.Errorf("bytes differ (%d, want %d): decompressed or changed", len(body), len(c.body))
			}
		})
	}
}

// A source without x-amz-meta-mtime gets its LastModified there on an
// S3 -> S3 copy, on every path.
func TestMetadataMTimeFromLastModified(t *testing.T) {
	e := needEnv(t)
	ca, err := e.A.Client()
	if err != nil {
		t.Fatal(err)
	}
	bucket := newBucket(t, e.A)
	if _, err := ca.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("src/a.txt"),
		Body: strings.NewReader("hello"), Metadata: map[string]string{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	src := mustNew(t, testOptions(e.A, bucket, "src/"))
	st, err := src.Stat(t.Context(), "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	dst := mustNew(t, testOptions(e.A, bucket, "dst/"))
	if _, err := dst.CopyFrom(t.Context(), src, "a.txt", "a.txt", st); err != nil {
		t.Fatal(err)
	}
	got, _ := readWithClient(t, ca, bucket, "dst/a.txt")
	want := map[string]string{"x": "y", "mtime": formatMTime(st.ModTime)}
	if !maps.Equal(got.User, want) {
		t.Errorf("user metadata %q; want %q", got.User, want)
	}
}

// Overrides: set wins over the source's, drop removes; server-side and
// streamed alike. Metadata over S3's limit fails the object, naming the
// key and the field, and writes nothing.
func TestMetadataEdits(t *testing.T) {
	e := needEnv(t)
	ca, err := e.A.Client()
	if err != nil {
		t.Fatal(err)
	}
	bucket := newBucket(t, e.A)
	putWithClient(t, ca, bucket, "src/p.html", []byte("page"))
	src := mustNew(t, testOptions(e.A, bucket, "src/"))
	dst := mustNew(t, testOptions(e.A, bucket, "dst/"))
	edit := &backends.MetaEdit{
		Set:  map[string]string{"Cache-Control": "no-store", "x-amz-meta-new": "v", "x-amz-tagging": "a=1"},
		Drop: []string{"x-amz-meta-long", "content-language"},
	}
	check := func(t *testing.T, k string) {
		got, _ := readWithClient(t, ca, bucket, k)
		if got.CacheControl != "no-store" || got.ContentLanguage != "" || got.ContentEncoding != "gzip" {
			t.Errorf("headers %+v", got)
		}
		if _, ok := got.User["long"]; ok || got.User["new"] != "v" || got.User["unicode"] != awkward["unicode"] {
			t.Errorf("user metadata %q", got.User)
		}
		if !maps.Equal(got.Tags, map[string]string{"a": "1"}) {
			t.Errorf("tags %q", got.Tags)
		}
	}
	t.Run("server-side", func(t *testing.T) {
		if _, err := dst.CopyFrom(t.Context(), src, "p.html", "copied.html", backends.Object{Size: -1, MetaEdit: edit}); err != nil {
			t.Fatal(err)
		}
		check(t, "dst/copied.html")
	})
	t.Run("streamed", func(t *testing.T) {
		rc, err := src.Open(t.Context(), "p.html", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := dst.Put(t.Context(), "put.html", rc, backends.Object{Size: 4, Meta: backends.MetaOf(rc), MetaEdit: edit}); err != nil {
			t.Fatal(err)
		}
		check(t, "dst/put.html")
	})
	t.Run("too large", func(t *testing.T) {
		big := &backends.MetaEdit{Set: map[string]string{"x-amz-meta-huge": strings.Repeat("x", 2100)}}
		_, err := dst.CopyFrom(t.Context(), src, "p.html", "huge.html", backends.Object{Size: -1, MetaEdit: big})
		wantErrContains(t, err, `"huge.html"`, "x-amz-meta-huge", "2048")
		_, err = dst.Put(t.Context(), "huge2.html", strings.NewReader("page"), backends.Object{Size: 4, MetaEdit: big})
		wantErrContains(t, err, `"huge2.html"`, "x-amz-meta-huge")
		for _, k := range []string{"dst/huge.html", "dst/huge2.html"} {
			if _, err := ca.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err == nil {
				t.Errorf("%s exists after a refused write", k)
			}
		}
	})
}
