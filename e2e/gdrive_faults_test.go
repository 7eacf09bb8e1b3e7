package e2e

// Google Drive end to end under stress: a storm of rate-limit answers, and
// kill -9 in the middle of a Drive -> S3 apply.

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"syncer/backends/gdrive/drivetest"
	"syncer/backends/s3/s3test"
)

// driveGenTree adds n files to a new folder of srv named name, in nested
// folders (dNN/eN/, as genTree lays them out), with sizes uniform in
// [minSize, maxSize] and deterministic content. It returns the folder, the
// expected keys and bytes, and the file ids by key.
func driveGenTree(t *testing.T, srv *drivetest.Server, name string, n, minSize, maxSize int) (string, want, map[string]string) {
	t.Helper()
	root := srv.Mkdir("", name)
	w := want{}
	ids := map[string]string{}
	folders := map[string]string{"": root}
	var folder func(path string) string
	folder = func(path string) string {
		if id, ok := folders[path]; ok {
			return id
		}
		parent, leaf := "", path
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			parent, leaf = path[:i], path[i+1:]
		}
		id := srv.Mkdir(folder(parent), leaf)
		folders[path] = id
		return id
	}
	for i := range n {
		dir := fmt.Sprintf("d%02d/e%d", i%23, i%5)
		fname := fmt.Sprintf("file-%05d.bin", i)
		size := minSize + (i*7919)%(maxSize-minSize+1)
		content := driveSeeded(name+"/"+fname, size)
		key := dir + "/" + fname
		ids[key] = srv.Add(drivetest.FileSpec{Name: fname, Parent: folder(dir), Content: content, Modified: driveT0.Add(time.Duration(i) * time.Minute)})
		w[key] = content
	}
	return root, w, ids
}

