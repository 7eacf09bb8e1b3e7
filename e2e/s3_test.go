package e2e

// End-to-end tests of the S3 backend (issue 3), driving the built syncer
// against real versitygw servers and checking the buckets with rclone.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"syncer/backends/s3/s3test"
)

// awkwardTree is a tree of names that trip up escaping (URL paths, query
// strings, XML listings, signatures) and sizes around the multipart edges
// (default part size 16 MiB, which is also the upload cutoff).
var awkwardTree = []struct {
	key  string
	size int
}{
	{"plain.txt", 1000},
	{"with space/file name with spaces.txt", 300},
	{"unicode/café ünïcödé/日本語のファイル.txt", 2000},
	{"unicode/emoji 🎉 party.bin", 513},
	{"unicode/combining e\u0301 (NFD).txt", 10},
	{"percent/100% done.txt", 64},
	{"percent/%2F not a slash %20 not a space.txt", 65},
	{"plus/a+b=c.txt", 66},
	{"plus/+leading plus", 67},
	{"hash/#1 issue#2.txt", 68},
	{"mixed/?query&x=1;y'z\"(q)[r]{s}~!@$^,.txt", 69},
	{"mixed/<tag> & amp;.xml", 70},
	{".leading-dot", 71},
	{".hidden dir/.also hidden", 72},
	{"..double-dot prefix.txt", 12},
	{"empty.txt", 0},
	{"deep/a/b/c/d/e/zero-bytes", 0},
	{"big/forty-mib.bin", 40 << 20},           // 3 parts of 16 MiB
	{"big/sixteen-mib-exactly.bin", 16 << 20}, // at the cutoff: 1 part
}

func writeAwkwardTree(t *testing.T, root string) {
	t.Helper()
	for _, f := range awkwardTree {
		writeSeeded(t, filepath.Join(root, filepath.FromSlash(f.key)), "awkward/"+f.key, f.size)
	}
}

