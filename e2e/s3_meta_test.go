package e2e

// Issue 11: objects are copied whole — headers, user metadata, tags and
// modification times — written and read back by independent clients (the
// AWS SDK used directly, and rclone).

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends"
	"syncer/backends/s3/s3test"
)

// objFields is what a client reads of an object besides its bytes.
type objFields struct {
	ContentType, ContentEncoding, ContentDisposition, ContentLanguage, CacheControl string
	Expires, Redirect                                                               string
	User, Tags                                                                      map[string]string
}

var metaUser = map[string]string{
	"unicode": "naïve – 東京 ✓",
	"spaces":  "two  spaces,\tand a tab",
	"long":    strings.Repeat("long value ", 90) + "end",
	"owner":   "web team",
}

var metaTags = map[string]string{"team": "media", "cost centre": "42/a", "tier": "gold"}

var metaFields = objFields{
	ContentType: "text/html; charset=utf-8", ContentEncoding: "gzip",
	ContentDisposition: `attachment; filename="report 2024.html"`, ContentLanguage: "de-CH",
	CacheControl: "public, max-age=600", Expires: "Thu, 01 Dec 2044 16:00:00 GMT",
	Redirect: "/new/location.html", User: metaUser, Tags: metaTags,
}

// sdkClient is a client of srv that is not syncer's backend code.
func sdkClient(t *testing.T, srv *s3test.Server) *s3.Client {
	t.Helper()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// gzipBody returns size bytes of random data, gzip-compressed.
func gzipBody(t *testing.T, seed uint64, size int) []byte {
	t.Helper()
	raw := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	return buf.Bytes()
}

func putObjectWithFields(t *testing.T, c *s3.Client, bucket, key string, body []byte, f objFields) {
	t.Helper()
	exp, err := time.Parse(time.RFC1123, f.Expires)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String(f.ContentType), ContentEncoding: aws.String(f.ContentEncoding),
		ContentDisposition: aws.String(f.ContentDisposition), ContentLanguage: aws.String(f.ContentLanguage),
		CacheControl: aws.String(f.CacheControl), Expires: &exp, WebsiteRedirectLocation: aws.String(f.Redirect),
		Metadata: f.User, Tagging: aws.String(backends.FormatTagging(f.Tags)),
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func getObjectFields(t *testing.T, c *s3.Client, bucket, key string) (objFields, []byte) {
	t.Helper()
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := c.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("tags of %s/%s: %v", bucket, key, err)
	}
	f := objFields{
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

func diffFields(t *testing.T, what string, got, want objFields) {
	t.Helper()
	for _, c := range [][3]string{
		{"Content-Type", got.ContentType, want.ContentType},
		{"Content-Encoding", got.ContentEncoding, want.ContentEncoding},
		{"Content-Disposition", got.ContentDisposition, want.ContentDisposition},
		{"Content-Language", got.ContentLanguage, want.ContentLanguage},
		{"Cache-Control", got.CacheControl, want.CacheControl},
		{"Expires", got.Expires, want.Expires},
		{"x-amz-website-redirect-location", got.Redirect, want.Redirect},
	} {
		if c[1] != c[2] {
			t.Errorf("%s: %s = %q; want %q", what, c[0], c[1], c[2])
		}
	}
	if !maps.Equal(got.User, want.User) {
		t.Errorf("%s: user metadata\n got %q\nwant %q", what, got.User, want.User)
	}
	if !maps.Equal(got.Tags, want.Tags) {
		t.Errorf("%s: tags %q; want %q", what, got.Tags, want.Tags)
	}
}

// TestS3MetadataCopied: objects written by another client with every
// header, awkward user metadata and three tags are synced across two
// credential sets (streamed: in one PutObject, and in a multipart upload),
// and on the same credentials (server-side); every field read back equals
// the source's, and the gzip bytes are as they were. A sync with a
// metadata block sets and drops fields; a user-metadata total over 2 KB
// fails that object alone (exit 3), naming the key and the field, and
// leaves nothing at its key.
func TestS3MetadataCopied(t *testing.T) {
	env := needS3(t)
	l := newLayout(t)
	ca, cb := sdkClient(t, env.A), sdkClient(t, env.B)
	srcBucket := newS3Bucket(t, env.A, "meta-src")
	bBucket := newS3Bucket(t, env.B, "meta-b")
	sameBucket := newS3Bucket(t, env.A, "meta-same")
	editBucket := newS3Bucket(t, env.A, "meta-edit")

	bodies := map[string][]byte{
		"site/index.html":   gzipBody(t, 1, 50<<10),
		"site/big.html":     gzipBody(t, 2, 7<<20), // over part_size: multipart
		"site/empty.html":   gzipBody(t, 3, 0),
		"site/café ü+.html": gzipBody(t, 4, 1000),
	}
	for k, b := range bodies {
		putObjectWithFields(t, ca, srcBucket, k, b, metaFields)
	}
	// The source's mtime, as rclone would have written it, stays as is.
	withMTime := metaFields
	withMTime.User = maps.Clone(metaUser)
	withMTime.User["mtime"] = "1433160000.5"
	putObjectWithFields(t, ca, srcBucket, "site/rclone.html", []byte("<p>x</p>"), withMTime)
	bodies["site/rclone.html"] = []byte("<p>x</p>")
	// Too much user metadata for S3 (2 KB): fails alone in the edit sync.
	huge := metaFields
	huge.User = map[string]string{"huge": strings.Repeat("x", 1900)}
	putObjectWithFields(t, ca, srcBucket, "site/huge.html", []byte("h"), huge)
	bodies["site/huge.html"] = []byte("h")

	writeHCL(t, l.Config, l.State, nil,
		s3Block{Name: "src", Srv: env.A, Bucket: srcBucket}.hcl(env),
		s3Block{Name: "b", Srv: env.B, Bucket: bBucket, PartSize: "5MiB", Extra: []string{`upload_cutoff = "5MiB"`}}.hcl(env),
		s3Block{Name: "same", Srv: env.A, Bucket: sameBucket}.hcl(env),
		s3Block{Name: "edit", Srv: env.A, Bucket: editBucket, Extra: []string{`server_side_copy = "never"`}}.hcl(env),
		syncBlock("across", "backend.s3.src", "backend.s3.b", `exclude = ["site/huge.html"]`),
		syncBlock("same", "backend.s3.src", "backend.s3.same", `exclude = ["site/huge.html"]`),
		syncBlock("edit", "backend.s3.src", "backend.s3.edit", `metadata {
    set  = { "cache-control" = "no-store", "x-amz-meta-note" = "`+strings.Repeat("n", 200)+`" }
    drop = ["x-amz-meta-long", "Content-Language", "x-amz-tagging"]
  }`))

	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 3 {
		t.Fatalf("apply: want exit 3 (one object refused)\n%s", res)
	}
	if !strings.Contains(res.Stderr, "site/huge.html") || !strings.Contains(res.Stderr, "x-amz-meta-huge") || !strings.Contains(res.Stderr, "2048") {
		t.Errorf("stderr does not name the refused key and field\n%s", res)
	}
	for k, body := range bodies {
		if k == "site/huge.html" {
			continue
		}
		srcFields, _ := getObjectFields(t, ca, srcBucket, k)
		want := metaFields
		if k == "site/rclone.html" {
			want = withMTime
		}
		// Without x-amz-meta-mtime, a copy gets the source's LastModified
		// there, in rclone's form.
		if _, ok := srcFields.User["mtime"]; !ok {
			head, err := ca.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(k)})
			if err != nil {
				t.Fatal(err)
			}
			want.User = maps.Clone(want.User)
			want.User["mtime"] = strconv.FormatInt(aws.ToTime(head.LastModified).Unix(), 10) + ".000000000"
		}
		for _, d := range []struct {
			name   string
			c      *s3.Client
			bucket string
		}{{"streamed across credentials", cb, bBucket}, {"server-side", ca, sameBucket}} {
			got, gotBody := getObjectFields(t, d.c, d.bucket, k)
			if k == "site/index.html" {
				diffFields(t, "source", srcFields, metaFields)
			}
			diffFields(t, d.name+" "+k, got, want)
			if !bytes.Equal(gotBody, body) {
				t.Errorf("%s %s: %d bytes differ from the source's %d (decompressed?)", d.name, k, len(gotBody), len(body))
			}
		}
		got, _ := getObjectFields(t, ca, editBucket, k)
		if got.CacheControl != "no-store" || got.ContentLanguage != "" || got.ContentType != metaFields.ContentType ||
			len(got.Tags) != 0 || got.User["long"] != "" || len(got.User["note"]) != 200 || got.User["unicode"] != metaUser["unicode"] {
			t.Errorf("edited %s: %+v", k, got)
		}
	}
	if _, err := ca.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(editBucket), Key: aws.String("site/huge.html")}); err == nil {
		t.Errorf("site/huge.html exists in the edit bucket after a refused write")
	}
	if res := runS3Syncer(t, env, l.Base, "plan", "-config", l.Config); !strings.Contains(res.Stdout, "site/huge.html") ||
		strings.Contains(strings.ToLower(res.Stdout), "cache-control") {
		t.Errorf("plan: want the failed object again and no metadata shown\n%s", res)
	}
}