// TestGDriveRateLimitStorm: the fake answers 403 userRateLimitExceeded to
// about a third of the requests, up to a bounded count, while syncer copies
// 50 files from Drive to a local folder: the apply finishes (exit 0) with
// every file correct, and the log says it backed off, once per fault.
func TestGDriveRateLimitStorm(t *testing.T) {
	srv := newFakeDrive(t)
	l := newLayout(t)
	const files = 50
	const faults = 12
	folder, w, _ := driveGenTree(t, srv, "storm", files, 0, 48<<10)
	writeHCL(t, l.Config, l.State, nil,
		gdriveBlock{Name: "team", Srv: srv, Folder: folder}.hcl(),
		localBlock("dst", l.Dst),
		syncBlock("storm", "backend.gdrive.team", "backend.local.dst"))

	srv.ResetStats()
	srv.AddFault(drivetest.Fault{Status: http.StatusForbidden, Reason: "userRateLimitExceeded", Fraction: 1.0 / 3, Count: faults})
	res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	st := srv.Stats()
	backoffs := strings.Count(res.Stderr, driveBackoffLine)
	t.Logf("apply through the storm: exit %d in %.1fs; %d requests, %d answered 403 userRateLimitExceeded, %d backoffs logged; requests %v",
		res.Code, res.Elapsed.Seconds(), st.Requests, st.Faults, backoffs, st.ByKind)
	if res.Code != 0 {
		t.Fatalf("apply through a rate-limit storm: want exit 0\n%s", res)
	}
	if st.Faults != faults {
		t.Errorf("the fake injected %d faults; want all %d (the storm did not happen as planned)", st.Faults, faults)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != files {
		t.Errorf("apply: %s; want %d created", line, files)
	}
	if backoffs == 0 {
		t.Errorf("stderr never says %q\n%s", driveBackoffLine, res)
	} else if int64(backoffs) != st.Faults {
		t.Errorf("stderr logs %d backoffs; the fake rate-limited %d requests, each of which must be retried once", backoffs, st.Faults)
	}
	if !strings.Contains(res.Stderr, "userRateLimitExceeded") {
		t.Errorf("the backoff lines do not name the reason userRateLimitExceeded\n%s", res)
	}
	assertDirHolds(t, l.Dst, w)
	srv.ClearFaults()
	wantNoChanges(t, l.Base, l.Config, "after the storm")
}

// TestGDriveKillDuringApplyToS3 kills (SIGKILL) a bandwidth-limited
// Drive -> S3 apply of several hundred files once the state records some
// of them, then reruns it without the limit: it must finish (exit 0) with
// the bucket complete and byte for byte right, and copy nothing again that
// the state recorded as done before the kill — no PutObject/UploadPart for
// those keys (counted by a proxy in front of S3) and no download of their
// Drive files (seen by the fake).
func TestGDriveKillDuringApplyToS3(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	srv := newFakeDrive(t)
	l := newLayout(t)
	const files = 400
	folder, w, ids := driveGenTree(t, srv, "kill", files, 4<<10, 64<<10)
	var total int
	for _, b := range w {
		total += len(b)
	}
	t.Logf("Drive folder: %d files, %.1f MiB", files, float64(total)/(1<<20))
	keyByID := map[string]string{}
	for k, id := range ids {
		keyByID[id] = k
	}

	bucket := newS3Bucket(t, env.A, "gdrive-kill")
	proxy, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	var mu sync.Mutex
	written := map[string]int{} // key -> PutObject/UploadPart requests
	downloaded := map[string]int{}
	proxy.OnRequest = func(op string, r *http.Request) {
		if op != "PutObject" && op != "UploadPart" && op != "CreateMultipartUpload" {
			return
		}
		_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		mu.Lock()
		written[key]++
		mu.Unlock()
	}
	srv.SetHook(func(r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Query().Get("alt") != "media" {
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/drive/v3/files/")
		mu.Lock()
		downloaded[keyByID[id]]++
		mu.Unlock()
	})

	write := func(limits ...string) {
		writeHCL(t, l.Config, l.State, limits,
			gdriveBlock{Name: "team", Srv: srv, Folder: folder}.hcl(),
			s3Block{Name: "archive", Srv: env.A, Endpoint: proxy.URL, Bucket: bucket}.hcl(env),
			syncBlock("drive", "backend.gdrive.team", "backend.s3.archive"))
	}
	write(`bandwidth = "1MiB/s"`)

	p := startSyncer(t, l.Base, driveEnv(t), "apply", "-auto-approve", "-config", l.Config)
	const some = 40
	p.waitUntil(t, fmt.Sprintf("%d objects recorded in the state", some), waitGuard, func() bool {
		n, err := stateCount(l.State, `SELECT count(*) FROM objects`)
		return err == nil && n >= some
	})
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	first := p.wait(t, waitGuard)
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("first apply was not killed by SIGKILL (it finished first?): %s\n%s", p.cmd.ProcessState, first)
	}
	checkNoSecrets(t, env, first)

	recorded := recordedKeys(t, l.State, "drive")
	inBucket := rcloneList(t, remote{"A", env.A}, bucket)
	mu.Lock()
	t.Logf("killed after %.1fs: %d objects recorded in the state, %d in the bucket, %d keys written to, %d Drive files downloaded",
		first.Elapsed.Seconds(), len(recorded), len(inBucket), len(written), len(downloaded))
	written, downloaded = map[string]int{}, map[string]int{}
	mu.Unlock()
	if len(recorded) < some {
		t.Errorf("state records %d objects after the kill; it had at least %d before", len(recorded), some)
	}
	if len(recorded) >= files {
		t.Fatalf("all %d objects were recorded before the kill; it did not land mid-run", files)
	}
	for k := range recorded {
		if _, ok := inBucket[k]; !ok {
			t.Errorf("%q is recorded in the state but not in the bucket", k)
		}
	}

	proxy.Reset()
	write()
	second := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if second.Code != 0 {
		t.Fatalf("second apply: want exit 0\n%s", second)
	}
	sum, line := parseApplyComplete(t, second)
	mu.Lock()
	t.Logf("second apply (%.1fs): %s; %d keys written to, %d Drive files downloaded; S3 requests %v",
		second.Elapsed.Seconds(), line, len(written), len(downloaded), proxy.Counts())
	var again, reread []string
	for k := range recorded {
		if written[k] > 0 {
			again = append(again, k)
		}
		if downloaded[k] > 0 {
			reread = append(reread, k)
		}
	}
	mu.Unlock()
	sort.Strings(again)
	sort.Strings(reread)
	if len(again) > 0 {
		t.Errorf("the second apply wrote %d objects again that the state recorded as done before the kill, e.g. %q", len(again), again[:min(5, len(again))])
	}
	if len(reread) > 0 {
		t.Errorf("the second apply downloaded %d Drive files again that the state recorded as done before the kill, e.g. %q", len(reread), reread[:min(5, len(reread))])
	}
	if left := files - len(recorded); sum.Created+sum.Updated > left {
		t.Errorf("second apply: %s; only %d objects were not recorded after the kill", line, left)
	}
	if sum.Deleted != 0 {
		t.Errorf("second apply: %s; want nothing deleted", line)
	}

	// The whole bucket, byte for byte, as another client reads it.
	back := filepath.Join(l.Base, "bucket-copy")
	rclone(t, []remote{{"A", env.A}}, "copy", remote{"A", env.A}.path(bucket), back)
	assertDirHolds(t, back, w)
	if n := len(rcloneList(t, remote{"A", env.A}, bucket)); n != files {
		t.Errorf("bucket holds %d keys; want %d", n, files)
	}
	if got := recordedKeys(t, l.State, "drive"); len(got) != files {
		t.Errorf("state records %d objects after the second apply; want %d", len(got), files)
	}
	wantNoChanges(t, l.Base, l.Config, "after the resumed apply")
}
