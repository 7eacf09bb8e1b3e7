package s3

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/local"
)

// Server-side copy inside one server: no object bytes pass through the
// client (the proxy sees no GetObject and only small bodies), metadata
// (the source mtime) is kept, and the bytes are right.
func TestServerSideCopy(t *testing.T) {
	e := needEnv(t)
	p, via := proxied(t, e.A)
	src := mustNew(t, testOptions(via, newBucket(t, e.A), "src/"))
	dstOpts := testOptions(via, newBucket(t, e.A), "dst/")
	dst := mustNew(t, dstOpts)
	dstOpts.CopyCutoff, dstOpts.CopyPartSize = 5*mib, 5*mib
	dstParts := mustNew(t, dstOpts)
	for _, b := range []*Backend{dst, dstParts} {
		if !b.CanCopyFrom(src) {
			t.Fatalf("CanCopyFrom(same server, same keys) = false")
		}
	}
	mtime := time.Date(2019, 6, 7, 8, 9, 10, 11, time.UTC)

	for _, c := range []struct {
		name  string
		dst   *Backend
		key   string
		size  int64
		parts int // UploadPartCopy requests; 0: CopyObject
	}{
		{"CopyObject", dst, "dir/a b+c%41 é.bin", 3 * mib, 0},
		{"UploadPartCopy", dstParts, "big/x+y z.bin", 12*mib + 1, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			srcObj, err := src.Put(t.Context(), c.key, backendtest.RandomReader(c.size, c.size), backends.Object{Size: c.size, ModTime: mtime})
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			p.Reset()
			obj, err := c.dst.CopyFrom(t.Context(), src, c.key, "copy/"+c.key, srcObj)
			if err != nil {
				t.Fatalf("CopyFrom: %v", err)
			}
			counts := p.Counts()
			up, down := p.Bytes()
			if counts["GetObject"] != 0 || up > 64<<10 || down > 64<<10 {
				t.Errorf("copy moved data through the client: %v, %d bytes up, %d down", counts, up, down)
			}
			if c.parts == 0 && counts["CopyObject"] != 1 {
				t.Errorf("requests %v; want one CopyObject", counts)
			}
			if c.parts > 0 && (counts["UploadPartCopy"] != c.parts || counts["CompleteMultipartUpload"] != 1) {
				t.Errorf("requests %v; want %d UploadPartCopy and a Complete", counts, c.parts)
			}
			if obj.Size != c.size || obj.ETag == "" {
				t.Errorf("CopyFrom = %+v", obj)
			}
			st, err := c.dst.Stat(t.Context(), "copy/"+c.key)
			if err != nil || st.ETag != obj.ETag {
				t.Errorf("Stat = %+v, %v; want ETag %s", st, err, obj.ETag)
			}
			checkContent(t, c.dst, "copy/"+c.key, c.size, c.size)
			if mt, err := c.dst.SourceModTime(t.Context(), "copy/"+c.key); err != nil || !mt.Equal(mtime) {
				t.Errorf("SourceModTime = %v, %v; want %v", mt, err, mtime)
			}
		})
	}

	t.Run("changed source", func(t *testing.T) {
		old := backendtest.PutBytes(t, src, "changing", []byte("one"))
		backendtest.PutBytes(t, src, "changing", []byte("two"))
		if _, err := dst.CopyFrom(t.Context(), src, "changing", "changing", old); err == nil {
			t.Error("CopyFrom with a stale ETag: no error")
		}
		backendtest.AssertNotFound(t, dst, "changing")
	})
	t.Run("missing source", func(t *testing.T) {
		_, err := dst.CopyFrom(t.Context(), src, "missing", "m", backends.Object{Size: -1})
		if !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("CopyFrom of a missing key = %v; want ErrNotFound", err)
		}
	})
}

