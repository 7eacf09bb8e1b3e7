package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"syncer/backends/s3/s3test"
	"syncer/metrics/metricstest"
	"syncer/views/display"
)

// TestS3KillDuringMultipartThenResume kills a throttled apply with SIGKILL
// while it uploads a 200 MiB object in 8 MiB parts, once the state records
// a few finished parts; a second apply (unthrottled) must continue the same
// multipart upload, sending only the parts not recorded, and the object
// must come out whole. A proxy in front of the destination counts the
// requests. The source is a local file, then an object in another
// account's bucket (the cross-account migration: each part is a ranged GET).
func TestS3KillDuringMultipartThenResume(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	t.Run("local source", func(t *testing.T) { testKillResume(t, env, false) })
	t.Run("S3 source, other account", func(t *testing.T) { testKillResume(t, env, true) })
}

func testKillResume(t *testing.T, env *s3test.Env, fromS3 bool) {
	l := newLayout(t)
	const size = 200 << 20
	const partSize = 8 << 20
	const totalParts = size / partSize // 25
	big := genPartedFile(t, filepath.Join(l.Src, "video/raw take 1.mov"), "s3-resume", size, partSize)
	bucket := newS3Bucket(t, env.A, "resume")
	proxy, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()

	from, source := "backend.local.src", localBlock("src", l.Src)
	if fromS3 {
		rb := remote{"B", env.B}
		legacy := newS3Bucket(t, env.B, "resume-legacy")
		rclone(t, []remote{rb}, "copy", l.Src, rb.path(legacy))
		from, source = "backend.s3.legacy", s3Block{Name: "legacy", Srv: env.B, Bucket: legacy}.hcl(env)
	}
	write := func(limits ...string) {
		writeHCL(t, l.Config, l.State, limits, source,
			s3Block{Name: "bucket", Srv: env.A, Endpoint: proxy.URL, Bucket: bucket, PartSize: "8MiB"}.hcl(env),
			syncBlock(syncName, from, "backend.s3.bucket"))
	}
	write(`bandwidth = "8MiB/s"`) // 25 s for the whole file

	p := startSyncer(t, l.Base, s3SyncerEnv(env), "apply", "-auto-approve", "-config", l.Config)
	p.waitUntil(t, "3 parts recorded in the state", waitGuard, func() bool {
		n, err := stateCount(l.State, `SELECT count(*) FROM upload_parts`)
		return err == nil && n >= 3
	})
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	first := p.wait(t, waitGuard)
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("first apply was not killed by SIGKILL (it finished first?): %s\n%s", p.cmd.ProcessState, first)
	}
	checkNoSecrets(t, env, first)

	recorded := mustStateCount(t, l.State, `SELECT count(*) FROM upload_parts`)
	sentBefore := proxy.Count("UploadPart")
	t.Logf("killed after %.1fs: %d of %d parts recorded in the state, %d UploadPart requests seen", first.Elapsed.Seconds(), recorded, totalParts, sentBefore)
	if recorded >= totalParts {
		t.Fatalf("all %d parts were recorded before the kill; it did not land mid-upload", totalParts)
	}
	if n := mustStateCount(t, l.State, `SELECT count(*) FROM uploads`); n != 1 {
		t.Errorf("state records %d multipart uploads after the kill; want 1", n)
	}
	if n := mustStateCount(t, l.State, `SELECT count(*) FROM objects`); n != 0 {
		t.Errorf("state records %d finished objects after the kill; want 0", n)
	}
	// No partial object is visible while the upload is unfinished.
	if _, _, err := headObject(t, env.A, bucket, "video/raw take 1.mov"); err == nil {
		t.Errorf("the object is visible in the bucket before its upload completed")
	}
	if ups := multipartUploads(t, env.A, bucket); len(ups) != 1 {
		t.Errorf("server has multipart uploads %q in progress after the kill; want the one", ups)
	}

	proxy.Reset()
	write()
	gw := metricstest.Pushgateway(t)
	report := filepath.Join(l.Base, "report.json")
	second := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config, "-json", "-report", report, "-metrics-push", "http://"+gw)
	if second.Code != 0 {
		t.Fatalf("second apply: want exit 0\n%s", second)
	}
	counts := proxy.Counts()
	up, _ := proxy.Bytes()
	t.Logf("resumed apply (%.1fs): %d UploadPart requests (%.0f MiB up) for %d parts, %d recorded before; requests %v",
		second.Elapsed.Seconds(), counts["UploadPart"], float64(up)/(1<<20), totalParts, recorded, counts)
	// The summary, the object's line, the report and the metrics count
	// the bytes of the parts this run sent, not the object's size.
	checkTransferred(t, second, report, metricstest.Scrape(t, gw), "video/raw take 1.mov", size, int64(counts["UploadPart"])*partSize)
	if counts["UploadPart"] >= totalParts {
		t.Errorf("the resumed apply sent %d parts of %d: it started over", counts["UploadPart"], totalParts)
	}
	if counts["UploadPart"] > totalParts-recorded {
		t.Errorf("the resumed apply sent %d parts; only %d (of %d) were not recorded as finished", counts["UploadPart"], totalParts-recorded, totalParts)
	}
	if counts["CreateMultipartUpload"] != 0 {
		t.Errorf("the resumed apply created %d new multipart uploads; want it to continue the recorded one", counts["CreateMultipartUpload"])
	}
	if counts["ListParts"] == 0 {
		t.Errorf("the resumed apply never listed the upload's parts")
	}
	if most := int64(totalParts-recorded) * partSize; up > most+(1<<20) {
		t.Errorf("the resumed apply sent %d bytes; the parts not recorded hold at most %d", up, most)
	}

	n, etag, err := headObject(t, env.A, bucket, "video/raw take 1.mov")
	if err != nil || n != size || etag != big.ETag {
		t.Errorf("object: %d bytes, ETag %q (err %v); want %d bytes, ETag %s (md5s of the file's 8 MiB parts)", n, etag, err, int64(size), big.ETag)
	}
	if sum, n := rcloneSHA256(t, remote{"A", env.A}, bucket, "video/raw take 1.mov"); n != size || sum != big.SHA256 {
		t.Errorf("object read by rclone: %d bytes, sha256 %s; the file: %s", n, sum, big.SHA256)
	}
	for _, table := range []string{"uploads", "upload_parts"} {
		if n := mustStateCount(t, l.State, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("state table %s has %d rows after the resumed apply; want 0", table, n)
		}
	}
	if ups := multipartUploads(t, env.A, bucket); len(ups) != 0 {
		t.Errorf("server still has multipart uploads in progress: %q", ups)
	}
	if res := runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", l.Config); res.Code != 0 {
		t.Errorf("plan after the resumed apply: want exit 0\n%s", res)
	}
}

