package e2e

// Remote state (issue 12): the state in an S3 bucket of the test server,
// runs from fresh working folders, the lease lock, takeover and refusals.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends/s3/s3test"
)

const remoteStateKey = "syncer/media.db"

// remoteRig is a local source and destination with the state in a bucket.
type remoteRig struct {
	env        *s3test.Env
	bucket     string
	src, dst   string
	stateBlock string // extra lines of the state block
	limits     []string
	endpoint   string // "" = server A; else e.g. a proxy
	extra      []string
}

func newRemoteRig(t *testing.T) *remoteRig {
	t.Helper()
	env := needS3(t)
	base := t.TempDir()
	r := &remoteRig{env: env, bucket: newS3Bucket(t, env.A, "state"),
		src: filepath.Join(base, "src"), dst: filepath.Join(base, "dst")}
	for _, d := range []string{r.src, r.dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// folder is a fresh, empty working folder with the config in it, and its
// own cache folder: another machine.
func (r *remoteRig) folder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var sb strings.Builder
	fmt.Fprintf(&sb, "state {\n  backend = backend.s3.ops\n  key = %q\n%s}\n\n", remoteStateKey, r.stateBlock)
	if len(r.limits) > 0 {
		sb.WriteString("limits {\n  " + strings.Join(r.limits, "\n  ") + "\n}\n")
	}
	sb.WriteString(s3Block{Name: "ops", Srv: r.env.A, Endpoint: r.endpoint, Bucket: r.bucket, Prefix: "team/", Extra: r.extra}.hcl(r.env))
	sb.WriteString(localBlock("src", r.src))
	sb.WriteString(localBlock("dst", r.dst))
	sb.WriteString(syncBlock("media", "backend.local.src", "backend.local.dst", `delete = "managed"`))
	if err := os.WriteFile(filepath.Join(dir, "syncer.hcl"), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (r *remoteRig) env1(dir string, extra ...string) []string {
	return s3SyncerEnv(r.env, append([]string{"SYNCER_CACHE_DIR=" + filepath.Join(dir, ".cache")}, extra...)...)
}

func (r *remoteRig) run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	res := runSyncer(t, dir, r.env1(dir), args...)
	checkNoSecrets(t, r.env, res)
	return res
}

func (r *remoteRig) start(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	return startSyncer(t, dir, r.env1(dir), args...)
}

func (r *remoteRig) client(t *testing.T) *s3.Client {
	t.Helper()
	c, err := r.env.A.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// object returns the bytes and ETag of key under the ops prefix, or
// ok=false when it does not exist.
func (r *remoteRig) object(t *testing.T, key string) (data []byte, etag string, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := r.client(t).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String("team/" + key)})
	if err != nil {
		return nil, "", false
	}
	defer out.Body.Close()
	buf, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return buf, aws.ToString(out.ETag), true
}

func (r *remoteRig) putObject(t *testing.T, key string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := r.client(t).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(r.bucket), Key: aws.String("team/" + key),
		Body: strings.NewReader(string(data))})
	if err != nil {
		t.Fatal(err)
	}
}

// stateCountIn counts rows of a query in a state file.
func stateCountIn(t *testing.T, path, query string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s on %s: %v", query, path, err)
	}
	return n
}

func mustCode(t *testing.T, what string, res result, code int, want ...string) {
	t.Helper()
	if res.Code != code {
		t.Fatalf("%s: exit %d, want %d\n%s", what, res.Code, code, res)
	}
	for _, w := range want {
		if !strings.Contains(res.Stdout+res.Stderr, w) {
			t.Errorf("%s: output does not contain %q\n%s", what, w, res)
		}
	}
}

