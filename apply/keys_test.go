package apply_test

import (
	"slices"
	"strings"
	"testing"

	"syncer/backends/backendtest"
)

// Keys the destination can never hold are skipped: no backend call, no
// failure, and they hold up neither the other copies nor the deletes.
func TestUnwritableKeysAreSkipped(t *testing.T) {
	e := newEnv(t, "", `delete = "all"`)
	long := "dir/" + strings.Repeat("n", 300)
	src := backendtest.NewMem("src")
	src.Set("ok.txt", []byte("fine"), mtime)
	src.Set(long, []byte("long"), mtime)
	src.Set(".syncer-tmp-x", []byte("temp"), mtime)
	e.set("src", src)
	writeFile(t, e.dir("dst"), "stale.txt", []byte("stale"))

	res := e.mustApply()
	if res.Created != 1 || res.Deleted != 1 || res.Skipped != 2 || res.Failed != 0 {
		t.Errorf("Result = %+v; want 1 created, 1 deleted, 2 skipped", res)
	}
	if n := src.Calls("open"); n != 1 {
		t.Errorf("%d source opens; want 1 (ok.txt)", n)
	}
	if d, ok := readFile(t, e.dir("dst"), "ok.txt"); !ok || string(d) != "fine" {
		t.Errorf("ok.txt at the destination: %q, %v", d, ok)
	}
	if _, ok := readFile(t, e.dir("dst"), "stale.txt"); ok {
		t.Error("stale.txt not deleted")
	}
	if got := e.recordedKeys("s"); !slices.Equal(got, []string{"ok.txt"}) {
		t.Errorf("recorded %q; want ok.txt only", got)
	}
	if last, err := e.st.LastRun(e.ctx); err != nil || last.Status != "complete" {
		t.Errorf("run recorded as %+v, %v", last, err)
	}

	// The skips stay in every plan, and stay skipped.
	p := e.plan()
	if got := actions(t, p); !slices.Equal(got, []string{"skip .syncer-tmp-x", "skip " + long}) {
		t.Errorf("next plan: %q; want the two skips only", got)
	}
	p.Close()
	res = e.mustApply()
	if res.Created+res.Updated+res.Deleted != 0 || res.Skipped != 2 {
		t.Errorf("second apply: %+v; want only 2 skipped", res)
	}
}