// TestS3ModTimes: local -> S3 -> a fresh local folder restores the files'
// modification times; rclone reads what syncer wrote with the same times;
// a bucket rclone wrote is read by syncer with rclone's times.
func TestS3ModTimes(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	l := newLayout(t)
	ra := remote{"A", env.A}
	bucket := newS3Bucket(t, env.A, "mtimes")
	rcloneBucket := newS3Bucket(t, env.A, "mtimes-rclone")
	times := map[string]time.Time{
		"a.txt":            time.Date(2015, 6, 1, 12, 0, 0, 500_000_000, time.UTC),
		"dir/b c.bin":      time.Date(2001, 2, 3, 4, 5, 6, 123_456_789, time.UTC),
		"dir/é/empty.txt":  time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		"big/seven-mb.bin": time.Date(2010, 10, 10, 10, 10, 10, 0, time.UTC),
	}
	for k, mt := range times {
		p := filepath.Join(l.Src, filepath.FromSlash(k))
		size := 100
		switch {
		case strings.HasPrefix(k, "big/"):
			size = 7 << 20
		case strings.Contains(k, "empty"):
			size = 0
		}
		writeSeeded(t, p, k, size)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	back := filepath.Join(l.Base, "back")
	fromRclone := filepath.Join(l.Base, "from-rclone")
	writeHCL(t, l.Config, l.State, nil,
		localBlock("src", l.Src),
		s3Block{Name: "bucket", Srv: env.A, Bucket: bucket, PartSize: "5MiB", Extra: []string{`upload_cutoff = "5MiB"`}}.hcl(env),
		localBlock("back", back),
		s3Block{Name: "rclone", Srv: env.A, Bucket: rcloneBucket}.hcl(env),
		localBlock("from_rclone", fromRclone),
		syncBlock("up", "backend.local.src", "backend.s3.bucket"),
		syncBlock("rclone_down", "backend.s3.rclone", "backend.local.from_rclone"))
	// rclone writes its bucket first (x-amz-meta-mtime, its own form).
	rclone(t, []remote{ra}, "copy", l.Src, ra.path(rcloneBucket))
	if res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config); res.Code != 0 {
		t.Fatalf("apply up: want exit 0\n%s", res)
	}
	// Down from syncer's bucket in a second config step: the sync needs the
	// bucket's listing, which the first apply wrote.
	f, err := os.OpenFile(l.Config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(syncBlock("down", "backend.s3.bucket", "backend.local.back"))
	f.Close()
	if res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config); res.Code != 0 {
		t.Fatalf("apply down: want exit 0\n%s", res)
	}

	var listed []struct {
		Path    string
		ModTime time.Time
	}
	if err := json.Unmarshal([]byte(rclone(t, []remote{ra}, "lsjson", "-R", "--files-only", ra.path(bucket))), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(times) {
		t.Errorf("rclone lists %d objects; want %d", len(listed), len(times))
	}
	for _, o := range listed {
		if want := times[o.Path]; !o.ModTime.Equal(want) {
			t.Errorf("rclone reads %s with time %v; want %v (syncer's x-amz-meta-mtime)", o.Path, o.ModTime, want)
		}
	}
	for _, dir := range []string{back, fromRclone} {
		for k, want := range times {
			fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(k)))
			if err != nil {
				t.Errorf("%s: %v", dir, err)
				continue
			}
			if got := fi.ModTime(); got.Unix() != want.Unix() || !got.Equal(want) {
				t.Errorf("%s: %s has time %v; want %v", filepath.Base(dir), k, got.UTC(), want)
			}
		}
	}
}
