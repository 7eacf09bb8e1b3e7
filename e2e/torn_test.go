package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"syncer/backends/s3/s3test"
)

// Issue 10, part 1: a source that changes while syncer copies it. Each
// test ends with exit 3 and "source changed while being copied", nothing
// (or the previous copy) at the destination key, no record in the state,
// and the next apply copies the new version byte for byte.

const tornMsg = "source changed while being copied"

// rewriteInPlace overwrites the first and last n bytes of the file at path
// in place (same size and inode) with byte fill, and gives it mtime mt, a
// time of its own, so that the change shows whatever the file clock's tick.
func rewriteInPlace(path string, n int, fill byte, mt time.Time) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil {
		junk := bytes.Repeat([]byte{fill}, n)
		if _, err = f.WriteAt(junk, 0); err == nil {
			_, err = f.WriteAt(junk, fi.Size()-int64(n))
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Chtimes(path, mt, mt)
}

// checkTorn checks the result of an apply whose one copy met a source
// that changed: exit 3, the message, and no record in the state.
func checkTorn(t *testing.T, res result, state string) {
	t.Helper()
	if res.Code != 3 {
		t.Errorf("apply of a source changing while copied: want exit 3\n%s", res)
	}
	if !strings.Contains(res.Stdout+res.Stderr, tornMsg) {
		t.Errorf("apply output does not say %q\n%s", tornMsg, res)
	}
	if strings.Contains(res.Stdout, "Apply complete!") {
		t.Errorf("apply says it completed\n%s", res)
	}
	for _, table := range []string{"objects", "uploads", "upload_parts"} {
		if n := mustStateCount(t, state, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("state table %s has %d rows after the refused copy; want 0", table, n)
		}
	}
}

// checkWholeVersion checks that the file at path is the seed with its
// first and last n bytes filled by one rewriteInPlace: a whole version,
// not pieces of two.
func checkWholeVersion(t *testing.T, path string, seed []byte, n int) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(seed) {
		t.Fatalf("%s: %d bytes; want %d", path, len(got), len(seed))
	}
	fill := bytes.Repeat(got[:1], n)
	if !bytes.Equal(got[:n], fill) || !bytes.Equal(got[len(got)-n:], fill) || !bytes.Equal(got[n:len(got)-n], seed[n:len(seed)-n]) {
		t.Errorf("%s after an apply that succeeded is not one whole version of the source (a torn copy)", path)
	}
}

