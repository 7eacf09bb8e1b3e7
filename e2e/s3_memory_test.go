package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestS3MemoryTwoGiB uploads a 2 GiB local file to S3 (multipart), then
// streams that object to another account's bucket (no server-side copy
// possible), and checks that each syncer process's peak RSS stays under
// 96 MiB: memory is bounded by configuration, not by object size.
func TestS3MemoryTwoGiB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 2 GiB S3 transfers")
	}
	env := needS3(t)
	needRclone(t)
	l := newLayout(t)
	const size = 2 << 30
	const partSize = 16 << 20 // the default part size; 128 parts
	// The local file, the object on A and on B, and while each upload
	// completes, its parts beside the assembled object.
	requireS3FreeSpace(t, 4*size+size/2, "a 2 GiB file, its copies on two S3 servers and their parts while they are assembled",
		l.Base, env.A.Dir, env.B.Dir)
	logFloor(t, l.Base)

	start := time.Now()
	big := genPartedFile(t, filepath.Join(l.Src, "big.bin"), "s3-2gib", size, partSize)
	t.Logf("generated the 2 GiB source in %.1fs", time.Since(start).Seconds())

	legacy := newS3Bucket(t, env.A, "mem-legacy")
	archive := newS3Bucket(t, env.B, "mem-archive")
	writeHCL(t, l.Config, l.State, nil,
		localBlock("src", l.Src),
		s3Block{Name: "legacy", Srv: env.A, Bucket: legacy}.hcl(env),
		s3Block{Name: "archive", Srv: env.B, Bucket: archive}.hcl(env),
		syncBlock("upload", "backend.local.src", "backend.s3.legacy"),
		syncBlock("migrate", "backend.s3.legacy", "backend.s3.archive"))

	// 1. local -> S3, multipart.
	res := runMeasured(t, l.Base, s3SyncerEnv(env), "apply", "-auto-approve", "-target", "upload", "-config", l.Config)
	checkNoSecrets(t, env, res)
	t.Logf("2 GiB local -> S3 (multipart): peak RSS %s in %.1fs (exit %d)", mib(res.MaxRSSKiB), res.Elapsed.Seconds(), res.Code)
	if res.Code != 0 {
		t.Fatalf("apply local -> S3: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != 1 {
		t.Errorf("apply local -> S3: %s; want 1 created", line)
	}
	checkS3RSS(t, "2 GiB local -> S3", res)
	if n, etag, err := headObject(t, env.A, legacy, "big.bin"); err != nil || n != size || etag != big.ETag {
		t.Fatalf("legacy big.bin: %d bytes, ETag %q (err %v); want %d bytes, ETag %s (the md5s of the 16 MiB parts of the local file)",
			n, etag, err, int64(size), big.ETag)
	}
	// The local copy is no longer needed: make room for the next one.
	if err := os.Remove(big.Path); err != nil {
		t.Fatal(err)
	}

	// 2. S3 -> S3 across accounts: streamed.
	res = runMeasured(t, l.Base, s3SyncerEnv(env), "apply", "-auto-approve", "-target", "migrate", "-config", l.Config)
	checkNoSecrets(t, env, res)
	t.Logf("2 GiB S3 -> S3 across accounts (streamed): peak RSS %s in %.1fs (exit %d)", mib(res.MaxRSSKiB), res.Elapsed.Seconds(), res.Code)
	if res.Code != 0 {
		t.Fatalf("apply S3 -> S3: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != 1 {
		t.Errorf("apply S3 -> S3: %s; want 1 created", line)
	}
	if !strings.Contains(res.Stderr, "streaming through syncer") {
		t.Errorf("stderr does not say the copy streams\n%s", res)
	}
	checkS3RSS(t, "2 GiB S3 -> S3 across accounts", res)
	if n, etag, err := headObject(t, env.B, archive, "big.bin"); err != nil || n != size || etag != big.ETag {
		t.Errorf("archive big.bin: %d bytes, ETag %q (err %v); want %d bytes, ETag %s", n, etag, err, int64(size), big.ETag)
	}
	// Byte for byte, read back by another client.
	start = time.Now()
	sum, n := rcloneSHA256(t, remote{"B", env.B}, archive, "big.bin")
	t.Logf("read the archive's copy back with rclone in %.1fs", time.Since(start).Seconds())
	if n != size || sum != big.SHA256 {
		t.Errorf("archive big.bin read by rclone: %d bytes, sha256 %s; the generated file: %d bytes, %s", n, sum, int64(size), big.SHA256)
	}
}
