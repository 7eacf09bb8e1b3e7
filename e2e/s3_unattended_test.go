package e2e

// Unattended runs (issue 12) against the test S3 server: time-boxed CI
// runs from fresh folders that together finish a sync, kill -9 between
// checkpoints, limits.duration with a 2 GiB upload in flight, and what a
// run uploads of the remote state. Proxies in front of the server count
// the writes: each destination key must be written exactly once.

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends/s3/s3test"
)

// ciRig is a local source synced to a bucket behind a proxy, with the
// state in another bucket behind another proxy.
type ciRig struct {
	env         *s3test.Env
	src         string
	stateBucket string
	dstBucket   string
	stateProxy  *s3test.Proxy
	dstProxy    *s3test.Proxy
	stateBlock  string   // extra lines of the state block
	limits      []string // lines of the limits block
	partSize    string

	mu     sync.Mutex
	writes map[string]int // successful writes per destination key
	parts  []int          // UploadPart numbers sent, in order
}

func newCIRig(t *testing.T, what string) *ciRig {
	t.Helper()
	env := needS3(t)
	r := &ciRig{env: env, src: filepath.Join(t.TempDir(), "src"), writes: map[string]int{},
		stateBucket: newS3Bucket(t, env.A, what+"-state"), dstBucket: newS3Bucket(t, env.A, what+"-dst")}
	if err := os.MkdirAll(r.src, 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.stateProxy, err = s3test.NewProxy(env.A.Endpoint); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stateProxy.Close)
	if r.dstProxy, err = s3test.NewProxy(env.A.Endpoint); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.dstProxy.Close)
	// A write whose client was killed still reaches the server, and is
	// counted.
	r.dstProxy.SetDetached(true)
	r.dstProxy.SetOnResponse(func(op string, req *http.Request, status int) {
		if status/100 != 2 {
			return
		}
		key, ok := strings.CutPrefix(req.URL.Path, "/"+r.dstBucket+"/")
		if !ok {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		switch op {
		case "PutObject", "CopyObject", "CompleteMultipartUpload":
			r.writes[key]++
		case "UploadPart":
			n, _ := strconv.Atoi(req.URL.Query().Get("partNumber"))
			r.parts = append(r.parts, n)
		}
	})
	return r
}

// slowPuts makes the destination proxy hold each PutObject for d before
// forwarding it: with one worker, a run writes at most one object per d.
func (r *ciRig) slowPuts(d time.Duration) {
	r.dstProxy.SetOnRequest(func(op string, _ *http.Request) {
		if op == "PutObject" {
			time.Sleep(d)
		}
	})
}

func (r *ciRig) writeCounts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]int, len(r.writes))
	for k, v := range r.writes {
		m[k] = v
	}
	return m
}

func (r *ciRig) written() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes)
}

func (r *ciRig) sentParts() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.parts)
}