// TestTornLocalToLocal: a 96 MiB file rewritten in its first and last
// 8 MiB while syncer copies it to a local folder (in the kernel). First
// deterministically, between a saved plan and its apply; then while a
// writer rewrites it without pause during the whole apply.
func TestTornLocalToLocal(t *testing.T) {
	l := newLayout(t)
	path := filepath.Join(l.Src, "torn.bin")
	writeFile(t, path, seeded("torn/local", 96<<20))
	l.config().write(t, l.Config)
	mt := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

	planFile := filepath.Join(l.Base, "torn.plan")
	if res := runSyncer(t, l.Base, syncerEnv(), "plan", "-out", planFile, "-config", l.Config); res.Code != 0 {
		t.Fatalf("plan -out: want exit 0\n%s", res)
	}
	if err := rewriteInPlace(path, 8<<20, 0xA1, mt); err != nil {
		t.Fatal(err)
	}
	res := runSyncer(t, l.Base, syncerEnv(), "apply", "-config", l.Config, planFile)
	checkTorn(t, res, l.State)
	if n := countFiles(l.Dst); n != 0 {
		t.Errorf("the destination holds %d files after the refused copy; want none", n)
	}

	// A writer rewriting the file for as long as the apply runs. The copy
	// (in the kernel, a fraction of a second) can fall between two rewrites
	// on a loaded machine; then the copy is one whole version, which is
	// right. So each attempt must be refused as torn or leave a whole
	// version, and some attempt (of up to 10) must meet a rewrite.
	refused := false
	for attempt := 1; attempt <= 10; attempt++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var writes atomic.Int64
		wg.Go(func() {
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := rewriteInPlace(path, 8<<20, byte(attempt*16+i), mt.Add(time.Duration(attempt*1000+i)*time.Second)); err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		})
		res = runSyncer(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-config", l.Config)
		close(stop)
		wg.Wait()
		t.Logf("attempt %d: apply while the file was rewritten %d times: exit %d in %.2fs", attempt, writes.Load(), res.Code, res.Elapsed.Seconds())
		if res.Code == 3 {
			checkTorn(t, res, l.State)
			if n := countFiles(l.Dst); n != 0 {
				t.Errorf("the destination holds %d files after the refused copy; want none", n)
			}
			refused = true
			break
		}
		if res.Code != 0 {
			t.Fatalf("apply while the file was rewritten: want exit 3 (torn) or 0 (a whole version)\n%s", res)
		}
		checkWholeVersion(t, filepath.Join(l.Dst, "torn.bin"), seeded("torn/local", 96<<20), 8<<20)
		// Start the next attempt from nothing, as the first one did.
		for _, p := range []string{filepath.Join(l.Dst, "torn.bin"), l.State, l.State + "-wal", l.State + "-shm"} {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
	}
	if !refused {
		t.Errorf("no apply of 10 met a rewrite of its file: the torn check was not exercised")
	}

	res = runSyncer(t, l.Base, syncerEnv(), "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply once the file is left alone: want exit 0\n%s", res)
	}
	assertTreesEqual(t, l.Src, l.Dst)
}

// TestTornLocalToS3Multipart: a 48 MiB local file, uploaded in 8 MiB
// parts, is rewritten in its first and last 8 MiB as the first part
// reaches the store (a proxy hook): the upload is aborted, no object
// appears, and the next apply uploads the new version.
func TestTornLocalToS3Multipart(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	l := newLayout(t)
	const key = "torn.bin"
	path := filepath.Join(l.Src, key)
	writeSeeded(t, path, "torn/s3", 48<<20)
	bucket := newS3Bucket(t, env.A, "torn")
	proxy, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	var once sync.Once
	proxy.SetOnRequest(func(op string, _ *http.Request) {
		if op == "UploadPart" {
			once.Do(func() {
				if err := rewriteInPlace(path, 8<<20, 0xB2, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
					t.Error(err)
				}
			})
		}
	})
	writeHCL(t, l.Config, l.State, nil, localBlock("src", l.Src),
		s3Block{Name: "bucket", Srv: env.A, Endpoint: proxy.URL, Bucket: bucket, PartSize: "8MiB"}.hcl(env),
		syncBlock(syncName, "backend.local.src", "backend.s3.bucket"))

	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	t.Logf("requests: %v", proxy.Counts())
	checkTorn(t, res, l.State)
	if proxy.Count("CompleteMultipartUpload") != 0 {
		t.Errorf("the upload was completed")
	}
	if _, _, err := headObject(t, env.A, bucket, key); err == nil {
		t.Errorf("an object is visible at %s after the refused copy", key)
	}
	if ups := multipartUploads(t, env.A, bucket); len(ups) != 0 {
		t.Errorf("multipart uploads left in progress: %q", ups)
	}

	proxy.SetOnRequest(nil)
	res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("next apply: want exit 0\n%s", res)
	}
	want, n, err := hashFile(path, make([]byte, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if got, gn := rcloneSHA256(t, remote{"A", env.A}, bucket, key); got != want || gn != n {
		t.Errorf("object after the next apply: %d bytes, sha256 %s; the file: %d bytes, %s", gn, got, n, want)
	}
}

// TestTornS3ToLocal: the source object is overwritten between two reads
// of one copy (the connection of the first GetObject is cut halfway, and
// the object rewritten before the resumed GetObject): the resume, pinned
// to the first version's ETag, is refused, the destination keeps nothing,
// and the next apply copies the new version.
func TestTornS3ToLocal(t *testing.T) {
	env := needS3(t)
	l := newLayout(t)
	const key = "report.bin"
	bucket := newS3Bucket(t, env.A, "torn-src")
	putObject(t, env.A, bucket, key, seeded("torn/v1", 6<<20))
	v2 := seeded("torn/v2", 6<<20)
	proxy, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	var gets atomic.Int32
	proxy.SetOnRequest(func(op string, _ *http.Request) {
		if op == "GetObject" && gets.Add(1) == 2 {
			proxy.SetFaults(s3test.Faults{})
			putObject(t, env.A, bucket, key, v2)
		}
	})
	proxy.SetFaults(s3test.Faults{Cut: 1, Only: []string{"GetObject"}})
	writeHCL(t, l.Config, l.State, nil,
		s3Block{Name: "bucket", Srv: env.A, Endpoint: proxy.URL, Bucket: bucket}.hcl(env),
		localBlock("dst", l.Dst), syncBlock(syncName, "backend.s3.bucket", "backend.local.dst"))

	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	t.Logf("requests: %v", proxy.Counts())
	checkTorn(t, res, l.State)
	if n := gets.Load(); n != 2 {
		t.Errorf("%d GetObject requests; want 2 (the cut one, the refused resume)", n)
	}
	if n := countFiles(l.Dst); n != 0 {
		t.Errorf("the destination holds %d files after the refused copy; want none", n)
	}

	proxy.SetOnRequest(nil)
	res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("next apply: want exit 0\n%s", res)
	}
	if got, err := os.ReadFile(filepath.Join(l.Dst, key)); err != nil || !bytes.Equal(got, v2) {
		t.Errorf("copy after the next apply: %d bytes (err %v); want the new version's %d", len(got), err, len(v2))
	}
}