// Runs from fresh, empty working folders share the state through S3.
func TestRemoteStateFreshFolders(t *testing.T) {
	r := newRemoteRig(t)
	for i := range 5 {
		writeFile(t, filepath.Join(r.src, fmt.Sprintf("f%d.txt", i)), []byte(strings.Repeat("x", 1000+i)))
	}
	// A plan saved before any state exists applies once: the first apply
	// makes the state.
	one := r.folder(t)
	mustCode(t, "plan -out before any state", r.run(t, one, "plan", "-out", "first.plan"), 0, "5 to create")
	if _, _, ok := r.object(t, remoteStateKey); ok {
		t.Fatal("plan wrote a state object")
	}
	mustCode(t, "first apply", r.run(t, one, "apply", "first.plan"), 0, "5 created")
	if _, err := os.Stat(filepath.Join(one, "syncer.db")); err == nil {
		t.Error("a local state file was written")
	}
	if _, _, ok := r.object(t, remoteStateKey); !ok {
		t.Fatal("no state object after apply")
	}
	if _, _, ok := r.object(t, remoteStateKey+".lock"); ok {
		t.Error("the lock outlived the apply")
	}
	if left, _ := filepath.Glob(filepath.Join(one, ".cache", "state", "*")); len(left) > 0 {
		t.Errorf("working copies left: %v", left)
	}

	two := r.folder(t)
	mustCode(t, "plan in a fresh folder", r.run(t, two, "plan"), 0, "No changes.")
	mustCode(t, "show", r.run(t, two, "show"), 0, "serial 1", `"media": 5 objects`)

	if err := os.Remove(filepath.Join(r.src, "f0.txt")); err != nil {
		t.Fatal(err)
	}
	three := r.folder(t)
	mustCode(t, "apply after a source delete", r.run(t, three, "apply", "-auto-approve"), 0, "1 deleted")
	if _, err := os.Stat(filepath.Join(r.dst, "f0.txt")); err == nil {
		t.Error("the removed source file is still at the destination")
	}
	assertTreesEqual(t, r.src, r.dst)

	// A saved plan made against the remote state is refused once it moved on.
	four := r.folder(t)
	writeFile(t, filepath.Join(r.src, "new.txt"), []byte("new"))
	mustCode(t, "plan -out", r.run(t, four, "plan", "-out", "p.plan"), 0)
	writeFile(t, filepath.Join(r.src, "newer.txt"), []byte("newer"))
	mustCode(t, "apply in between", r.run(t, r.folder(t), "apply", "-auto-approve"), 0, "2 created")
	res := r.run(t, four, "apply", "p.plan")
	if res.Code != 1 || !strings.Contains(res.Stderr, "serial") {
		t.Errorf("stale saved plan: %s", res)
	}
}

// Two applies on two machines: the second is refused naming the first;
// after kill -9 of the first, the second takes its lock over once stale.
func TestRemoteStateLockTakeover(t *testing.T) {
	r := newRemoteRig(t)
	// A holder stops itself when its lease goes half a TTL unrenewed: on
	// a loaded machine 2 s is too tight for the taker's own run.
	r.stateBlock = "  lock_ttl = \"6s\"\n  checkpoint = \"1s\"\n"
	r.limits = []string{`bandwidth = "1MiB/s"`, "workers = 1"}
	genTree(t, r.src, "takeover", 40, 64<<10, 128<<10)

	one, two := r.folder(t), r.folder(t)
	p := r.start(t, one, "apply", "-auto-approve")
	p.waitUntil(t, "the first apply copying", waitGuard, func() bool { return countFiles(r.dst) >= 2 })

	res := r.run(t, two, "apply", "-auto-approve")
	mustCode(t, "second apply", res, 1, "is locked", fmt.Sprintf("by pid %d", p.cmd.Process.Pid), "syncer force-unlock")
	if countFiles(r.dst) >= 40 {
		t.Fatal("the first apply finished before the kill")
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, time.Minute)

	res = r.run(t, two, "apply", "-auto-approve", "-lock-timeout", "2m")
	mustCode(t, "apply after kill -9", res, 0, "Apply complete!", "took over a stale state lock",
		fmt.Sprintf("by pid %d", p.cmd.Process.Pid))
	assertTreesEqual(t, r.src, r.dst)
	if _, _, ok := r.object(t, remoteStateKey+".lock"); ok {
		t.Error("the lock outlived the apply")
	}
	mustCode(t, "plan after", r.run(t, r.folder(t), "plan"), 0, "No changes.")
}

