package s3

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/backendtest"
)

// Writes carry the storage class, the encryption settings and the source
// modification time; the fake server ignores the first two, so a proxy
// checks the requests.
func TestWriteHeaders(t *testing.T) {
	p, via := proxied(t, &fake.Server)
	var mu sync.Mutex
	seen := map[string]http.Header{}
	p.OnRequest = func(op string, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen[op] = r.Header.Clone()
	}
	o := testOptions(via, newBucket(t, &fake.Server), "")
	o.StorageClass, o.SSE, o.SSEKMSKeyID = "STANDARD_IA", "aws:kms", "alias/k"
	o.PartSize = 5 * mib
	b := mustNew(t, o)
	mtime := time.Date(2021, 2, 3, 4, 5, 6, 7, time.UTC)
	src := backends.Object{Size: 1000, ModTime: mtime}
	if _, err := b.Put(t.Context(), "small.txt", backendtest.RandomReader(1, 1000), src); err != nil {
		t.Fatal(err)
	}
	src.Size = 6 * mib
	if _, err := b.Put(t.Context(), "big.bin", backendtest.RandomReader(1, 6*mib), src); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, op := range []string{"PutObject", "CreateMultipartUpload"} {
		h := seen[op]
		if h == nil {
			t.Errorf("no %s request", op)
			continue
		}
		for k, want := range map[string]string{
			"X-Amz-Storage-Class":                         "STANDARD_IA",
			"X-Amz-Server-Side-Encryption":                "aws:kms",
			"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "alias/k",
			"X-Amz-Meta-Mtime":                            "1612325106.000000007", // rclone's form
		} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q; want %q", op, k, got, want)
			}
		}
	}
	if got := seen["PutObject"].Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("PutObject Content-Type = %q", got)
	}
	if seen["PutObject"].Get("Content-Md5") == "" || seen["UploadPart"].Get("Content-Md5") == "" {
		t.Error("buffered PutObject and UploadPart lack Content-MD5")
	}
}
