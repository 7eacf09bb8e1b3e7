package apply_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"syncer/apply"
	"syncer/backends/backendtest"
	"syncer/plan"
	"syncer/state"
)

func md5hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// run applies an existing plan p, bumping the serial first as main does.
func (e *env) run(ctx context.Context, p *plan.Plan, opts apply.Options) (apply.Result, error) {
	e.t.Helper()
	if _, err := e.st.BumpSerial(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	return apply.Run(ctx, e.cfg, e.st, p, e.open, opts)
}

// checkRecorded fails unless the state records key of sync "s" with the
// source's and destination's current fingerprints (md5 as given; "" when
// the mode records none).
func (e *env) checkRecorded(key, md5 string) {
	e.t.Helper()
	r, ok := e.record("s", key)
	if !ok {
		e.t.Errorf("%s: not recorded in the state", key)
		return
	}
	src, dst := fingerprint(e.t, e.local("src"), key), fingerprint(e.t, e.local("dst"), key)
	src.MD5, dst.MD5 = md5, md5
	if r.Src != src {
		e.t.Errorf("%s: recorded source %+v; want %+v", key, r.Src, src)
	}
	if r.Dst != dst {
		e.t.Errorf("%s: recorded destination %+v; want %+v", key, r.Dst, dst)
	}
	if d := time.Since(r.Written); d < 0 || d > time.Hour {
		e.t.Errorf("%s: written at %v", key, r.Written)
	}
}

func TestFullRun(t *testing.T) {
	e := newEnv(t, "", `delete = "all"`)
	src, dst := e.dir("src"), e.dir("dst")
	content := map[string][]byte{
		"a.txt":                  []byte("alpha"),
		"dir/sub/b.bin":          backendtest.RandomBytes(1, 300<<10),
		"café menu/lundi #1.txt": []byte("soupe"),
		"empty.txt":              nil,
		"upd.txt":                []byte("the new version"),
	}
	for k, d := range content {
		writeFile(t, src, k, d)
	}
	writeFile(t, dst, "upd.txt", []byte("old"))
	writeFile(t, dst, "old/gone.txt", []byte("not in the source"))

	var logs logBuf
	res, err := e.apply(apply.Options{Log: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	var bytesWant int64
	for _, d := range content {
		bytesWant += int64(len(d))
	}
	want := apply.Result{Created: 4, Updated: 1, Deleted: 1, Bytes: bytesWant, Workers: 2}
	if res.Created != want.Created || res.Updated != want.Updated || res.Deleted != want.Deleted ||
		res.Failed != 0 || res.Bytes != want.Bytes || res.Workers != want.Workers || res.Interrupted || res.StopReason != "" {
		t.Errorf("Result = %+v; want %+v", res, want)
	}
	sameTree(t, src, dst)
	noTemps(t, dst)
	for k := range content {
		e.checkRecorded(k, "")
	}
	if _, ok := e.record("s", "old/gone.txt"); ok {
		t.Errorf("deleted key is recorded")
	}
	if got := e.recordedKeys("s"); len(got) != len(content) {
		t.Errorf("recorded %q; want the %d copied keys", got, len(content))
	}
	if len(logs.entries(t, "using 2 workers (auto-tuned: pattern=many-small, budget=unset)")) != 1 {
		t.Errorf("no tuner log line:\n%s", logs.String())
	}
	last, err := e.st.LastRun(e.ctx)
	if err != nil || last == nil {
		t.Fatalf("LastRun = %v, %v", last, err)
	}
	if last.Status != "complete" || last.Copied != 5 || last.Deleted != 1 || last.Failed != 0 || last.Bytes != bytesWant {
		t.Errorf("run recorded as %+v", *last)
	}
	e.expectNoChanges()

	// Second round: change, remove and add source files.
	writeFile(t, src, "a.txt", []byte("alpha, revised"))
	later := mtime.Add(time.Hour)
	os.Chtimes(filepath.Join(src, "a.txt"), later, later)
	os.Remove(filepath.Join(src, "dir/sub/b.bin"))
	writeFile(t, src, "new.txt", []byte("new"))
	res = e.mustApply()
	if res.Created != 1 || res.Updated != 1 || res.Deleted != 1 || res.Bytes != int64(len("alpha, revised")+len("new")) {
		t.Errorf("second run: %+v; want 1 created, 1 updated, 1 deleted", res)
	}
	sameTree(t, src, dst)
	e.checkRecorded("a.txt", "")
	e.checkRecorded("new.txt", "")
	if _, ok := e.record("s", "dir/sub/b.bin"); ok {
		t.Errorf("dir/sub/b.bin still recorded after its delete")
	}
	e.expectNoChanges()
}

// An apply of a plan with no changes does nothing and succeeds.
func TestNothingToDo(t *testing.T) {
	e := newEnv(t, "", "")
	res := e.mustApply()
	if res.Created+res.Updated+res.Deleted+res.Bytes != 0 {
		t.Errorf("empty plan: %+v", res)
	}
}

func TestChecksumVerifyFailure(t *testing.T) {
	e := newEnv(t, "", `compare = "checksum"`)
	src, dst := e.dir("src"), e.dir("dst")
	good, bad := []byte("good content"), backendtest.RandomBytes(2, 100<<10)
	writeFile(t, src, "good.txt", good)
	writeFile(t, src, "corrupt.bin", bad)
	h := hook(e.local("dst"))
	h.beforePut = func(ctx context.Context, key string, r io.Reader) (io.Reader, error) {
		if key == "corrupt.bin" {
			return &flipReader{r: r}, nil
		}
		return r, nil
	}
	e.set("dst", h)

	var logs logBuf
	res, err := e.apply(apply.Options{Log: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 1 || res.Created != 1 {
		t.Errorf("Result = %+v; want 1 created, 1 failed", res)
	}
	if _, ok := e.record("s", "corrupt.bin"); ok {
		t.Errorf("corrupt.bin recorded although its copy does not verify")
	}
	e.checkRecorded("good.txt", md5hex(good))
	if !slices.ContainsFunc(logs.entries(t, ""), func(l map[string]any) bool {
		return l["level"] == "ERROR" && l["key"] == "corrupt.bin" && strings.Contains(fmt.Sprint(l["err"]), "verify")
	}) {
		t.Errorf("no error log with a verify error for corrupt.bin:\n%s", logs.String())
	}
	if last, _ := e.st.LastRun(e.ctx); last == nil || last.Status != "partial" || last.Failed != 1 {
		t.Errorf("last run = %+v; want partial with 1 failed", last)
	}

	// Without the fault, the next apply repairs it.
	h.beforePut = nil
	res = e.mustApply()
	if res.Updated != 1 || res.Created != 0 {
		t.Errorf("repair run: %+v; want 1 updated", res)
	}
	sameTree(t, src, dst)
	e.checkRecorded("corrupt.bin", md5hex(bad))
	e.expectNoChanges()
}

func TestSourceChangedAfterPlan(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
	}{{"longer", bytes.Repeat([]byte("L"), 200)}, {"shorter", []byte("short")}, {"emptied", nil}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "", "")
			src, dst := e.dir("src"), e.dir("dst")
			for _, k := range []string{"a.txt", "b.txt", "c.txt"} {
				writeFile(t, src, k, bytes.Repeat([]byte(k[:1]), 100))
			}
			p := e.plan()
			writeFile(t, src, "b.txt", c.data)
			res, err := e.run(e.ctx, p, apply.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed != 1 || res.Created != 2 {
				t.Errorf("Result = %+v; want 2 created, 1 failed", res)
			}
			if _, ok := e.record("s", "b.txt"); ok {
				t.Errorf("b.txt recorded although the source changed since the plan")
			}
			if _, ok := readFile(t, dst, "b.txt"); ok {
				t.Errorf("b.txt written although its source no longer matched the plan")
			}
			e.checkRecorded("a.txt", "")
			e.checkRecorded("c.txt", "")
			noTemps(t, dst)
			e.mustApply()
			sameTree(t, src, dst)
			e.expectNoChanges()
		})
	}
	// Checksum mode catches a same-size change when the plan knew the md5.
	t.Run("checksum same size", func(t *testing.T) {
		e := newEnv(t, "", `compare = "checksum"`)
		src, dst := e.dir("src"), e.dir("dst")
		v1, v2, v3 := []byte("version 1"), []byte("version 2"), []byte("version 3")
		writeFile(t, src, "k.txt", v1)
		e.mustApply()
		writeFile(t, src, "k.txt", v2)
		p := e.plan()
		if a := actions(t, p); !slices.Equal(a, []string{"update k.txt"}) {
			t.Fatalf("plan = %q; want an update", a)
		}
		writeFile(t, src, "k.txt", v3)
		res, err := e.run(e.ctx, p, apply.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed != 1 || res.Updated != 0 {
			t.Errorf("Result = %+v; want 1 failed", res)
		}
		if r, _ := e.record("s", "k.txt"); r.Src.MD5 != md5hex(v1) {
			t.Errorf("record changed to source md5 %s; want the first version's %s", r.Src.MD5, md5hex(v1))
		}
		e.mustApply()
		sameTree(t, src, dst)
		e.checkRecorded("k.txt", md5hex(v3))
		e.expectNoChanges()
	})
}

// twoSyncs has syncs "one" (src1 -> dst1) and "two" (src2 -> dst2), both
// mirroring (delete = "all").
const twoSyncs = `state { path = "syncer.db" }
backend "local" "src1" { path = "src1" }
backend "local" "dst1" { path = "dst1" }
backend "local" "src2" { path = "src2" }
backend "local" "dst2" { path = "dst2" }
sync "one" {
  from   = backend.local.src1
  to     = backend.local.dst1
  delete = "all"
}
sync "two" {
  from   = backend.local.src2
  to     = backend.local.dst2
  delete = "all"
}
`

func TestFailingCopySkipsDeletes(t *testing.T) {
	e := newEnvConfig(t, twoSyncs)
	for _, k := range []string{"ok1.txt", "bad.txt", "ok2.txt"} {
		writeFile(t, e.dir("src1"), k, []byte(k))
	}
	writeFile(t, e.dir("dst1"), "stale.txt", []byte("stale"))
	writeFile(t, e.dir("src2"), "x.txt", []byte("x"))
	writeFile(t, e.dir("dst2"), "stale2.txt", []byte("stale"))
	h := hook(e.local("dst1"))
	boom := errors.New("injected put failure")
	h.beforePut = func(ctx context.Context, key string, r io.Reader) (io.Reader, error) {
		if key == "bad.txt" {
			return nil, boom
		}
		return r, nil
	}
	e.set("dst1", h)

	var logs logBuf
	res, err := e.apply(apply.Options{Log: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 1 || res.Created != 3 || res.Deleted != 1 {
		t.Errorf("Result = %+v; want 3 created, 1 deleted (sync two), 1 failed", res)
	}
	if _, ok := readFile(t, e.dir("dst1"), "stale.txt"); !ok {
		t.Errorf("sync one deleted stale.txt although one of its copies failed")
	}
	if _, ok := readFile(t, e.dir("dst2"), "stale2.txt"); ok {
		t.Errorf("sync two did not delete stale2.txt")
	}
	for _, k := range []string{"ok1.txt", "ok2.txt"} {
		if d, ok := readFile(t, e.dir("dst1"), k); !ok || string(d) != k {
			t.Errorf("%s not copied", k)
		}
		if _, ok := e.record("one", k); !ok {
			t.Errorf("%s not recorded", k)
		}
	}
	if _, ok := e.record("one", "bad.txt"); ok {
		t.Errorf("bad.txt recorded although its Put failed")
	}
	if d, ok := readFile(t, e.dir("dst2"), "x.txt"); !ok || string(d) != "x" {
		t.Errorf("sync two did not copy x.txt")
	}
	if len(logs.entries(t, "skipping deletes: some copies of this sync failed")) != 1 {
		t.Errorf("no warning about skipped deletes:\n%s", logs.String())
	}

	h.beforePut = nil
	res = e.mustApply()
	if res.Created != 1 || res.Deleted != 1 {
		t.Errorf("retry: %+v; want 1 created, 1 deleted", res)
	}
	sameTree(t, e.dir("src1"), e.dir("dst1"))
	sameTree(t, e.dir("src2"), e.dir("dst2"))
}

func TestStop(t *testing.T) {
	const n = 3
	e := newEnv(t, `limits { workers = 1 }`, "")
	src, dst := e.dir("src"), e.dir("dst")
	keys, data := numbered(10)
	for _, k := range keys {
		writeFile(t, src, k, data[k])
	}
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := hook(e.local("dst"))
	var done atomic.Int64
	h.afterPut = func(key string, err error) {
		if err == nil && done.Add(1) == n {
			cancel()
		}
	}
	e.set("dst", h)

	res, err := e.apply(apply.Options{Stop: stop})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.StopReason != "interrupted" {
		t.Errorf("Interrupted = %v, StopReason = %q; want true, \"interrupted\"", res.Interrupted, res.StopReason)
	}
	if res.Created != n || res.Failed != 0 {
		t.Errorf("Result = %+v; want %d created, none failed", res, n)
	}
	put := h.putKeys()
	if len(put) != n {
		t.Errorf("Put called for %q after the stop; want only %d objects", put, n)
	}
	slices.Sort(put)
	if got := e.recordedKeys("s"); !slices.Equal(got, put) {
		t.Errorf("recorded %q; want the finished objects %q", got, put)
	}
	if got := sortedKeys(files(t, dst)); !slices.Equal(got, put) {
		t.Errorf("destination holds %q; want only the finished %q", got, put)
	}
	noTemps(t, dst)
	if last, _ := e.st.LastRun(e.ctx); last == nil || last.Status != "interrupted" {
		t.Errorf("last run = %+v; want interrupted", last)
	}

	h.afterPut = nil
	res = e.mustApply()
	if res.Created != int64(len(keys)-n) {
		t.Errorf("resumed run created %d; want %d", res.Created, len(keys)-n)
	}
	if got := h.putKeys(); len(got) != len(keys) {
		t.Errorf("%d Puts in all; want %d (finished objects copied again?)", len(got), len(keys))
	}
	sameTree(t, src, dst)
	if got := e.recordedKeys("s"); len(got) != len(keys) {
		t.Errorf("recorded %d keys; want %d", len(got), len(keys))
	}
	e.expectNoChanges()
}

// cancelAfter cancels once n bytes went through.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// Cancelling ctx (a second signal) aborts the transfer in flight: it is
// neither recorded nor counted as failed, and leaves no temporary file.
func TestAbort(t *testing.T) {
	e := newEnv(t, `limits { workers = 1 }`, "")
	src, dst := e.dir("src"), e.dir("dst")
	writeFile(t, src, "a-small.txt", []byte("small"))
	writeStream(t, src, "b-big.bin", backendtest.RandomReader(3, 8<<20))
	writeFile(t, src, "c-after.txt", []byte("after"))
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	h := hook(e.local("dst"))
	h.beforePut = func(_ context.Context, key string, r io.Reader) (io.Reader, error) {
		if key == "b-big.bin" {
			return &cancelAfter{r: r, n: 1 << 20, cancel: cancel}, nil
		}
		return r, nil
	}
	e.set("dst", h)
	res, err := e.applyCtx(ctx, apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.StopReason != "interrupted" || res.Failed != 0 || res.Created != 1 {
		t.Errorf("Result = %+v; want interrupted, 1 created, none failed", res)
	}
	if got := e.recordedKeys("s"); !slices.Equal(got, []string{"a-small.txt"}) {
		t.Errorf("recorded %q; want [a-small.txt]", got)
	}
	if got := sortedKeys(files(t, dst)); !slices.Equal(got, []string{"a-small.txt"}) {
		t.Errorf("destination holds %q; want [a-small.txt]", got)
	}
	noTemps(t, dst)
	h.beforePut = nil
	res = e.mustApply()
	if res.Created != 2 {
		t.Errorf("resumed: %+v; want 2 created", res)
	}
	sameTree(t, src, dst)
}

func TestDurationLimit(t *testing.T) {
	e := newEnv(t, `limits {
  workers  = 1
  duration = "150ms"
}`, "")
	src, dst := e.dir("src"), e.dir("dst")
	keys, data := numbered(10)
	for _, k := range keys {
		writeFile(t, src, k, data[k])
	}
	h := hook(e.local("dst"))
	h.delay = 60 * time.Millisecond
	e.set("dst", h)
	res, err := e.apply(apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.StopReason != "duration limit reached" {
		t.Errorf("Interrupted = %v, StopReason = %q; want true, \"duration limit reached\"", res.Interrupted, res.StopReason)
	}
	if res.Created >= int64(len(keys)) || res.Failed != 0 {
		t.Errorf("Result = %+v; want fewer than %d created, none failed", res, len(keys))
	}
	if got := e.recordedKeys("s"); int64(len(got)) != res.Created {
		t.Errorf("recorded %d keys; %d were created", len(got), res.Created)
	}
	noTemps(t, dst)

	// Without the limit the rest is copied.
	e.reconfigure(`limits { workers = 1 }`, "")
	h.delay = 0
	res2 := e.mustApply()
	if res.Created+res2.Created != int64(len(keys)) {
		t.Errorf("created %d then %d; want %d in all", res.Created, res2.Created, len(keys))
	}
	sameTree(t, src, dst)
	e.expectNoChanges()
}

func TestBandwidthLimit(t *testing.T) {
	e := newEnv(t, `limits { bandwidth = "1MiB/s" }`, "")
	src, dst := e.dir("src"), e.dir("dst")
	for i := range 3 {
		writeStream(t, src, fmt.Sprintf("f%d.bin", i), backendtest.RandomReader(int64(i), 1<<20))
	}
	res := e.mustApply()
	if res.Created != 3 || res.Bytes != 3<<20 {
		t.Errorf("Result = %+v; want 3 created, 3 MiB", res)
	}
	sameTree(t, src, dst)
	e.expectNoChanges()
}

// A key an interrupted apply was copying, found matching at the
// destination, is recorded without being copied again.
func TestAdopt(t *testing.T) {
	e := newEnv(t, "", "")
	src, dst := e.dir("src"), e.dir("dst")
	writeFile(t, src, "done.txt", []byte("copied before the kill"))
	writeFile(t, dst, "done.txt", []byte("copied before the kill"))
	writeFile(t, src, "todo.txt", []byte("not yet"))
	if err := e.st.MarkPending(e.ctx, "s", []string{"done.txt", "todo.txt"}); err != nil {
		t.Fatal(err)
	}
	hs := hook(e.local("src"))
	e.set("src", hs)
	p := e.plan()
	if a := actions(t, p); !slices.Equal(a, []string{"create todo.txt", "adopt done.txt"}) {
		t.Errorf("plan = %q; want [create todo.txt, adopt done.txt]", a)
	}
	res, err := e.run(e.ctx, p, apply.Options{})
	if err != nil || res.Failed != 0 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if res.Created != 1 {
		t.Errorf("Result = %+v; want 1 created", res)
	}
	for _, o := range hs.openCalls() {
		if o.key == "done.txt" {
			t.Errorf("source of the adopted key was opened")
		}
	}
	e.checkRecorded("done.txt", "")
	e.checkRecorded("todo.txt", "")
	sameTree(t, src, dst)
	e.expectNoChanges()
}

func TestRecordsManyFiles(t *testing.T) {
	const n = 2500
	e := newEnv(t, "", "")
	src, dst := e.dir("src"), e.dir("dst")
	for i := range n {
		writeFile(t, src, fmt.Sprintf("d%02d/f%04d.txt", i%25, i), []byte(fmt.Sprint(i)))
	}
	res := e.mustApply()
	if res.Created != n {
		t.Errorf("created %d; want %d", res.Created, n)
	}
	count := 0
	err := e.st.Each(e.ctx, "s", func(r state.Record) error {
		count++
		var i int
		if _, err := fmt.Sscanf(r.Key[strings.IndexByte(r.Key, '/')+1:], "f%04d.txt", &i); err != nil {
			return fmt.Errorf("unexpected key %q", r.Key)
		}
		if want := int64(len(fmt.Sprint(i))); r.Src.Size != want || r.Dst.Size != want {
			return fmt.Errorf("%s: recorded sizes %d/%d; want %d", r.Key, r.Src.Size, r.Dst.Size, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Errorf("state records %d objects; want %d", count, n)
	}
	if got := len(files(t, dst)); got != n {
		t.Errorf("destination holds %d files; want %d", got, n)
	}
	e.expectNoChanges()
}

// Finished objects reach the state while the run goes on, not only at its
// end: the last Put waits until the first two are recorded.
func TestRecordsFlushedDuringRun(t *testing.T) {
	e := newEnv(t, `limits { workers = 1 }`, "")
	src := e.dir("src")
	for _, k := range []string{"a", "b", "c"} {
		writeFile(t, src, k, []byte(k))
	}
	h := hook(e.local("dst"))
	var seen atomic.Bool
	h.beforePut = func(ctx context.Context, key string, r io.Reader) (io.Reader, error) {
		if key != "c" {
			return r, nil
		}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			_, okA, errA := e.st.Get(ctx, "s", "a")
			_, okB, errB := e.st.Get(ctx, "s", "b")
			if errA != nil || errB != nil {
				return nil, errors.Join(errA, errB)
			}
			if okA && okB {
				seen.Store(true)
				return r, nil
			}
			time.Sleep(10 * time.Millisecond)
		}
		return r, nil
	}
	e.set("dst", h)
	e.mustApply()
	if !seen.Load() {
		t.Errorf("the first objects were not recorded while the run was still going")
	}
	if got := e.recordedKeys("s"); len(got) != 3 {
		t.Errorf("recorded %q", got)
	}
}

func TestProgressLines(t *testing.T) {
	e := newEnv(t, `limits { workers = 1 }`, "")
	src := e.dir("src")
	keys, data := numbered(6)
	var total int64
	for _, k := range keys {
		writeFile(t, src, k, data[k])
		total += int64(len(data[k]))
	}
	h := hook(e.local("dst"))
	h.delay = 50 * time.Millisecond
	e.set("dst", h)
	var logs logBuf
	var progress bytes.Buffer
	res, err := e.apply(apply.Options{Log: logs.logger(), Terminal: false, Progress: &progress, StatsInterval: 10 * time.Millisecond})
	if err != nil || res.Failed != 0 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	lines := logs.entries(t, "progress")
	if len(lines) == 0 {
		t.Fatalf("no progress lines:\n%s", logs.String())
	}
	for _, l := range lines {
		for _, f := range []string{"objects", "objects_total", "bytes", "bytes_total", "rate", "eta"} {
			if _, ok := l[f]; !ok {
				t.Errorf("progress line without %q: %v", f, l)
			}
		}
		if l["objects_total"] != float64(len(keys)) {
			t.Errorf("objects_total = %v; want %d", l["objects_total"], len(keys))
		}
		if l["bytes_total"] != float64(total) {
			t.Errorf("bytes_total = %v; want %d (a number of bytes)", l["bytes_total"], total)
		}
		for _, f := range []string{"bytes", "rate", "eta", "heap_inuse"} {
			if _, ok := l[f].(float64); !ok {
				t.Errorf("%s = %v; want a number", f, l[f])
			}
		}
		if n, ok := l["objects"].(float64); !ok || n < 0 || n > float64(len(keys)) {
			t.Errorf("objects = %v", l["objects"])
		}
	}
	if progress.Len() != 0 {
		t.Errorf("a progress bar was drawn without a terminal: %q", progress.String())
	}
	if len(logs.entries(t, "using 1 worker (fixed by limits.workers: pattern=many-small, budget=unset)")) != 1 {
		t.Errorf("no tuner line:\n%s", logs.String())
	}
}

// On a terminal the bar goes to Progress and no stats lines are logged.
func TestProgressBar(t *testing.T) {
	e := newEnv(t, "", "")
	writeFile(t, e.dir("src"), "a", bytes.Repeat([]byte("a"), 3<<20))
	e.set("dst", hook(e.local("dst"))) // streamed, read in pieces: the bar is drawn
	var logs logBuf
	var mu sync.Mutex
	var bar bytes.Buffer
	res, err := e.apply(apply.Options{Log: logs.logger(), Terminal: true, Progress: lockedWriter{&mu, &bar}, StatsInterval: time.Millisecond})
	if err != nil || res.Created != 1 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if n := len(logs.entries(t, "progress")); n != 0 {
		t.Errorf("%d progress lines logged on a terminal", n)
	}
	// Objects done of all, and IEC units as in the summaries.
	mu.Lock()
	drawn := bar.String()
	mu.Unlock()
	if !strings.Contains(drawn, "applying 0/1 objects") || !strings.Contains(drawn, "/3.0 MiB") {
		t.Errorf("bar drawn as %q", drawn)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// limits.max_delete is checked again at apply time, with plan's message.
func TestMaxDeleteAtApply(t *testing.T) {
	e := newEnv(t, "", `delete = "all"`)
	for _, k := range []string{"x", "y"} {
		writeFile(t, e.dir("dst"), k, []byte(k))
	}
	p := e.plan()
	e.reconfigure(`limits { max_delete = 1 }`, `delete = "all"`)
	_, err := e.run(e.ctx, p, apply.Options{})
	if err == nil || !strings.Contains(err.Error(), "more than limits.max_delete = 1; refusing (raise max_delete if this is intended)") {
		t.Errorf("apply of 2 deletes with max_delete = 1: %v; want a refusal", err)
	}
	if got := len(files(t, e.dir("dst"))); got != 2 {
		t.Errorf("%d files left; want both", got)
	}
}

// cleanHook is a local destination whose CleanTemp, which apply calls
// just before a sync's copies start, runs a hook first.
type cleanHook struct {
	*hooked
	onClean func()
}

func (c *cleanHook) CleanTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	c.onClean()
	return c.hooked.Backend.CleanTemp(ctx, olderThan)
}

// Once Stop is done no new object may start, even when a worker is idle
// at that moment. Each trial stops the run while the dispatcher is past
// its page-level check (blocked marking the page pending, by a write lock
// held on the state from another connection) and a worker waits for work;
// the dispatcher must then pick the stop, not hand out the next object.
func TestStopTakesNoNewWork(t *testing.T) {
	const trials = 16
	started := 0
	for trial := range trials {
		e := newEnv(t, `limits { workers = 1 }`, "")
		writeFile(t, e.dir("src"), "a.txt", []byte("a"))
		writeFile(t, e.dir("src"), "b.txt", []byte("b"))
		stop, cancel := context.WithCancel(context.Background())
		h := &cleanHook{hooked: hook(e.local("dst"))}
		released := make(chan struct{})
		h.onClean = func() {
			db, err := sql.Open("sqlite3", "file:"+e.cfg.State.Path+"?_busy_timeout=10000&_txlock=immediate")
			if err != nil {
				t.Fatal(err)
			}
			tx, err := db.BeginTx(e.ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				defer close(released)
				time.Sleep(100 * time.Millisecond) // the dispatcher reaches MarkPending
				cancel()
				tx.Commit()
				db.Close()
			}()
		}
		e.set("dst", h)
		res, err := e.apply(apply.Options{Stop: stop})
		<-released
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if !res.Interrupted {
			t.Fatalf("trial %d: not interrupted: %+v", trial, res)
		}
		if puts := h.putKeys(); len(puts) > 0 {
			started++
			t.Logf("trial %d: %q copied after Stop", trial, puts)
		}
	}
	if started > 0 {
		t.Errorf("in %d of %d trials an object started after Stop was done (the dispatcher's select picked the idle worker over Stop)", started, trials)
	}
}