// folder is a fresh, empty working folder with its own cache folder and
// the config (limits as given, replacing r.limits when non-nil).
func (r *ciRig) folder(t *testing.T, limits ...string) string {
	t.Helper()
	dir := t.TempDir()
	if limits == nil {
		limits = r.limits
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "state {\n  backend = backend.s3.ops\n  key = %q\n%s}\n\n", remoteStateKey, r.stateBlock)
	if len(limits) > 0 {
		sb.WriteString("limits {\n  " + strings.Join(limits, "\n  ") + "\n}\n")
	}
	sb.WriteString(s3Block{Name: "ops", Srv: r.env.A, Endpoint: r.stateProxy.URL, Bucket: r.stateBucket, Prefix: "team/"}.hcl(r.env))
	sb.WriteString(localBlock("src", r.src))
	sb.WriteString(s3Block{Name: "dst", Srv: r.env.A, Endpoint: r.dstProxy.URL, Bucket: r.dstBucket, PartSize: r.partSize}.hcl(r.env))
	sb.WriteString(syncBlock("media", "backend.local.src", "backend.s3.dst", `delete = "managed"`))
	if err := os.WriteFile(filepath.Join(dir, "syncer.hcl"), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (r *ciRig) envFor(dir string) []string {
	return s3SyncerEnv(r.env, "SYNCER_CACHE_DIR="+filepath.Join(dir, ".cache"))
}

func (r *ciRig) run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	res := runSyncer(t, dir, r.envFor(dir), args...)
	checkNoSecrets(t, r.env, res)
	return res
}

// pull writes the remote state to a file (from a fresh folder) and
// returns its path.
func (r *ciRig) pull(t *testing.T) string {
	t.Helper()
	dir := r.folder(t)
	res := r.run(t, dir, "state", "pull")
	mustCode(t, "state pull", res, 0)
	path := filepath.Join(dir, "pulled.db")
	writeFile(t, path, []byte(res.Stdout))
	return path
}

// lockLeft reports whether the state's lock object exists.
func (r *ciRig) lockLeft(t *testing.T) bool {
	t.Helper()
	_, _, err := headObject(t, r.env.A, r.stateBucket, "team/"+remoteStateKey+".lock")
	return err == nil
}

// assertWrittenOnce checks that every file below r.src was written to the
// destination exactly once, and nothing else was written.
func (r *ciRig) assertWrittenOnce(t *testing.T) {
	t.Helper()
	counts := r.writeCounts()
	n := 0
	filepath.WalkDir(r.src, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(r.src, p)
		key := filepath.ToSlash(rel)
		if c := counts[key]; c != 1 {
			t.Errorf("%s was written %d times to the destination; want once", key, c)
		}
		delete(counts, key)
		n++
		return nil
	})
	for k, c := range counts {
		t.Errorf("%s, not in the source, was written %d times", k, c)
	}
	if n == 0 {
		t.Error("no source files")
	}
}

