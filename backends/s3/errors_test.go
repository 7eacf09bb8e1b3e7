package s3

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"syncer/backends"
)

func writeFile(t testing.TB, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Permanent errors fail at once (one request, no retries) with a message
// that names the backend and the bucket, and never the secret.
func TestPermanentErrors(t *testing.T) {
	e := needEnv(t)
	p, via := proxied(t, e.A)
	bucket := newBucket(t, e.A)
	for _, c := range []struct {
		name string
		edit func(*Options)
		code string
	}{
		{"wrong secret", func(o *Options) { o.SecretAccessKey = "not-the-secret" }, "SignatureDoesNotMatch"},
		// AWS says InvalidAccessKeyId (403); versitygw a 404 of its own.
		{"unknown key", func(o *Options) { o.AccessKeyID = "nobody" }, "XAdminUserNotFound"},
		{"missing bucket", func(o *Options) { o.Bucket = "no-such-bucket-here" }, "NoSuchBucket"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := testOptions(via, bucket, "pre/")
			o.RetryBaseDelay = 200 * time.Millisecond // retries would show
			c.edit(&o)
			b := mustNew(t, o)
			ops := map[string]func() error{
				"PutObject": func() error {
					_, err := b.Put(t.Context(), "k", bytes.NewReader([]byte("data")), backends.Object{Size: 4})
					return err
				},
				"ListObjectsV2": func() error {
					return b.List(t.Context(), "", func(backends.Object) error { return nil })
				},
				"GetObject": func() error {
					rc, err := b.Open(t.Context(), "k", 0, -1)
					if err == nil {
						rc.Close()
					}
					return err
				},
				"DeleteObjects": func() error {
					_, err := b.DeleteBatch(t.Context(), []string{"a", "b"})
					return err
				},
			}
			for op, fn := range ops {
				p.Reset()
				start := time.Now()
				err := fn()
				if !IsPermanent(err) {
					t.Errorf("%s: error %v; want a permanent error", op, err)
					continue
				}
				wantErrContains(t, err, `s3 "test"`, fmt.Sprintf("bucket %q", o.Bucket), c.code)
				if strings.Contains(err.Error(), o.SecretAccessKey) {
					t.Errorf("%s: error shows the secret: %v", op, err)
				}
				if n := p.Count(op); n != 1 {
					t.Errorf("%s: %d requests; want 1 (no retries)", op, n)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("%s: failed after %v; want at once", op, d)
				}
			}
		})
	}
}

// TLS is verified: without the server's CA the request fails; with
// ca_bundle or insecure_skip_verify it works. AWS_CA_BUNDLE (the system
// bundle on this machine) does not make the self-signed server trusted.
func TestTLSVerification(t *testing.T) {
	e := needEnv(t)
	o := testOptions(e.TLS, newBucket(t, e.TLS), "")
	o.CABundle = ""
	o.MaxAttempts = 2
	err := mustNew(t, o).List(t.Context(), "", func(backends.Object) error { return nil })
	wantErrContains(t, err, "certificate")

	o.InsecureSkipVerify = true
	if err := mustNew(t, o).List(t.Context(), "", func(backends.Object) error { return nil }); err != nil {
		t.Errorf("insecure_skip_verify: %v", err)
	}
	o.InsecureSkipVerify = false
	o.CABundle = e.TLS.CAFile
	if err := mustNew(t, o).List(t.Context(), "", func(backends.Object) error { return nil }); err != nil {
		t.Errorf("ca_bundle: %v", err)
	}
	o.CABundle = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := New(t.Context(), o); err == nil {
		t.Error("New with a missing ca_bundle: no error")
	}
	o.CABundle = writeFile(t, "not a certificate")
	if _, err := New(t.Context(), o); err == nil {
		t.Error("New with an invalid ca_bundle: no error")
	}
}