// TestS3LocalRoundTrip uploads a tree of awkward names to S3, checks the
// bucket with rclone, downloads it back to a folder, and checks that a
// one-file change shows as exactly one update in each direction.
func TestS3LocalRoundTrip(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	l := newLayout(t)
	writeAwkwardTree(t, l.Src)
	bucket := newS3Bucket(t, env.A, "roundtrip")
	ra := remote{"A", env.A}
	s3b := s3Block{Name: "bucket", Srv: env.A, Bucket: bucket}.hcl(env)

	up := filepath.Join(l.Base, "up.hcl")
	writeHCL(t, up, filepath.Join(l.Base, "up.db"), nil,
		localBlock("src", l.Src), s3b, syncBlock("up", "backend.local.src", "backend.s3.bucket"))
	down := filepath.Join(l.Base, "down.hcl")
	writeHCL(t, down, filepath.Join(l.Base, "down.db"), nil,
		s3b, localBlock("dst", l.Dst), syncBlock("down", "backend.s3.bucket", "backend.local.dst"))

	// local -> S3
	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", up)
	if res.Code != 0 {
		t.Fatalf("apply local -> S3: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != len(awkwardTree) {
		t.Errorf("apply local -> S3: %s; want %d created", line, len(awkwardTree))
	}
	if n := assertBucketMatchesDir(t, ra, bucket, l.Src); n != len(awkwardTree) {
		t.Errorf("compared %d keys; want %d", n, len(awkwardTree))
	}
	// The large files went up in parts of 16 MiB, each part as sent.
	for _, k := range []string{"big/forty-mib.bin", "big/sixteen-mib-exactly.bin"} {
		want := multipartETagOf(t, filepath.Join(l.Src, filepath.FromSlash(k)), 16<<20)
		if _, etag, err := headObject(t, env.A, bucket, k); err != nil || etag != want {
			t.Errorf("%s: ETag %q (err %v); want the multipart ETag %s of 16 MiB parts", k, etag, err, want)
		}
	}
	if n := mustStateCount(t, filepath.Join(l.Base, "up.db"), `SELECT count(*) FROM uploads`); n != 0 {
		t.Errorf("state holds %d multipart uploads after a complete apply; want 0", n)
	}
	if res := runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", up); res.Code != 0 || !strings.Contains(res.Stdout, "No changes.") {
		t.Errorf("plan after apply local -> S3: want exit 0 and No changes.\n%s", res)
	}

	// S3 -> local
	res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", down)
	if res.Code != 0 {
		t.Fatalf("apply S3 -> local: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != len(awkwardTree) {
		t.Errorf("apply S3 -> local: %s; want %d created", line, len(awkwardTree))
	}
	assertTreesEqual(t, l.Src, l.Dst)
	if res := runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", down); res.Code != 0 || !strings.Contains(res.Stdout, "No changes.") {
		t.Errorf("plan after apply S3 -> local: want exit 0 and No changes.\n%s", res)
	}

	// Change one file, keeping its size: one update up, then one down.
	// S3 lists LastModified in whole seconds; let the rewrite land in a
	// later second than the first upload (a rewrite within the same second
	// is TestS3SourceRewrittenWithinASecond's case).
	const changed = "plus/a+b=c.txt"
	for lm := lastModified(t, env.A, bucket, changed); !time.Now().After(lm.Add(time.Second)); {
		time.Sleep(50 * time.Millisecond)
	}
	p := filepath.Join(l.Src, filepath.FromSlash(changed))
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	writeSeeded(t, p, "awkward/changed", int(fi.Size()))
	if err := os.Chtimes(p, fi.ModTime().Add(5*time.Second), fi.ModTime().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ name, config string }{{"local -> S3", up}, {"S3 -> local", down}} {
		res := runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", step.config)
		if res.Code != 2 {
			t.Errorf("plan %s after changing %s: want exit 2 (changes)\n%s", step.name, changed, res)
		}
		lines := planLines(res.Stdout)
		if len(lines["~"]) != 1 || !strings.HasPrefix(lines["~"][0], changed+" (") || len(lines["+"])+len(lines["-"]) != 0 {
			t.Errorf("plan %s after changing %s: want exactly one line \"~ %s (...)\"; got %q\n%s", step.name, changed, changed, lines, res)
		}
		res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", step.config)
		if res.Code != 0 {
			t.Fatalf("apply %s after the change: want exit 0\n%s", step.name, res)
		}
		if sum, line := parseApplyComplete(t, res); sum != (applySummary{Updated: 1}) {
			t.Errorf("apply %s after the change: %s; want 1 updated", step.name, line)
		}
	}
	want, _, _ := hashFile(p, nil)
	if got, _ := rcloneSHA256(t, ra, bucket, changed); got != want {
		t.Errorf("after the update, %s in the bucket has sha256 %s; the local file %s", changed, got, want)
	}
	assertTreesEqual(t, l.Src, l.Dst)
	for _, c := range []string{up, down} {
		if res := runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", c); res.Code != 0 {
			t.Errorf("plan %s after the updates: want exit 0\n%s", filepath.Base(c), res)
		}
	}

	// Someone else overwrites a key in the bucket (same size): drift.
	const drifted = "percent/100% done.txt"
	other := filepath.Join(l.Base, "other")
	writeSeeded(t, other, "awkward/drift", 64)
	rclone(t, []remote{ra}, "copyto", "--ignore-times", other, ra.path(bucket, drifted))
	res = runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", up)
	lines := planLines(res.Stdout)
	if res.Code != 2 || len(lines["~"]) != 1 || !strings.HasPrefix(lines["~"][0], drifted+" (") ||
		!strings.Contains(lines["~"][0], "destination changed") || len(lines["+"])+len(lines["-"]) != 0 {
		t.Errorf("plan local -> S3 after %s was overwritten in the bucket: want exit 2 and one line \"~ %s (..., destination changed since last apply)\"; got %q\n%s",
			drifted, drifted, lines, res)
	}
	if res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", up); res.Code != 0 {
		t.Fatalf("apply after the drift: want exit 0\n%s", res)
	}
	want, _, _ = hashFile(filepath.Join(l.Src, filepath.FromSlash(drifted)), nil)
	if got, _ := rcloneSHA256(t, ra, bucket, drifted); got != want {
		t.Errorf("after the apply, %s in the bucket is not the source's again", drifted)
	}
}

