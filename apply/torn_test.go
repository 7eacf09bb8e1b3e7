package apply_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"syncer/apply"
	"syncer/backends"
	"syncer/backends/backendtest"
)

// The tests of a source that changes while it is copied: the copy fails
// with "source changed while being copied", nothing of it shows at the
// destination (a previous copy stays), the state does not record it, and
// the next run copies the new version.

// rewriteInPlace overwrites the first and last n bytes of the file at path
// in place, as a program updating it would, and sets its mtime to mt
// (which makes the change visible whatever the file clock's tick).
func rewriteInPlace(path string, n int, mt time.Time) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil {
		junk := bytes.Repeat([]byte{0xAB}, n)
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

// checkTornRefused checks the result and log of a run whose only copy,
// key, met a source that changed, and whether the state records key.
func checkTornRefused(t *testing.T, e *env, res apply.Result, err error, logs *logBuf, key string, wantRec bool) {
	t.Helper()
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if res.Failed != 1 || res.Created+res.Updated != 0 || res.Interrupted {
		t.Errorf("Result = %+v; want 1 failed, nothing copied", res)
	}
	if !slices.ContainsFunc(logs.entries(t, ""), func(l map[string]any) bool {
		return l["level"] == "ERROR" && l["key"] == key && strings.Contains(fmt.Sprint(l["err"]), "source changed while being copied")
	}) {
		t.Errorf("no error log saying the source of %s changed while being copied:\n%s", key, logs.String())
	}
	if last, _ := e.st.LastRun(e.ctx); last == nil || last.Status != "partial" || last.Failed != 1 {
		t.Errorf("last run = %+v; want partial with 1 failed", last)
	}
	if _, ok := e.record("s", key); ok != wantRec {
		t.Errorf("state records %s: %v; want %v", key, ok, wantRec)
	}
}

// TestSourceRewrittenWhileStreamed: a local file rewritten in place after
// the first read of its copy (streamed to a local destination holding an
// earlier copy) fails, and the earlier copy stays, byte for byte.
func TestSourceRewrittenWhileStreamed(t *testing.T) {
	e := newEnv(t, `limits { workers = 1 }`, "")
	src, dst := e.dir("src"), e.dir("dst")
	path := filepath.Join(src, "torn.bin")
	v0 := backendtest.RandomBytes(1, 1<<20)
	writeFile(t, src, "torn.bin", v0)
	e.mustApply()
	rec0, _ := e.record("s", "torn.bin")

	writeFile(t, src, "torn.bin", backendtest.RandomBytes(2, 1<<20+17))
	hs := hook(e.local("src")) // not a local folder to the destination: streamed
	e.set("src", hs)
	var once sync.Once
	hs.afterRead = func(n int) {
		if n > 0 {
			once.Do(func() {
				if err := rewriteInPlace(path, 64<<10, mtime.Add(time.Hour)); err != nil {
					t.Error(err)
				}
			})
		}
	}
	var logs logBuf
	res, err := e.apply(apply.Options{Log: logs.logger()})
	checkTornRefused(t, e, res, err, &logs, "torn.bin", true)
	if got, _ := readFile(t, dst, "torn.bin"); !bytes.Equal(got, v0) {
		t.Errorf("the destination holds %d bytes that are not its earlier copy", len(got))
	}
	if rec, _ := e.record("s", "torn.bin"); rec.Src != rec0.Src || rec.Dst != rec0.Dst {
		t.Errorf("state record changed to %+v; want the earlier copy's %+v", rec, rec0)
	}
	noTemps(t, dst)

	hs.afterRead = nil
	if res := e.mustApply(); res.Updated != 1 {
		t.Errorf("next run: %+v; want 1 updated", res)
	}
	sameTree(t, src, dst)
	e.expectNoChanges()
}

// TestSourceRewrittenBetweenParts: a local file rewritten in place once
// the first part of its multipart upload is in fails the next part's read;
// the upload is aborted and forgotten, nothing is completed at the key,
// and the next run uploads the new version from its first part.
func TestSourceRewrittenBetweenParts(t *testing.T) {
	const ps = 64 << 10
	e, hs, dst := resumableEnv(t, ps)
	src := e.dir("src")
	writeFile(t, src, "big.bin", backendtest.RandomBytes(3, 5*ps+1000))
	dst.AfterPart = func(key string, p backends.Part) {
		if p.Number == 1 {
			if err := rewriteInPlace(filepath.Join(src, "big.bin"), 8<<10, mtime.Add(time.Hour)); err != nil {
				t.Error(err)
			}
		}
	}
	var logs logBuf
	res, err := e.apply(apply.Options{Log: logs.logger()})
	checkTornRefused(t, e, res, err, &logs, "big.bin", false)
	if got := offsetsOf(hs.openCalls(), "big.bin"); !slices.Equal(got, [][2]int64{{0, ps}, {ps, ps}}) {
		t.Errorf("source reads %v; want part 1, then part 2 refused", got)
	}
	if _, ok := dst.Data("big.bin"); ok {
		t.Errorf("big.bin completed at the destination")
	}
	if ids := dst.InProgress(); len(ids) != 0 {
		t.Errorf("uploads left in progress: %q", ids)
	}
	if len(dst.Aborted()) != 1 {
		t.Errorf("aborted uploads %q; want the one", dst.Aborted())
	}
	if _, ok, err := e.st.UploadOf(e.ctx, "s", "big.bin"); err != nil || ok {
		t.Errorf("state still journals the upload (%v, err %v)", ok, err)
	}

	dst.AfterPart = nil
	before := len(hs.openCalls())
	if res := e.mustApply(); res.Created != 1 {
		t.Errorf("next run: %+v; want 1 created", res)
	}
	if got := offsetsOf(hs.openCalls()[before:], "big.bin"); len(got) != 6 || got[0] != [2]int64{0, ps} {
		t.Errorf("next run read %v; want all 6 parts from the first", got)
	}
	want, _ := os.ReadFile(filepath.Join(src, "big.bin"))
	if got, _ := dst.Data("big.bin"); !bytes.Equal(got, want) {
		t.Errorf("big.bin at the destination (%d bytes) is not the new version", len(got))
	}
	e.expectNoChanges()
}

// TestSourceChangedAfterPlanKernelCopy: the kernel copy (local to local)
// of a file rewritten in place between the plan and the copy fails, and
// puts nothing at the key.
func TestSourceChangedAfterPlanKernelCopy(t *testing.T) {
	e := newEnv(t, `limits { workers = 1 }`, "")
	src, dst := e.dir("src"), e.dir("dst")
	writeFile(t, src, "torn.bin", backendtest.RandomBytes(4, 1<<20))
	p := e.plan()
	if err := rewriteInPlace(filepath.Join(src, "torn.bin"), 4096, mtime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.BumpSerial(e.ctx); err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	res, err := apply.Run(e.ctx, e.cfg, e.st, p, e.open, apply.Options{Log: logs.logger(), Version: "test"})
	if len(logs.entries(t, "copying file to file in the kernel (copy_file_range)")) != 1 {
		t.Errorf("the copy did not run in the kernel:\n%s", logs.String())
	}
	checkTornRefused(t, e, res, err, &logs, "torn.bin", false)
	if _, ok := readFile(t, dst, "torn.bin"); ok {
		t.Errorf("torn.bin was put at the destination")
	}
	noTemps(t, dst)

	if res := e.mustApply(); res.Created != 1 {
		t.Errorf("next run: %+v; want 1 created", res)
	}
	sameTree(t, src, dst)
}