// A writer whose lock was taken over (frozen past its TTL) cannot
// overwrite the state: its next checkpoint fails and it stops.
func TestRemoteStateLostLock(t *testing.T) {
	r := newRemoteRig(t)
	r.stateBlock = "  lock_ttl = \"2s\"\n  checkpoint = \"1s\"\n"
	r.limits = []string{`bandwidth = "512KiB/s"`, "workers = 1"}
	genTree(t, r.src, "lost", 30, 64<<10, 128<<10)

	one, two := r.folder(t), r.folder(t)
	p := r.start(t, one, "apply", "-auto-approve")
	p.waitUntil(t, "the first apply copying", waitGuard, func() bool { return countFiles(r.dst) >= 2 })
	p.cmd.Process.Signal(syscall.SIGSTOP)
	res := r.run(t, two, "apply", "-auto-approve", "-lock-timeout", "2m")
	mustCode(t, "taker", res, 0, "Apply complete!", "took over a stale state lock")
	_, etag, _ := r.object(t, remoteStateKey)
	p.cmd.Process.Signal(syscall.SIGCONT)
	first := p.wait(t, 2*time.Minute)
	if first.Code != 1 || !strings.Contains(first.Stderr, "this run stops, and uploads nothing more") {
		t.Fatalf("the frozen writer: %s (%v)\n%s", first, p.cmd.ProcessState, res)
	}
	if _, now, _ := r.object(t, remoteStateKey); now != etag {
		t.Error("the writer that lost its lock overwrote the state")
	}
	mustCode(t, "plan after", r.run(t, r.folder(t), "plan"), 0, "No changes.")
}

func TestRemoteStatePullPushUnlock(t *testing.T) {
	r := newRemoteRig(t)
	writeFile(t, filepath.Join(r.src, "a.txt"), []byte("a"))
	dir := r.folder(t)
	mustCode(t, "pull before any state", r.run(t, dir, "state", "pull"), 1, "no state object")
	mustCode(t, "apply", r.run(t, dir, "apply", "-auto-approve"), 0)

	res := r.run(t, dir, "state", "pull")
	mustCode(t, "pull", res, 0)
	pulled := filepath.Join(dir, "pulled.db")
	writeFile(t, pulled, []byte(res.Stdout))
	if n := stateCountIn(t, pulled, `SELECT count(*) FROM objects`); n != 1 {
		t.Fatalf("pulled state holds %d objects", n)
	}
	mustCode(t, "push back", r.run(t, dir, "state", "push", pulled), 0, "Pushed")

	writeFile(t, filepath.Join(r.src, "b.txt"), []byte("b"))
	mustCode(t, "apply", r.run(t, dir, "apply", "-auto-approve"), 0)
	mustCode(t, "push of an older serial", r.run(t, dir, "state", "push", pulled), 1, "newer than the serial")

	// A state of another lineage: a local state made by another config.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "syncer.hcl"), []byte(localBlock("a", r.src)+localBlock("b", t.TempDir())+
		syncBlock("x", "backend.local.a", "backend.local.b")), 0o644)
	mustCode(t, "local apply", runSyncer(t, other, syncerEnv(), "apply", "-auto-approve"), 0)
	otherDB := filepath.Join(other, "syncer.db")
	mustCode(t, "push of another lineage", r.run(t, dir, "state", "push", otherDB), 1, "different states")
	mustCode(t, "forced push", r.run(t, dir, "state", "push", "-force", otherDB), 0, "Pushed")
	res = r.run(t, dir, "state", "pull")
	writeFile(t, pulled, []byte(res.Stdout))
	if n := stateCountIn(t, pulled, `SELECT count(*) FROM objects WHERE sync = 'x'`); n != 2 {
		t.Errorf("after the forced push the remote state holds %d objects of sync x", n)
	}

	// force-unlock, by ID only.
	lock := `{"id":"11111111-2222-4333-8444-555555555555","operation":"apply","who":"ci@runner","host":"runner","pid":4242,"version":"0.1.0","created":"2026-01-01T00:00:00Z","renewed":"2026-01-01T00:00:00Z","ttl_seconds":3600,"path":"x"}`
	r.putObject(t, remoteStateKey+".lock", []byte(lock))
	res = r.run(t, dir, "plan")
	mustCode(t, "plan while locked", res, 1, "by pid 4242 on host runner", "syncer force-unlock 11111111-2222-4333-8444-555555555555")
	mustCode(t, "force-unlock of another id", r.run(t, dir, "force-unlock", "nope"), 1, "nothing was removed")
	mustCode(t, "force-unlock", r.run(t, dir, "force-unlock", "11111111-2222-4333-8444-555555555555"), 0, "Removed the lock")
	mustCode(t, "plan after force-unlock", r.run(t, dir, "plan"), 0)
}