// Two servers with different keys are two accounts: no server-side copy,
// the bytes stream from one to the other (here into the TLS server, as an
// unseekable PutObject body, and into B as a multipart upload).
func TestCrossAccountStream(t *testing.T) {
	e := needEnv(t)
	a := mustNew(t, testOptions(e.A, newBucket(t, e.A), ""))
	oB := testOptions(e.B, newBucket(t, e.B), "")
	oB.PartSize = 5 * mib
	bb := mustNew(t, oB)
	oT := testOptions(e.TLS, newBucket(t, e.TLS), "")
	oT.PartSize, oT.UploadCutoff = 5*mib, 64*mib
	tb := mustNew(t, oT)
	if bb.CanCopyFrom(a) || a.CanCopyFrom(bb) || tb.CanCopyFrom(a) {
		t.Fatal("CanCopyFrom across servers and keys = true")
	}
	const size = 13*mib + 7
	srcObj, err := a.Put(t.Context(), "obj", backendtest.RandomReader(11, size), backends.Object{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	for _, dst := range []*Backend{bb, tb} {
		rc, err := a.Open(t.Context(), "obj", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		_, err = dst.Put(t.Context(), "obj", rc, srcObj)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: Put from a GET body: %v", dst, err)
		}
		checkContent(t, dst, "obj", 11, size)
	}
}

func TestCanCopyFrom(t *testing.T) {
	base := Options{Name: "x", Bucket: "b", Endpoint: "http://127.0.0.1:1", AccessKeyID: "K", SecretAccessKey: "S"}
	mk := func(edit func(*Options)) *Backend {
		o := base
		edit(&o)
		return mustNew(t, o)
	}
	same := func(*Options) {}
	lb, err := local.New(local.Options{Name: "l", Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		dst, src func(*Options)
		want     bool
	}{
		{"same keys and endpoint", same, same, true},
		{"other bucket and prefix", same, func(o *Options) { o.Bucket, o.Prefix = "c", "p/" }, true},
		{"endpoint with slash", same, func(o *Options) { o.Endpoint += "/" }, true},
		{"other endpoint", same, func(o *Options) { o.Endpoint = "http://127.0.0.1:2" }, false},
		{"other key", same, func(o *Options) { o.AccessKeyID = "K2" }, false},
		{"other secret", same, func(o *Options) { o.SecretAccessKey = "S2" }, false},
		{"other role", same, func(o *Options) { o.RoleARN = "arn:aws:iam::1:role/r" }, false},
		{"default chain both", func(o *Options) { o.AccessKeyID, o.SecretAccessKey = "", "" }, func(o *Options) { o.AccessKeyID, o.SecretAccessKey = "", "" }, true},
		{"default vs static", func(o *Options) { o.AccessKeyID, o.SecretAccessKey = "", "" }, same, false},
		{"always", func(o *Options) { o.ServerSideCopy = CopyAlways }, func(o *Options) { o.Endpoint, o.AccessKeyID = "http://127.0.0.1:2", "K2" }, true},
		{"never", func(o *Options) { o.ServerSideCopy = CopyNever }, same, false},
	} {
		if got := mk(c.dst).CanCopyFrom(mk(c.src)); got != c.want {
			t.Errorf("%s: CanCopyFrom = %v; want %v", c.name, got, c.want)
		}
	}
	// Profiles: same profile name means the same credentials.
	t.Setenv("AWS_CONFIG_FILE", writeFile(t, "[profile p1]\nregion = eu-west-1\n[profile p2]\nregion = eu-west-1\n"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeFile(t, "[p1]\naws_access_key_id = A\naws_secret_access_key = B\n[p2]\naws_access_key_id = C\naws_secret_access_key = D\n"))
	p1 := mk(func(o *Options) { o.AccessKeyID, o.SecretAccessKey, o.Profile = "", "", "p1" })
	p1b := mk(func(o *Options) { o.AccessKeyID, o.SecretAccessKey, o.Profile, o.Bucket = "", "", "p1", "other" })
	p2 := mk(func(o *Options) { o.AccessKeyID, o.SecretAccessKey, o.Profile = "", "", "p2" })
	if !p1.CanCopyFrom(p1b) || p1.CanCopyFrom(p2) {
		t.Errorf("profiles: same = %v, different = %v; want true, false", p1.CanCopyFrom(p1b), p1.CanCopyFrom(p2))
	}
	if p1.region != "eu-west-1" {
		t.Errorf("region from profile = %q; want eu-west-1", p1.region)
	}
	if mk(same).CanCopyFrom(lb) {
		t.Error("CanCopyFrom(local) = true")
	}
	if _, err := mk(same).CopyFrom(context.Background(), lb, "a", "b", backends.Object{}); err == nil || !strings.Contains(err.Error(), "not an s3 backend") {
		t.Errorf("CopyFrom(local) = %v", err)
	}
}