// TestTornS3ToS3Parts: across accounts an object is copied in 8 MiB parts,
// each a ranged GetObject of the source; the source is overwritten before
// the second part's GET. That part is refused (If-Match), the upload is
// aborted, nothing appears at the destination, and the next apply copies
// the new version.
func TestTornS3ToS3Parts(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	l := newLayout(t)
	const key = "video.bin"
	legacy := newS3Bucket(t, env.B, "torn-legacy")
	archive := newS3Bucket(t, env.A, "torn-archive")
	putObject(t, env.B, legacy, key, seeded("torn/parts-v1", 24<<20))
	v2 := seeded("torn/parts-v2", 24<<20)
	proxyB, err := s3test.NewProxy(env.B.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxyB.Close()
	var gets atomic.Int32
	proxyB.SetOnRequest(func(op string, _ *http.Request) {
		if op == "GetObject" && gets.Add(1) == 2 {
			putObject(t, env.B, legacy, key, v2)
		}
	})
	writeHCL(t, l.Config, l.State, []string{"workers = 1"},
		s3Block{Name: "legacy", Srv: env.B, Endpoint: proxyB.URL, Bucket: legacy}.hcl(env),
		s3Block{Name: "archive", Srv: env.A, Bucket: archive, PartSize: "8MiB", Extra: []string{"upload_concurrency = 1"}}.hcl(env),
		syncBlock(syncName, "backend.s3.legacy", "backend.s3.archive"))

	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	t.Logf("source requests: %v", proxyB.Counts())
	checkTorn(t, res, l.State)
	if _, _, err := headObject(t, env.A, archive, key); err == nil {
		t.Errorf("an object is visible at %s after the refused copy", key)
	}
	if ups := multipartUploads(t, env.A, archive); len(ups) != 0 {
		t.Errorf("multipart uploads left in progress: %q", ups)
	}

	proxyB.SetOnRequest(nil)
	res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("next apply: want exit 0\n%s", res)
	}
	if got, n := rcloneSHA256(t, remote{"A", env.A}, archive, key); n != int64(len(v2)) || got != sha256Hex(v2) {
		t.Errorf("copy after the next apply: %d bytes, sha256 %s; want the new version", n, got)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