// fillSourceBucket uploads a tree with rclone (parts of 5 MiB above 5 MiB,
// so the source holds multipart objects too) and returns its folder.
func fillSourceBucket(t *testing.T, r remote, bucket, dir string) {
	t.Helper()
	writeAwkwardTree(t, dir)
	genTree(t, dir, "s3copy", 40, 1, 64<<10)
	rclone(t, []remote{r}, "copy", "--s3-upload-cutoff", "5Mi", "--s3-chunk-size", "5Mi", dir, r.path(bucket))
}

// treeBytes is the total size of the regular files below root.
func treeBytes(t *testing.T, root string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return err
	})
	return n
}

// TestS3ServerSideCopy copies between two buckets of one server with one
// set of keys: the bytes must not pass through syncer. A counting proxy in
// front of the server sees every request syncer makes.
func TestS3ServerSideCopy(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	l := newLayout(t)
	ra := remote{"A", env.A}
	srcBucket := newS3Bucket(t, env.A, "ssc-src")
	dstBucket := newS3Bucket(t, env.A, "ssc-dst")
	fillSourceBucket(t, ra, srcBucket, l.Src)
	total := treeBytes(t, l.Src)
	objects := len(rcloneList(t, ra, srcBucket))

	proxy, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	writeHCL(t, l.Config, l.State, nil,
		s3Block{Name: "legacy", Srv: env.A, Endpoint: proxy.URL, Bucket: srcBucket}.hcl(env),
		s3Block{Name: "archive", Srv: env.A, Endpoint: proxy.URL, Bucket: dstBucket}.hcl(env),
		syncBlock("media", "backend.s3.legacy", "backend.s3.archive", `delete = "managed"`))

	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply S3 -> S3 (same keys): want exit 0\n%s", res)
	}
	sum, line := parseApplyComplete(t, res)
	if sum.Created != objects {
		t.Errorf("apply: %s; want %d created", line, objects)
	}
	if !strings.Contains(res.Stderr, "copying server-side") {
		t.Errorf("stderr does not say \"copying server-side\"\n%s", res)
	}
	up, down := proxy.Bytes()
	counts := proxy.Counts()
	t.Logf("server-side copy of %d objects, %.1f MiB: %d bytes up, %d bytes down through the proxy; requests %v",
		objects, float64(total)/(1<<20), up, down, counts)
	for _, op := range []string{"GetObject", "PutObject", "UploadPart"} {
		if counts[op] != 0 {
			t.Errorf("%d %s requests went through the proxy; a server-side copy needs none", counts[op], op)
		}
	}
	if got := counts["CopyObject"] + counts["UploadPartCopy"]; got < objects {
		t.Errorf("%d CopyObject/UploadPartCopy requests for %d objects", got, objects)
	}
	if up+down > total/20 {
		t.Errorf("%d bytes passed through the proxy for %d bytes of objects; a server-side copy moves only requests and listings", up+down, total)
	}
	assertBucketsEqual(t, ra, srcBucket, ra, dstBucket)

	if res := runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", l.Config); res.Code != 0 {
		t.Errorf("plan after the copy: want exit 0 (no changes)\n%s", res)
	}
}