// stateObjectRows returns the objects table of a state file, without the
// times of the writes, one line per row in key order.
func stateObjectRows(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT sync, key, src_size, src_mtime, src_etag, src_md5, dst_size, dst_mtime, dst_etag, dst_md5
		FROM objects ORDER BY sync, key`)
	if err != nil {
		t.Fatalf("state %s: %v", path, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sync, key, srcETag, srcMD5, dstETag, dstMD5 string
		var srcSize, srcMtime, dstSize, dstMtime int64
		if err := rows.Scan(&sync, &key, &srcSize, &srcMtime, &srcETag, &srcMD5, &dstSize, &dstMtime, &dstETag, &dstMD5); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s src=%d/%d/%q/%q dst=%d/%d/%q/%q", sync, key, srcSize, srcMtime, srcETag, srcMD5, dstSize, dstMtime, dstETag, dstMD5))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Three CI runs in sequence, each from a fresh, empty folder and each cut
// short by limits.duration, then runs until one completes: together they
// finish the sync, each object is written to the destination exactly once,
// and the final state is the one an uninterrupted run makes.
func TestRemoteStateCIRunsInSequence(t *testing.T) {
	needRclone(t)
	const files = 48
	const perPut = 250 * time.Millisecond // one worker: 12 s for all, at least
	r := newCIRig(t, "ci")
	r.stateBlock = "  checkpoint = \"1s\"\n"
	r.limits = []string{"workers = 1", `duration = "3s"`} // each run writes at most 12
	genTree(t, r.src, "ci-runs", files, 4<<10, 32<<10)
	r.slowPuts(perPut)

	for i := range 3 {
		res := r.run(t, r.folder(t), "apply", "-auto-approve", "-grace", "20s")
		t.Logf("run %d: exit %d in %.1fs, %d of %d objects written so far", i+1, res.Code, res.Elapsed.Seconds(), r.written(), files)
		// "duration": the deadline may land before apply began, on a
		// machine slow enough.
		mustCode(t, fmt.Sprintf("time-boxed run %d", i+1), res, 130, "duration")
		if r.lockLeft(t) {
			t.Errorf("run %d left its lock", i+1)
		}
	}
	if r.written() >= files {
		t.Fatalf("precondition: the three time-boxed runs wrote all %d objects", files)
	}
	for i := 0; ; i++ {
		if i == 5 {
			t.Fatalf("no run completed the sync; %d of %d objects written", r.written(), files)
		}
		res := r.run(t, r.folder(t, "workers = 1"), "apply", "-auto-approve")
		t.Logf("unbounded run %d: exit %d in %.1fs", i+1, res.Code, res.Elapsed.Seconds())
		if res.Code == 0 {
			break
		}
		mustCode(t, "run without a duration", res, 130)
	}
	r.assertWrittenOnce(t)
	if n := assertBucketMatchesDir(t, remote{"A", r.env.A}, r.dstBucket, r.src); n != files {
		t.Errorf("compared %d keys; want %d", n, files)
	}
	got := r.pull(t)
	for _, table := range []string{"uploads", "upload_parts", "pending"} {
		if n := stateCountIn(t, got, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("final state: %d rows in %s", n, table)
		}
	}
	mustCode(t, "plan after", r.run(t, r.folder(t), "plan", "-detailed-exitcode"), 0, "No changes.")

	// One uninterrupted run of the same source to other buckets.
	ref := newCIRig(t, "ci-ref")
	ref.src = r.src
	mustCode(t, "uninterrupted run", ref.run(t, ref.folder(t), "apply", "-auto-approve"), 0, fmt.Sprintf("%d created", files))
	want := stateObjectRows(t, ref.pull(t))
	if have := stateObjectRows(t, got); !slices.Equal(have, want) {
		t.Errorf("the objects of the final state differ from an uninterrupted run's:\n got %d rows: %s\nwant %d rows: %s",
			len(have), strings.Join(have, "\n  "), len(want), strings.Join(want, "\n  "))
	}
}

// kill -9 between checkpoints, then apply: what the killed run wrote after
// the last checkpoint is adopted, not copied again; the working copy it
// left is swept; managed deletes work on adopted objects.
func TestRemoteStateKillBetweenCheckpoints(t *testing.T) {
	needRclone(t)
	r := newCIRig(t, "kill")
	r.stateBlock = "  checkpoint = \"10m\"\n  lock_ttl = \"3s\"\n" // no checkpoint during a run
	r.limits = []string{"workers = 1"}
	genTree(t, r.src, "kill-first", 6, 1<<10, 8<<10)
	mustCode(t, "first apply", r.run(t, r.folder(t), "apply", "-auto-approve"), 0, "6 created")

	for i := range 30 {
		writeSeeded(t, filepath.Join(r.src, "later", fmt.Sprintf("f%02d.bin", i)), fmt.Sprintf("kill-later/%d", i), 4<<10+i)
	}
	r.slowPuts(300 * time.Millisecond)
	one := r.folder(t)
	p := startSyncer(t, one, r.envFor(one), "apply", "-auto-approve")
	p.waitUntil(t, "5 new objects written", waitGuard, func() bool { return r.written() >= 6+5 })
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, time.Minute)
	waitIdle(t, r.dstProxy)
	written := r.written()
	recorded := stateCountIn(t, r.pull(t), `SELECT count(*) FROM objects`)
	t.Logf("killed with %d objects written, %d recorded in the remote state", written, recorded)
	if recorded != 6 || written <= recorded || written >= 36 {
		t.Fatalf("precondition: want the 6 first objects recorded and some, not all, of the 30 new ones written; %d recorded, %d written", recorded, written)
	}
	if left, _ := filepath.Glob(filepath.Join(one, ".cache", "state", "*")); len(left) == 0 {
		t.Fatal("precondition: the killed run left no working copy")
	}

	// In the same folder: the dead run's working copy is swept.
	r.slowPuts(0)
	res := r.run(t, one, "apply", "-auto-approve", "-lock-timeout", "1m")
	mustCode(t, "apply after kill -9", res, 0, "took over a stale state lock", fmt.Sprintf("%d to adopt", written-6), "(already in place)")
	r.assertWrittenOnce(t)
	assertBucketMatchesDir(t, remote{"A", r.env.A}, r.dstBucket, r.src)
	if left, _ := filepath.Glob(filepath.Join(one, ".cache", "state", "*")); len(left) > 0 {
		t.Errorf("working copies left in the cache folder: %v", left)
	}

	// A source delete of an adopted object is deleted under "managed".
	var adopted string
	for k := range r.writeCounts() {
		if strings.HasPrefix(k, "later/") && k < "later/f05" {
			adopted = k
		}
	}
	if adopted == "" {
		t.Fatal("no adopted key among the first ones written")
	}
	if err := os.Remove(filepath.Join(r.src, filepath.FromSlash(adopted))); err != nil {
		t.Fatal(err)
	}
	mustCode(t, "apply after a source delete", r.run(t, r.folder(t), "apply", "-auto-approve"), 0, "1 deleted")
	if _, _, err := headObject(t, r.env.A, r.dstBucket, adopted); err == nil {
		t.Errorf("%s, deleted from the source, is still at the destination", adopted)
	}
	assertBucketMatchesDir(t, remote{"A", r.env.A}, r.dstBucket, r.src)
}

// The remote state object lost: the next apply, from a fresh folder,
// adopts every object in place without writing it, and managed deletes
// work again.
func TestRemoteStateObjectLost(t *testing.T) {
	needRclone(t)
	r := newCIRig(t, "lost")
	genTree(t, r.src, "lost", 12, 1<<10, 8<<10)
	mustCode(t, "first apply", r.run(t, r.folder(t), "apply", "-auto-approve"), 0, "12 created")
	c, err := r.env.A.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(r.stateBucket), Key: aws.String("team/" + remoteStateKey)}); err != nil {
		t.Fatal(err)
	}
	mustCode(t, "plan without a state", r.run(t, r.folder(t), "plan"), 0, "12 to adopt", "the state records nothing for this sync yet")
	mustCode(t, "apply without a state", r.run(t, r.folder(t), "apply", "-auto-approve"), 0, "0 created", "12 to adopt")
	r.assertWrittenOnce(t)
	if n := stateCountIn(t, r.pull(t), `SELECT count(*) FROM objects`); n != 12 {
		t.Errorf("the new state records %d objects; want 12", n)
	}
	victim := "d03/e3/file-00003.bin"
	if err := os.Remove(filepath.Join(r.src, filepath.FromSlash(victim))); err != nil {
		t.Fatal(err)
	}
	mustCode(t, "apply after a source delete", r.run(t, r.folder(t), "apply", "-auto-approve"), 0, "1 deleted")
	if _, _, err := headObject(t, r.env.A, r.dstBucket, victim); err == nil {
		t.Errorf("%s, deleted from the source, is still at the destination", victim)
	}
	assertBucketMatchesDir(t, remote{"A", r.env.A}, r.dstBucket, r.src)
}

// An apply whose final state upload fails keeps a copy of the state in
// the cache folder, names it, and state push uploads it later.
func TestRemoteStateFailedUploadKeepsCopy(t *testing.T) {
	r := newCIRig(t, "unsaved")
	var refuse atomic.Bool
	stateKey := "/" + r.stateBucket + "/team/" + remoteStateKey
	r.stateProxy.Fail = func(op string, req *http.Request) (int, string) {
		if refuse.Load() && op == "PutObject" && req.URL.Path == stateKey {
			return http.StatusForbidden, "AccessDenied"
		}
		return 0, ""
	}
	genTree(t, r.src, "unsaved", 3, 1<<10, 2<<10)
	mustCode(t, "first apply", r.run(t, r.folder(t), "apply", "-auto-approve"), 0, "3 created")

	writeFile(t, filepath.Join(r.src, "new.txt"), []byte("new"))
	refuse.Store(true)
	dir := r.folder(t)
	res := r.run(t, dir, "apply", "-auto-approve")
	mustCode(t, "apply whose upload fails", res, 1, "access denied", "syncer state push")
	kept, _ := filepath.Glob(filepath.Join(dir, ".cache", "state", "*.unsaved-*.db"))
	if len(kept) != 1 {
		t.Fatalf("kept copies: %v\n%s", kept, res)
	}
	if !strings.Contains(res.Stderr, kept[0]) {
		t.Errorf("stderr does not name the kept copy %s\n%s", kept[0], res)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".cache", "state", "*")); len(left) != 1 {
		t.Errorf("the cache folder holds %v; want only the kept copy", left)
	}

	refuse.Store(false)
	mustCode(t, "push of the kept copy", r.run(t, dir, "state", "push", kept[0]), 0, "Pushed")
	if n := stateCountIn(t, r.pull(t), `SELECT count(*) FROM objects WHERE key = 'new.txt'`); n != 1 {
		t.Errorf("after the push the remote state records new.txt %d times", n)
	}
	mustCode(t, "plan after", r.run(t, r.folder(t), "plan", "-detailed-exitcode"), 0, "No changes.")
}

// An apply that changes nothing does not upload the state (it still
// renews its lock); one that changes something does.
func TestRemoteStateNoChangeUploadsNothing(t *testing.T) {
	r := newCIRig(t, "nochange")
	genTree(t, r.src, "nochange", 3, 1<<10, 2<<10)
	mustCode(t, "first apply", r.run(t, r.folder(t), "apply", "-auto-approve"), 0, "3 created")
	stateKey := "/" + r.stateBucket + "/team/" + remoteStateKey
	var mu sync.Mutex
	puts := map[string]int{}
	r.stateProxy.SetOnRequest(func(op string, req *http.Request) {
		if op == "PutObject" {
			mu.Lock()
			puts[req.URL.Path]++
			mu.Unlock()
		}
	})
	count := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return puts[path]
	}
	_, etag, _ := headObject(t, r.env.A, r.stateBucket, "team/"+remoteStateKey)

	mustCode(t, "apply without changes", r.run(t, r.folder(t), "apply", "-auto-approve"), 0, "0 created, 0 updated, 0 deleted")
	if n := count(stateKey); n != 0 {
		t.Errorf("an apply without changes uploaded the state %d times", n)
	}
	if n := count(stateKey + ".lock"); n < 2 {
		t.Errorf("the lock was written %d times; want its creation and a renewal", n)
	}
	if _, now, _ := headObject(t, r.env.A, r.stateBucket, "team/"+remoteStateKey); now != etag {
		t.Error("the state object changed")
	}

	writeFile(t, filepath.Join(r.src, "new.txt"), []byte("new"))
	mustCode(t, "apply with a change", r.run(t, r.folder(t), "apply", "-auto-approve"), 0, "1 created")
	if n := count(stateKey); n == 0 {
		t.Error("an apply that created an object did not upload the state")
	}
	mustCode(t, "plan after", r.run(t, r.folder(t), "plan", "-detailed-exitcode"), 0, "No changes.")
}

// limits.duration with a 2 GiB upload in flight: the run exits 130 with
// the parts sent so far recorded in the remote state; the next run, from
// a fresh folder, continues that multipart upload without sending a
// recorded part again, and the object comes out byte for byte.
func TestRemoteStateDurationMultipart2GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 2 GiB upload")
	}
	needRclone(t)
	const size = 2 << 30
	const partSize = 16 << 20
	const totalParts = size / partSize // 128
	r := newCIRig(t, "dur2g")
	r.partSize = "16MiB"
	r.stateBlock = "  checkpoint = \"2s\"\n"
	// At 64 MiB/s the upload takes over 30 s; the deadline is 8 s in.
	r.limits = []string{"workers = 1", `bandwidth = "64MiB/s"`, `duration = "8s"`}
	requireS3FreeSpace(t, 3*size+size/2, "a 2 GiB file, its object and its parts while they are assembled", r.src, r.env.A.Dir)
	start := time.Now()
	big := genPartedFile(t, filepath.Join(r.src, "video", "big.bin"), "dur-2gib", size, partSize)
	t.Logf("generated the 2 GiB source in %.1fs", time.Since(start).Seconds())

	res := r.run(t, r.folder(t), "apply", "-auto-approve", "-grace", "5s")
	sent := r.sentParts()
	t.Logf("time-boxed run: exit %d in %.1fs, %d parts sent", res.Code, res.Elapsed.Seconds(), len(sent))
	// The upload stops at a part boundary (not when grace runs out), its
	// parts recorded.
	mustCode(t, "time-boxed run", res, 130, "Apply duration limit reached", "Run syncer apply again to resume",
		"create video/big.bin stopped; the next run resumes it")
	if _, _, err := headObject(t, r.env.A, r.dstBucket, "video/big.bin"); err == nil {
		t.Fatal("the object is visible before its upload completed")
	}
	st := r.pull(t)
	recorded := map[int]bool{}
	db, err := sql.Open("sqlite3", "file:"+st+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT number FROM upload_parts`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int
		rows.Scan(&n)
		recorded[n] = true
	}
	rows.Close()
	db.Close()
	t.Logf("%d parts recorded in the remote state", len(recorded))
	if len(recorded) == 0 || len(recorded) >= totalParts {
		t.Fatalf("precondition: want the deadline to land mid-upload; %d of %d parts recorded", len(recorded), totalParts)
	}

	r.mu.Lock()
	r.parts = nil
	r.mu.Unlock()
	r.dstProxy.Reset()
	res = r.run(t, r.folder(t, "workers = 1"), "apply", "-auto-approve")
	t.Logf("resumed run: exit %d in %.1fs, requests %v", res.Code, res.Elapsed.Seconds(), r.dstProxy.Counts())
	mustCode(t, "resumed run", res, 0, "1 created")
	if n := r.dstProxy.Count("CreateMultipartUpload"); n != 0 {
		t.Errorf("the resumed run created %d multipart uploads; want it to continue the recorded one", n)
	}
	again := 0
	for _, n := range r.sentParts() {
		if recorded[n] {
			again++
		}
	}
	if again > 0 {
		t.Errorf("the resumed run sent %d recorded parts again", again)
	}
	if n := len(r.sentParts()); n != totalParts-len(recorded) {
		t.Errorf("the resumed run sent %d parts; %d were not recorded", n, totalParts-len(recorded))
	}
	if n, etag, err := headObject(t, r.env.A, r.dstBucket, "video/big.bin"); err != nil || n != size || etag != big.ETag {
		t.Errorf("object: %d bytes, ETag %q (err %v); want %d bytes, ETag %s", n, etag, err, int64(size), big.ETag)
	}
	if sum, n := rcloneSHA256(t, remote{"A", r.env.A}, r.dstBucket, "video/big.bin"); n != size || sum != big.SHA256 {
		t.Errorf("object read back: %d bytes, sha256 %s; the file: %s", n, sum, big.SHA256)
	}
	if ups := multipartUploads(t, r.env.A, r.dstBucket); len(ups) != 0 {
		t.Errorf("multipart uploads left in progress: %q", ups)
	}
	r.assertWrittenOnce(t)
}

// waitIdle waits until the proxy has no request in flight: a killed
// client's last one has reached the server or failed.
func waitIdle(t *testing.T, p *s3test.Proxy) {
	t.Helper()
	deadline := time.Now().Add(waitGuard)
	for p.InFlight() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy still has %d requests in flight after %s", p.InFlight(), waitGuard)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