// Bad input: a clear error before anything is copied, and nothing lost.
func TestRemoteStateBadInput(t *testing.T) {
	r := newRemoteRig(t)
	writeFile(t, filepath.Join(r.src, "a.txt"), []byte("a"))
	noCopy := func(what string) {
		t.Helper()
		if n := countFiles(r.dst); n != 0 {
			t.Errorf("%s: %d files copied", what, n)
		}
	}

	r.putObject(t, remoteStateKey, []byte("this is not a state"))
	mustCode(t, "foreign state object", r.run(t, r.folder(t), "apply", "-auto-approve"), 1, "not a SQLite database")
	noCopy("foreign state object")
	if data, _, _ := r.object(t, remoteStateKey); string(data) != "this is not a state" {
		t.Error("the foreign state object was changed")
	}
	if _, _, ok := r.object(t, remoteStateKey+".lock"); ok {
		t.Error("a failed run left its lock")
	}

	r2 := newRemoteRig(t)
	r2.src = r.src
	r2.putObject(t, remoteStateKey+".lock", []byte("<xml>not ours</xml>"))
	mustCode(t, "foreign lock", r2.run(t, r2.folder(t), "apply", "-auto-approve"), 1, "is not a syncer lock")
	mustCode(t, "force-unlock of a foreign lock", r2.run(t, r2.folder(t), "force-unlock", "x"), 1, "is not a syncer lock")
	noCopy("foreign lock")

	r3 := newRemoteRig(t)
	r3.src, r3.dst = r.src, r.dst
	r3.bucket = "no-such-bucket-for-state"
	mustCode(t, "missing bucket", r3.run(t, r3.folder(t), "apply", "-auto-approve"), 1, "the bucket does not exist", "no-such-bucket-for-state")
	noCopy("missing bucket")

	// A store that ignores If-None-Match.
	fake := s3test.NewFake()
	defer fake.Close()
	ep, stop, err := s3test.NoConditional(fake.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := fake.CreateBucket(t.Context(), "fakestate"); err != nil {
		t.Fatal(err)
	}
	r4 := newRemoteRig(t)
	r4.src, r4.dst = r.src, r.dst
	r4.bucket, r4.endpoint = "fakestate", ep
	mustCode(t, "store without conditional writes", r4.run(t, r4.folder(t), "apply", "-auto-approve"), 1, "ignores conditional writes")
	noCopy("store without conditional writes")

	// A bucket whose policy refuses writes: reads work, every PutObject is
	// denied.
	proxy, err := s3test.NewProxy(r.env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.Fail = func(op string, _ *http.Request) (int, string) {
		if op == "PutObject" {
			return http.StatusForbidden, "AccessDenied"
		}
		return 0, ""
	}
	r5 := newRemoteRig(t)
	r5.src, r5.dst = r.src, r.dst
	r5.endpoint = proxy.URL
	mustCode(t, "a bucket that refuses writes", r5.run(t, r5.folder(t), "apply", "-auto-approve"), 1, r5.bucket, "access denied")
	noCopy("a bucket that refuses writes")
	if _, _, ok := r5.object(t, remoteStateKey); ok {
		t.Error("a state object was written to a bucket that refuses writes")
	}
}