// TestS3CrossAccountStreaming copies from server A to server B (other keys)
// and to the TLS server (other keys, private CA): nothing can copy
// server-side, so syncer streams, and the buckets end up identical.
func TestS3CrossAccountStreaming(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	l := newLayout(t)
	ra, rb, rt := remote{"A", env.A}, remote{"B", env.B}, remote{"TLS", env.TLS}
	srcBucket := newS3Bucket(t, env.A, "legacy")
	dstBucket := newS3Bucket(t, env.B, "archive")
	tlsBucket := newS3Bucket(t, env.TLS, "archive-tls")
	fillSourceBucket(t, ra, srcBucket, l.Src)
	total := treeBytes(t, l.Src)
	objects := len(rcloneList(t, ra, srcBucket))

	// Count what reaches B: the object bytes, and no copy request.
	proxy, err := s3test.NewProxy(env.B.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	writeHCL(t, l.Config, l.State, nil,
		s3Block{Name: "legacy", Srv: env.A, Bucket: srcBucket}.hcl(env),
		s3Block{Name: "archive", Srv: env.B, Endpoint: proxy.URL, Bucket: dstBucket}.hcl(env),
		// Above the part size and below the cutoff, objects go to the TLS
		// server as one streamed PutObject (aws-chunked, trailing checksum).
		s3Block{Name: "archive_tls", Srv: env.TLS, Bucket: tlsBucket, Extra: []string{`upload_cutoff = "64MiB"`}}.hcl(env),
		syncBlock("to_b", "backend.s3.legacy", "backend.s3.archive", `compare = "checksum"`),
		syncBlock("to_tls", "backend.s3.legacy", "backend.s3.archive_tls"))

	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply S3 -> S3 across accounts: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != 2*objects {
		t.Errorf("apply: %s; want %d created", line, 2*objects)
	}
	if n := strings.Count(res.Stderr, "streaming through syncer"); n != 2 {
		t.Errorf("stderr says \"streaming through syncer\" %d times; want once per sync (2)\n%s", n, res)
	}
	if strings.Contains(res.Stderr, "copying server-side") {
		t.Errorf("stderr says \"copying server-side\" for copies across accounts\n%s", res)
	}
	up, _ := proxy.Bytes()
	counts := proxy.Counts()
	t.Logf("streamed %d objects, %.1f MiB, to B: %d bytes up through B's proxy; requests %v", objects, float64(total)/(1<<20), up, counts)
	if counts["CopyObject"]+counts["UploadPartCopy"] != 0 {
		t.Errorf("syncer sent copy requests to B, which cannot read A's bucket: %v", counts)
	}
	if up < total {
		t.Errorf("%d bytes reached B for %d bytes of objects", up, total)
	}
	assertBucketsEqual(t, ra, srcBucket, rb, dstBucket)
	assertBucketsEqual(t, ra, srcBucket, rt, tlsBucket)
	// The 40 MiB object went to the TLS server in one streamed PutObject.
	const streamed = "big/forty-mib.bin"
	if _, etag, err := headObject(t, env.TLS, tlsBucket, streamed); err != nil || etag != md5File(t, filepath.Join(l.Src, streamed)) {
		t.Errorf("%s on the TLS server: ETag %q (err %v); want the file's MD5 (one streamed PutObject)", streamed, etag, err)
	}
	if n := mustStateCount(t, l.State, `SELECT count(*) FROM uploads`); n != 0 {
		t.Errorf("state holds %d multipart uploads after a complete apply; want 0", n)
	}
	if res := runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", l.Config); res.Code != 0 {
		t.Errorf("plan after the copy: want exit 0 (no changes)\n%s", res)
	}
}