// TestS3Faults runs apply through a proxy that answers 503 SlowDown, drops
// connections after forwarding, and cuts responses halfway, on about a
// quarter of the requests (never more than 2 in a row for one request):
// local -> S3 of 50 files with a multipart one, S3 -> local, and S3 -> S3
// across accounts (faults on both sides) all finish with every object
// correct.
func TestS3Faults(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	l := newLayout(t)
	genTree(t, l.Src, "faults", 49, 0, 64<<10)
	writeSeeded(t, filepath.Join(l.Src, "multi part.bin"), "faults/multipart", 23<<20) // 5 parts of 5 MiB
	const files = 50
	bucket := newS3Bucket(t, env.A, "faults")
	proxy, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.SetFaults(s3test.Faults{SlowDown: 0.10, Reset: 0.10, Cut: 0.05, MaxInARow: 2, Seed: 3})

	s3b := s3Block{Name: "bucket", Srv: env.A, Endpoint: proxy.URL, Bucket: bucket, PartSize: "5MiB"}.hcl(env)
	up := filepath.Join(l.Base, "up.hcl")
	writeHCL(t, up, filepath.Join(l.Base, "up.db"), nil,
		localBlock("src", l.Src), s3b, syncBlock("up", "backend.local.src", "backend.s3.bucket"))
	down := filepath.Join(l.Base, "down.hcl")
	writeHCL(t, down, filepath.Join(l.Base, "down.db"), nil,
		s3b, localBlock("dst", l.Dst), syncBlock("down", "backend.s3.bucket", "backend.local.dst"))

	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", up)
	t.Logf("local -> S3 through faults: exit %d in %.1fs, %d faults injected; requests %v", res.Code, res.Elapsed.Seconds(), proxy.Injected(), proxy.Counts())
	if res.Code != 0 {
		t.Fatalf("apply local -> S3 through faults: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != files {
		t.Errorf("apply: %s; want %d created", line, files)
	}
	if proxy.Injected() == 0 {
		t.Errorf("no fault was injected; the test tested nothing")
	}
	// Checked directly against the server, not through the proxy.
	if n := assertBucketMatchesDir(t, remote{"A", env.A}, bucket, l.Src); n != files {
		t.Errorf("compared %d keys; want %d", n, files)
	}
	// A CreateMultipartUpload whose response was lost leaves an upload
	// syncer never learned of (TestS3LostCreateMultipartUploadResponse
	// checks that case deterministically); just report it here.
	if ups := multipartUploads(t, env.A, bucket); len(ups) != 0 {
		t.Logf("multipart uploads left in progress: %q", ups)
	}

	proxy.Reset()
	res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", down)
	t.Logf("S3 -> local through faults: exit %d in %.1fs, %d faults injected; requests %v", res.Code, res.Elapsed.Seconds(), proxy.Injected(), proxy.Counts())
	if res.Code != 0 {
		t.Fatalf("apply S3 -> local through faults: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != files {
		t.Errorf("apply: %s; want %d created", line, files)
	}
	if proxy.Injected() == 0 {
		t.Errorf("no fault was injected; the test tested nothing")
	}
	assertTreesEqual(t, l.Src, l.Dst)

	// S3 -> S3 across accounts with faults on both sides: each part of
	// the multipart object is a ranged read of the source, streamed into
	// UploadPart.
	proxyB, err := s3test.NewProxy(env.B.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxyB.Close()
	proxyB.SetFaults(s3test.Faults{SlowDown: 0.10, Reset: 0.10, Cut: 0.05, MaxInARow: 2, Seed: 5})
	proxy.Reset()
	archive := newS3Bucket(t, env.B, "faults-archive")
	cross := filepath.Join(l.Base, "cross.hcl")
	writeHCL(t, cross, filepath.Join(l.Base, "cross.db"), nil, s3b,
		s3Block{Name: "archive", Srv: env.B, Endpoint: proxyB.URL, Bucket: archive, PartSize: "5MiB"}.hcl(env),
		syncBlock("cross", "backend.s3.bucket", "backend.s3.archive"))
	res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", cross)
	t.Logf("S3 -> S3 across accounts through faults: exit %d in %.1fs, %d + %d faults injected; source requests %v, destination requests %v",
		res.Code, res.Elapsed.Seconds(), proxy.Injected(), proxyB.Injected(), proxy.Counts(), proxyB.Counts())
	if res.Code != 0 {
		t.Fatalf("apply S3 -> S3 through faults: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != files {
		t.Errorf("apply: %s; want %d created", line, files)
	}
	if proxy.Injected() == 0 || proxyB.Injected() == 0 {
		t.Errorf("faults injected: %d on the source side, %d on the destination side; want some on both", proxy.Injected(), proxyB.Injected())
	}
	if n := assertBucketMatchesDir(t, remote{"B", env.B}, archive, l.Src); n != files {
		t.Errorf("compared %d keys; want %d", n, files)
	}
	if ups := multipartUploads(t, env.B, archive); len(ups) != 0 {
		t.Logf("multipart uploads left in progress: %q", ups)
	}

	for _, c := range []string{up, down, cross} {
		res := runS3Syncer(t, env, l.Base, "plan", "-detailed-exitcode", "-config", c)
		if res.Code != 0 || !strings.Contains(res.Stdout, "No changes.") {
			t.Errorf("plan %s through faults after apply: want exit 0, No changes.\n%s", filepath.Base(c), res)
		}
	}
}

// TestS3LostCreateMultipartUploadResponse: the store creates a multipart
// upload but the connection drops before its response arrives, so the
// client retries and works with a second upload. The first one was
// started by syncer, holds no parts, and no journal names it; a successful
// apply (and certainly the next one) must not leave it open on the store,
// where it would stay forever (and, on AWS, be billed for its parts).
func TestS3LostCreateMultipartUploadResponse(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	l := newLayout(t)
	writeSeeded(t, filepath.Join(l.Src, "clip.mp4"), "lost-create", 12<<20) // 3 parts of 5 MiB
	bucket := newS3Bucket(t, env.A, "lostcreate")
	proxy, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	// Forward the first CreateMultipartUpload, then drop the connection.
	proxy.SetFaults(s3test.Faults{Reset: 1, MaxInARow: 1, Only: []string{"CreateMultipartUpload"}})
	writeHCL(t, l.Config, l.State, nil,
		localBlock("src", l.Src),
		s3Block{Name: "bucket", Srv: env.A, Endpoint: proxy.URL, Bucket: bucket, PartSize: "5MiB"}.hcl(env),
		syncBlock(syncName, "backend.local.src", "backend.s3.bucket"))

	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	t.Logf("apply: exit %d, %d faults injected, requests %v", res.Code, proxy.Injected(), proxy.Counts())
	if res.Code != 0 {
		t.Fatalf("apply: want exit 0\n%s", res)
	}
	if proxy.Injected() != 1 || proxy.Count("CreateMultipartUpload") != 2 {
		t.Fatalf("precondition: want one dropped CreateMultipartUpload response and a retry; %d faults, requests %v", proxy.Injected(), proxy.Counts())
	}
	if n := assertBucketMatchesDir(t, remote{"A", env.A}, bucket, l.Src); n != 1 {
		t.Errorf("compared %d keys; want 1", n)
	}
	if ups := multipartUploads(t, env.A, bucket); len(ups) != 0 {
		t.Logf("after the apply, uploads in progress: %q", ups)
	}
	res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("second apply (nothing to do): want exit 0\n%s", res)
	}
	if ups := multipartUploads(t, env.A, bucket); len(ups) != 0 {
		t.Errorf("after two successful applies, the store still has the multipart upload(s) %q that syncer started and lost track of", ups)
	}
}

// checkTransferred checks that a one-object apply run with -json, -report
// and -metrics-push counts sent bytes as transferred, everywhere it
// reports them: the change_summary (and its text), the object's
// apply_complete, the report's totals and sync, syncer_bytes_total.
func checkTransferred(t *testing.T, res result, reportPath string, metrics []byte, key string, size, sent int64) {
	t.Helper()
	var sum, obj map[string]any
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stdout line %q: %v", line, err)
		}
		switch {
		case m["type"] == "change_summary" && m["operation"] == "apply":
			sum = m
		case m["type"] == "apply_complete" && m["key"] == key:
			obj = m
		}
	}
	if sum == nil || obj == nil {
		t.Fatalf("no change_summary or apply_complete of %q\n%s", key, res)
	}
	num := func(m map[string]any, f string) int64 { v, _ := m[f].(float64); return int64(v) }
	if num(sum, "bytes") != size || num(sum, "bytes_transferred") != sent || num(sum, "created") != 1 {
		t.Errorf("change_summary: created %d, bytes %d, bytes_transferred %d; want 1, %d, %d", num(sum, "created"), num(sum, "bytes"), num(sum, "bytes_transferred"), size, sent)
	}
	if msg, _ := sum["message"].(string); !strings.Contains(msg, ", "+display.Bytes(sent)+" in ") {
		t.Errorf("summary %q does not show the %s sent", msg, display.Bytes(sent))
	}
	if num(obj, "bytes") != size || num(obj, "bytes_transferred") != sent {
		t.Errorf("apply_complete: bytes %d, bytes_transferred %d; want %d, %d", num(obj, "bytes"), num(obj, "bytes_transferred"), size, sent)
	}
	var rep struct {
		Totals struct {
			Bytes            int64 `json:"bytes"`
			BytesTransferred int64 `json:"bytes_transferred"`
		} `json:"totals"`
		Syncs []struct {
			Sync             string `json:"sync"`
			Bytes            int64  `json:"bytes"`
			BytesTransferred int64  `json:"bytes_transferred"`
		} `json:"syncs"`
	}
	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, b)
	}
	if rep.Totals.Bytes != size || rep.Totals.BytesTransferred != sent {
		t.Errorf("report totals: bytes %d, bytes_transferred %d; want %d, %d", rep.Totals.Bytes, rep.Totals.BytesTransferred, size, sent)
	}
	if len(rep.Syncs) != 1 || rep.Syncs[0].Bytes != size || rep.Syncs[0].BytesTransferred != sent {
		t.Errorf("report syncs: %+v; want one with bytes %d, bytes_transferred %d", rep.Syncs, size, sent)
	}
	// The text format prints a float; compare its value.
	prefix := `syncer_bytes_total{instance="",job="syncer",operation="apply",result="created",shard="all",sync="` + syncName + `"} `
	var got []string
	for _, l := range strings.Split(string(metrics), "\n") {
		if strings.HasPrefix(l, "syncer_bytes_total{") {
			got = append(got, l)
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], prefix) {
		t.Fatalf("syncer_bytes_total: %q; want one series %s", got, prefix)
	}
	if v, err := strconv.ParseFloat(strings.TrimPrefix(got[0], prefix), 64); err != nil || int64(v) != sent {
		t.Errorf("%s: want %d", got[0], sent)
	}
}