func TestStringHidesSecrets(t *testing.T) {
	o := Options{
		Name: "legacy", Bucket: "legacy-media", Prefix: "2019",
		Endpoint:    "http://user:endpointpw@127.0.0.1:7070",
		AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "SECRETSECRET", SessionToken: "TOKENTOKEN",
	}
	// An endpoint with a password is refused without showing it.
	if _, err := New(t.Context(), o); err == nil || strings.Contains(err.Error(), "endpointpw") {
		t.Errorf("New with a password in the endpoint: %v", err)
	}
	withPW := o
	o.Endpoint = "http://127.0.0.1:7070"
	b := mustNew(t, o)
	if got, want := b.String(), `s3 "legacy" (s3://legacy-media/2019/ at http://127.0.0.1:7070)`; got != want {
		t.Errorf("String() = %s; want %s", got, want)
	}
	aws := mustNew(t, Options{Name: "a", Bucket: "bk", Region: "eu-west-1"})
	if got, want := aws.String(), `s3 "a" (s3://bk/ in eu-west-1)`; got != want {
		t.Errorf("String() = %s; want %s", got, want)
	}
	for _, s := range []string{fmt.Sprint(withPW), fmt.Sprintf("%+v", withPW), fmt.Sprintf("%#v", withPW), fmt.Sprintf("%v", &withPW), fmt.Sprintf("%+v", b)} {
		for _, secret := range []string{"SECRETSECRET", "TOKENTOKEN", "endpointpw"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows a secret", s)
			}
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	base := Options{Name: "x", Bucket: "b"}
	for _, c := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no bucket", func(o *Options) { o.Bucket = "" }, "bucket must be a bucket name"},
		{"bad sse", func(o *Options) { o.SSE = "aes" }, "sse must be"},
		{"kms key without kms", func(o *Options) { o.SSEKMSKeyID = "k" }, "sse_kms_key_id"},
		{"small part", func(o *Options) { o.PartSize = 4 * mib }, "part_size must be between"},
		{"huge part", func(o *Options) { o.PartSize = 6 << 30 }, "part_size must be between"},
		{"huge cutoff", func(o *Options) { o.UploadCutoff = 6 << 30 }, "upload_cutoff must be"},
		{"bad copy mode", func(o *Options) { o.ServerSideCopy = "sometimes" }, "server_side_copy"},
		{"secret without key", func(o *Options) { o.SecretAccessKey = "s" }, "access_key_id is not"},
		{"key without secret", func(o *Options) { o.AccessKeyID = "k" }, "secret_access_key is empty"},
		{"bad endpoint", func(o *Options) { o.Endpoint = "ftp://x" }, "endpoint"},
		{"bad prefix", func(o *Options) { o.Prefix = "a/../b" }, `prefix "a/../b"`},
	} {
		o := base
		c.edit(&o)
		_, err := New(t.Context(), o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New = %v; want an error containing %q", c.name, err, c.want)
		}
	}
	b := mustNew(t, base)
	if b.partSize != DefaultPartSize || b.uploadCutoff != DefaultPartSize || b.ssc != CopyAuto || b.region != "us-east-1" || b.Precision() != 0 {
		t.Errorf("defaults: part %d, cutoff %d, copy %q, region %q", b.partSize, b.uploadCutoff, b.ssc, b.region)
	}
}

func TestHelpers(t *testing.T) {
	b := &Backend{partSize: 16 * mib}
	for _, c := range []struct{ size, want int64 }{
		{0, 16 * mib}, {16 * mib * MaxParts, 16 * mib}, {16*mib*MaxParts + 1, 17 * mib},
		{5 << 40, 525 * mib},
	} {
		got := b.partSizeFor(c.size)
		if got != c.want || (c.size+got-1)/got > MaxParts {
			t.Errorf("partSizeFor(%d) = %d; want %d", c.size, got, c.want)
		}
	}
	if got, want := escapeKey("a b/c+d%41/é~_.-x?#&"), "a%20b/c%2Bd%2541/%C3%A9~_.-x%3F%23%26"; got != want {
		t.Errorf("escapeKey = %s; want %s", got, want)
	}
	// Two parts whose bytes are "a" and "b": md5(md5("a") md5("b"))-2.
	if got, want := multipartETag([]string{"0cc175b9c0f1b6a831c399e269772661", "92eb5ffee6ae2fec3ad71c777531578f"}), "96e024ba2074fe77e8e965ba43a704be-2"; got != want {
		t.Errorf("multipartETag = %s; want %s", got, want)
	}
	if multipartETag([]string{"not-md5"}) != "" {
		t.Error("multipartETag of a non-MD5 part ETag should be empty")
	}
	for etag, want := range map[string]bool{"c2c8ddc4b84bd5bf2e1dc22ba5bc4d1e-2": true, "c2c8ddc4b84bd5bf2e1dc22ba5bc4d1e": false, "x-2": false, "c2c8ddc4b84bd5bf2e1dc22ba5bc4d1e-": false} {
		if isMultipartETag(etag) != want {
			t.Errorf("isMultipartETag(%q) = %v", etag, !want)
		}
	}
	for in, want := range map[string]string{"": "", "2019": "2019/", "2019/": "2019/", "a/b/": "a/b/"} {
		o := Options{Bucket: "b", Prefix: in}
		if err := o.Validate(); err != nil || o.Prefix != want {
			t.Errorf("Validate of prefix %q: %q, %v; want %q", in, o.Prefix, err, want)
		}
	}
	for _, bad := range []string{"a//b", "../x", "a/./b", "/a/b/", "/"} {
		o := Options{Bucket: "b", Prefix: bad}
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "prefix") {
			t.Errorf("Validate of prefix %q: %v, want an error naming the prefix", bad, err)
		}
	}
	for ep, want := range map[string]bool{"http://127.0.0.1:7070": true, "http://localhost:9000": true, "https://[::1]:9000": true, "https://s3.example.com": false, "": false} {
		if got := pathStyle(ep, false); got != want {
			t.Errorf("pathStyle(%q) = %v", ep, got)
		}
	}
}

func TestMTimeMetadata(t *testing.T) {
	ts := time.Date(2021, 2, 3, 4, 5, 6, 7, time.UTC)
	if got := formatMTime(ts); got != "1612325106.000000007" {
		t.Fatalf("formatMTime = %q", got)
	}
	for in, want := range map[string]time.Time{
		"1612325106.000000007":           ts,
		"1612325106":                     time.Unix(1612325106, 0).UTC(),
		"1612325106.5":                   time.Unix(1612325106, 5e8).UTC(),
		"2021-02-03T04:05:06.000000007Z": ts, // written by earlier syncer builds
	} {
		got, ok := parseMTime(in)
		if !ok || !got.Equal(want) {
			t.Errorf("parseMTime(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "x", "12.ab"} {
		if _, ok := parseMTime(bad); ok {
			t.Errorf("parseMTime(%q) accepted", bad)
		}
	}
}
