package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends/s3/s3test"
)

// TestCompareSwitchedToChecksumS3: a state made under compare = "modtime",
// local -> S3, switched to "checksum", must not fall back to times. A
// same-size edit with its time put back is found both for an object
// uploaded in parts (its ETag is no MD5: read once to hash it) and for a
// single-part one (its ETag is its MD5); a touched file (same bytes) is
// hashed once, the object read once, and their checksums recorded; a pair
// untouched since apply copied it is not read; after the apply, no plan
// reads an object again.
func TestCompareSwitchedToChecksumS3(t *testing.T) {
	env := needS3(t)
	l := newLayout(t)
	bucket := newS3Bucket(t, env.A, "cmpswitch")
	proxy, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	const big = 6 << 20 // above part_size: uploaded in parts
	writeSeeded(t, filepath.Join(l.Src, "big.bin"), "cmpswitch/big", big)
	writeSeeded(t, filepath.Join(l.Src, "same.bin"), "cmpswitch/same", big)
	writeSeeded(t, filepath.Join(l.Src, "untouched.bin"), "cmpswitch/untouched", big)
	writeFile(t, filepath.Join(l.Src, "small.txt"), []byte("hello world\n"))
	when := time.Unix(1600000000, 0)
	for _, f := range []string{"big.bin", "same.bin", "untouched.bin", "small.txt"} {
		if err := os.Chtimes(filepath.Join(l.Src, f), when, when); err != nil {
			t.Fatal(err)
		}
	}
	config := func(compare string) {
		writeHCL(t, l.Config, l.State, nil,
			localBlock("src", l.Src),
			s3Block{Name: "dst", Srv: env.A, Endpoint: proxy.URL, Bucket: bucket, PartSize: "5MiB"}.hcl(env),
			syncBlock("up", "backend.local.src", "backend.s3.dst", "compare = "+hclString(compare)))
	}
	config("modtime")
	if res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config); res.Code != 0 {
		t.Fatalf("first apply: want exit 0\n%s", res)
	}
	if _, etag, err := headObject(t, env.A, bucket, "big.bin"); err != nil || !strings.Contains(etag, "-") {
		t.Fatalf("precondition: big.bin should be uploaded in parts; ETag %q (err %v)", etag, err)
	}

	// Same sizes, new bytes, times put back.
	edited := seeded("cmpswitch/big-v2", big)
	writeFile(t, filepath.Join(l.Src, "big.bin"), edited)
	writeFile(t, filepath.Join(l.Src, "small.txt"), []byte("hello-world\n"))
	for _, f := range []string{"big.bin", "small.txt"} {
		if err := os.Chtimes(filepath.Join(l.Src, f), when, when); err != nil {
			t.Fatal(err)
		}
	}
	if res := runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", l.Config); res.Code != 0 {
		t.Fatalf("plan under modtime: want exit 0 (it cannot tell)\n%s", res)
	}

	config("checksum")
	if err := os.Chtimes(filepath.Join(l.Src, "same.bin"), when.Add(time.Hour), when.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	proxy.Reset()
	res := runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", l.Config)
	if res.Code != 2 {
		t.Fatalf("plan under checksum: want exit 2\n%s", res)
	}
	for _, w := range []string{"  ~ big.bin (6.0 MiB, source changed)\n", "  ~ small.txt (12 B, source changed)\n", "  = same.bin (in place; checksums recorded)\n"} {
		if !strings.Contains(res.Stdout, w) {
			t.Errorf("plan under checksum lacks %q\n%s", w, res)
		}
	}
	if strings.Contains(res.Stdout, "untouched.bin") {
		t.Errorf("plan under checksum shows untouched.bin\n%s", res)
	}
	if n := proxy.Count("GetObject"); n != 2 {
		t.Errorf("plan under checksum read %d objects; want 2 (big.bin and same.bin, whose ETags are no MD5s; not untouched.bin)", n)
	}
	res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 || !strings.Contains(res.Stdout, "Apply complete! 0 created, 2 updated, 0 deleted") {
		t.Fatalf("apply under checksum\n%s", res)
	}
	c, err := env.A.Client()
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][]byte{"big.bin": edited, "small.txt": []byte("hello-world\n")} {
		out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s in the bucket: %d bytes (err %v), not the edited file", key, len(got), err)
		}
	}

	// Recorded: nothing is read again.
	proxy.Reset()
	res = runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", l.Config)
	if res.Code != 0 {
		t.Errorf("plan after apply: want exit 0\n%s", res)
	}
	if n := proxy.Count("GetObject"); n != 0 {
		t.Errorf("plan after apply read %d objects; want none (their MD5s are recorded)", n)
	}
}