// TestS3DeleteManaged: with delete = "managed" on an S3 destination (a
// prefix inside the bucket), a key removed from the source is deleted from
// the bucket; keys syncer never wrote stay, inside the prefix and out.
func TestS3DeleteManaged(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	l := newLayout(t)
	ra := remote{"A", env.A}
	bucket := newS3Bucket(t, env.A, "managed")
	const prefix = "backups/laptop 1/"
	genTree(t, l.Src, "managed", 12, 0, 8<<10)

	// Keys another writer put there: in the prefix (one among syncer's
	// folders) and outside it.
	foreign := []string{prefix + "not-mine.txt", prefix + "d01/e1/foreign.bin", "elsewhere/keep.txt", "backups/laptop 1.txt"}
	other := t.TempDir()
	for _, k := range foreign {
		writeSeeded(t, filepath.Join(other, filepath.FromSlash(k)), "foreign/"+k, 333)
	}
	rclone(t, []remote{ra}, "copy", other, ra.path(bucket))

	writeHCL(t, l.Config, l.State, nil,
		localBlock("src", l.Src),
		s3Block{Name: "bucket", Srv: env.A, Bucket: bucket, Prefix: prefix}.hcl(env),
		syncBlock("data", "backend.local.src", "backend.s3.bucket", `delete = "managed"`))
	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("first apply: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum != (applySummary{Created: 12}) {
		t.Errorf("first apply: %s; want 12 created, nothing deleted", line)
	}

	removed := []string{"d01/e1/file-00001.bin", "d05/e0/file-00005.bin"}
	for _, k := range removed {
		if err := os.Remove(filepath.Join(l.Src, filepath.FromSlash(k))); err != nil {
			t.Fatal(err)
		}
	}
	res = runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", l.Config)
	if res.Code != 2 {
		t.Errorf("plan after removing 2 source files: want exit 2\n%s", res)
	}
	lines := planLines(res.Stdout)
	if strings.Join(lines["-"], "|") != strings.Join(removed, "|") || len(lines["+"])+len(lines["~"]) != 0 {
		t.Errorf("plan: want exactly the deletes %q; got %q\n%s", removed, lines, res)
	}
	res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply with deletes: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum != (applySummary{Deleted: 2}) {
		t.Errorf("apply with deletes: %s; want 2 deleted", line)
	}

	keys := rcloneList(t, ra, bucket)
	for _, k := range removed {
		if _, ok := keys[prefix+k]; ok {
			t.Errorf("%s, removed from the source, is still in the bucket", prefix+k)
		}
	}
	for _, k := range foreign {
		want, _, _ := hashFile(filepath.Join(other, filepath.FromSlash(k)), nil)
		if _, ok := keys[k]; !ok {
			t.Errorf("%s, which syncer never wrote, was deleted from the bucket", k)
		} else if got, _ := rcloneSHA256(t, ra, bucket, k); got != want {
			t.Errorf("%s, which syncer never wrote, was changed", k)
		}
		delete(keys, k)
	}
	// What is left besides them is the source, byte for byte.
	buf := make([]byte, 64<<10)
	filepath.WalkDir(l.Src, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(l.Src, p)
		k := prefix + filepath.ToSlash(rel)
		if _, ok := keys[k]; !ok {
			t.Errorf("%s is not in the bucket", k)
			return nil
		}
		delete(keys, k)
		want, _, _ := hashFile(p, buf)
		if got, _ := rcloneSHA256(t, ra, bucket, k); got != want {
			t.Errorf("%s in the bucket differs from the source", k)
		}
		return nil
	})
	if len(keys) != 0 {
		t.Errorf("the bucket holds keys neither from the source nor foreign: %v", keys)
	}
	if n := mustStateCount(t, l.State, `SELECT count(*) FROM objects`); n != 10 {
		t.Errorf("state records %d objects; want 10", n)
	}
	if res := runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", l.Config); res.Code != 0 {
		t.Errorf("plan after the deletes: want exit 0\n%s", res)
	}
}

// TestS3Examples validates the S3 examples with the keys they read from
// the environment, and fails without them (they use env(), not literals).
// The cross-account example then runs for real, from server A to server B.
func TestS3Examples(t *testing.T) {
	noteSourceInputs.Do(statModuleSources)
	dir := t.TempDir()
	keys := []string{
		"BACKUP_AWS_ACCESS_KEY_ID=AKIAEXAMPLEBACKUP", "BACKUP_AWS_SECRET_ACCESS_KEY=example-backup-secret",
		"LEGACY_AWS_ACCESS_KEY_ID=AKIAEXAMPLELEGACY", "LEGACY_AWS_SECRET_ACCESS_KEY=example-legacy-secret",
		"ARCHIVE_AWS_ACCESS_KEY_ID=AKIAEXAMPLEARCHIVE", "ARCHIVE_AWS_SECRET_ACCESS_KEY=example-archive-secret",
	}
	examples := filepath.Join(moduleRoot, "examples")
	for _, name := range []string{"local-to-s3.hcl", "s3-to-s3-cross-account.hcl"} {
		cfg := filepath.Join(examples, name)
		res := runSyncer(t, dir, syncerEnv(keys...), "validate", "-config", cfg)
		if res.Code != 0 || !strings.Contains(res.Stdout, "Success!") {
			t.Errorf("validate %s with its keys set: want exit 0\n%s", name, res)
		}
		for _, k := range keys {
			_, secret, _ := strings.Cut(k, "=")
			if strings.Contains(res.Stdout+res.Stderr, secret) {
				t.Errorf("validate %s printed a secret", name)
			}
		}
		res = runSyncer(t, dir, syncerEnv(), "validate", "-config", cfg)
		if res.Code != 1 || !strings.Contains(res.Stderr, "_AWS_") {
			t.Errorf("validate %s without its keys: want exit 1 naming the missing variable\n%s", name, res)
		}
	}

	// Run the migration example against the test servers.
	env := needS3(t)
	needRclone(t)
	ra, rb := remote{"A", env.A}, remote{"B", env.B}
	legacy := newS3Bucket(t, env.A, "legacy-media")
	archive := newS3Bucket(t, env.B, "media-archive")
	src := filepath.Join(dir, "src")
	writeSeeded(t, filepath.Join(src, "photos", "2019", "beach.jpg"), "ex/beach", 300<<10)
	writeSeeded(t, filepath.Join(src, "photos", "2019", "big panorama.jpg"), "ex/pano", 20<<20)
	writeSeeded(t, filepath.Join(src, "photos", "tmp", "upload.jpg"), "ex/tmp", 1000)
	writeSeeded(t, filepath.Join(src, "videos", "clip.mp4"), "ex/clip", 5000)
	rclone(t, []remote{ra}, "copy", "--s3-upload-cutoff", "5Mi", "--s3-chunk-size", "5Mi", src, ra.path(legacy))

	runEnv := syncerEnv(
		"LEGACY_AWS_ACCESS_KEY_ID="+env.A.AccessKey, "LEGACY_AWS_SECRET_ACCESS_KEY="+env.A.SecretKey,
		"ARCHIVE_AWS_ACCESS_KEY_ID="+env.B.AccessKey, "ARCHIVE_AWS_SECRET_ACCESS_KEY="+env.B.SecretKey,
		"SYNCER_LOG=info",
		"SYNCER_VAR_legacy_bucket="+legacy, "SYNCER_VAR_legacy_endpoint="+env.A.Endpoint, "SYNCER_VAR_legacy_region=us-east-1",
		"SYNCER_VAR_archive_bucket="+archive, "SYNCER_VAR_archive_endpoint="+env.B.Endpoint, "SYNCER_VAR_archive_region=us-east-1",
		"SYNCER_VAR_archive_storage_class=STANDARD",
		"SYNCER_VAR_state_path="+filepath.Join(dir, "migration.db"),
	)
	cfg := filepath.Join(examples, "s3-to-s3-cross-account.hcl")
	res := runSyncer(t, dir, runEnv, "apply", "-auto-approve", "-config", cfg)
	checkNoSecrets(t, env, res)
	if res.Code != 0 {
		t.Fatalf("apply of the cross-account example against the test servers: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != 2 {
		t.Errorf("apply of the example: %s; want the 2 photos outside tmp/ created", line)
	}
	if !strings.Contains(res.Stderr, "streaming through syncer") {
		t.Errorf("the example's apply does not log that it streams\n%s", res)
	}
	want := []string{"photos/2019/beach.jpg", "photos/2019/big panorama.jpg"}
	got := rcloneList(t, rb, archive)
	if len(got) != len(want) {
		t.Errorf("archive holds %v; want %q (under photos/, *.jpg, not tmp/)", got, want)
	}
	for _, k := range want {
		w, _ := rcloneSHA256(t, ra, legacy, k)
		if have, _ := rcloneSHA256(t, rb, archive, k); have != w {
			t.Errorf("archive %s differs from the legacy bucket's", k)
		}
	}
	if res := runSyncer(t, dir, runEnv, "plan", "-detailed-exitcode", "-config", cfg); res.Code != 0 {
		t.Errorf("plan of the example after its apply: want exit 0\n%s", res)
	}

	// And the backup example, from the same folder to server A.
	backup := newS3Bucket(t, env.A, "my-backups")
	runEnv = syncerEnv(
		"BACKUP_AWS_ACCESS_KEY_ID="+env.A.AccessKey, "BACKUP_AWS_SECRET_ACCESS_KEY="+env.A.SecretKey,
		"SYNCER_VAR_source="+src, "SYNCER_VAR_bucket="+backup, "SYNCER_VAR_endpoint="+env.A.Endpoint,
		"SYNCER_VAR_region=us-east-1", "SYNCER_VAR_storage_class=STANDARD",
		"SYNCER_VAR_state_path="+filepath.Join(dir, "backup.db"),
	)
	cfg = filepath.Join(examples, "local-to-s3.hcl")
	res = runSyncer(t, dir, runEnv, "apply", "-auto-approve", "-config", cfg)
	checkNoSecrets(t, env, res)
	if res.Code != 0 {
		t.Fatalf("apply of the backup example against the test server: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != 4 {
		t.Errorf("apply of the backup example: %s; want the 4 files created", line)
	}
	for k := range rcloneList(t, ra, backup) {
		rel, ok := strings.CutPrefix(k, "laptop/")
		if !ok {
			t.Errorf("backup key %q is not under the backend's prefix laptop/", k)
			continue
		}
		want, _, _ := hashFile(filepath.Join(src, filepath.FromSlash(rel)), nil)
		if got, _ := rcloneSHA256(t, ra, backup, k); got != want {
			t.Errorf("backup %s differs from %s", k, rel)
		}
	}
	if res := runSyncer(t, dir, runEnv, "plan", "-detailed-exitcode", "-config", cfg); res.Code != 0 {
		t.Errorf("plan of the backup example after its apply: want exit 0\n%s", res)
	}
}

// TestS3ManyKeys: 1,100 keys list in two ListObjectsV2 pages, and removing
// them all from the source (delete = "managed") deletes them in two
// DeleteObjects batches of at most 1,000, not one request per key.
func TestS3ManyKeys(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	l := newLayout(t)
	const n = 1100
	genTree(t, l.Src, "many", n, 0, 64)
	bucket := newS3Bucket(t, env.A, "many")
	proxy, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	writeHCL(t, l.Config, l.State, []string{`max_delete = 2000`},
		localBlock("src", l.Src),
		s3Block{Name: "bucket", Srv: env.A, Endpoint: proxy.URL, Bucket: bucket}.hcl(env),
		syncBlock(syncName, "backend.local.src", "backend.s3.bucket", `delete = "managed"`))
	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != n {
		t.Errorf("apply: %s; want %d created", line, n)
	}
	if got := len(rcloneList(t, remote{"A", env.A}, bucket)); got != n {
		t.Errorf("bucket holds %d keys; want %d", got, n)
	}

	proxy.Reset()
	res = runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", l.Config)
	if res.Code != 0 {
		t.Errorf("plan after apply: want exit 0\n%s", res)
	}
	if got := proxy.Count("ListObjectsV2"); got != 2 {
		t.Errorf("listing %d keys took %d ListObjectsV2 requests; want 2 pages of up to 1,000", n, got)
	}

	if err := os.RemoveAll(l.Src); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(l.Src, 0o755); err != nil {
		t.Fatal(err)
	}
	proxy.Reset()
	res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply deleting everything: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Deleted != n {
		t.Errorf("apply: %s; want %d deleted", line, n)
	}
	counts := proxy.Counts()
	t.Logf("deleting %d keys: requests %v", n, counts)
	if counts["DeleteObjects"] != 2 || counts["DeleteObject"] != 0 {
		t.Errorf("deleting %d keys took %d DeleteObjects and %d DeleteObject requests; want 2 batches", n, counts["DeleteObjects"], counts["DeleteObject"])
	}
	if got := len(rcloneList(t, remote{"A", env.A}, bucket)); got != 0 {
		t.Errorf("bucket still holds %d keys", got)
	}
}
