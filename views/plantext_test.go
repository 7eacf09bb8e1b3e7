package views_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"syncer/apply"
	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/local"
	"syncer/config"
	"syncer/plan"
	"syncer/state"
	"syncer/views"
)

func TestSummaryLineExcluded(t *testing.T) {
	s := plan.Summary{Create: 1, Excluded: 1204}
	if got := views.SummaryLine(s); got != "Plan: 1 to create, 0 to update, 0 to delete, 1,204 excluded by filters (0 B to transfer)." {
		t.Errorf("SummaryLine() = %q", got)
	}
}

// The summary line counts archived objects apart from changes: skipped,
// failing and to restore.
func TestSummaryLineArchived(t *testing.T) {
	for _, tc := range []struct {
		s    plan.Summary
		want string
	}{
		{plan.Summary{Archived: 3}, "Plan: 0 to create, 0 to update, 0 to delete, 3 archived, skipped (0 B to transfer)."},
		{plan.Summary{Create: 1, Bytes: 5, Delete: 1, Archived: 2}, "Plan: 1 to create, 0 to update, 1 to delete, 2 archived, skipped (5 B to transfer)."},
		{plan.Summary{Restore: 2, Archived: 1}, "Plan: 0 to create, 0 to update, 0 to delete, 2 to restore, 1 archived, skipped (0 B to transfer)."},
		{plan.Summary{ArchivedFail: 4, Skip: 1}, "Plan: 0 to create, 0 to update, 0 to delete, 1 cannot be written, 4 archived, failing (0 B to transfer)."},
		{plan.Summary{}, "No changes."},
	} {
		if got := views.SummaryLine(tc.s); got != tc.want {
			t.Errorf("%+v: SummaryLine() = %q; want %q", tc.s, got, tc.want)
		}
	}
}

// base is the modification time files get unless a test says otherwise.
var base = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// planEnv is one sync "s" from folder src to folder dst, its state in
// syncer.db, all in a fresh temporary folder; backends named in bs replace
// the local folders.
type planEnv struct {
	t        *testing.T
	ctx      context.Context
	cfg      *config.Config
	st       *state.Store
	src, dst string
	bs       map[string]backends.Backend
}

func newPlanEnv(t *testing.T, body string) *planEnv {
	t.Helper()
	root := t.TempDir()
	src := fmt.Sprintf(`state { path = "syncer.db" }
backend "local" "src" { path = "src" }
backend "local" "dst" { path = "dst" }
sync "s" {
  from = backend.local.src
  to   = backend.local.dst
  %s
}
`, body)
	cfg, diags := config.Parse(filepath.Join(root, "syncer.hcl"), []byte(src), config.LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("config: %v", diags)
	}
	e := &planEnv{t: t, ctx: t.Context(), cfg: cfg, src: filepath.Join(root, "src"), dst: filepath.Join(root, "dst"), bs: map[string]backends.Backend{}}
	for _, dir := range []string{e.src, e.dst} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	st, err := state.Open(e.ctx, cfg.State.Path, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	return e
}

// open opens a replaced backend, or the configured local folder.
func (e *planEnv) open(b *config.Backend) (backends.Backend, error) {
	if be, ok := e.bs[b.Name]; ok {
		return be, nil
	}
	return local.New(local.Options{Name: b.Name, Path: b.Options.(*local.Options).Path})
}

// write writes data at key under the folder dir with modification time mtime.
func (e *planEnv) write(dir, key, data string, mtime time.Time) {
	e.t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		e.t.Fatal(err)
	}
}

// plan makes a plan, closed when the test ends.
func (e *planEnv) plan(refresh bool) *plan.Plan {
	e.t.Helper()
	p, err := plan.Make(e.ctx, e.cfg, e.st, e.open, plan.Options{Refresh: refresh, Version: "test"})
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	e.t.Cleanup(func() { p.Close() })
	return p
}

// apply plans and applies everything, as the CLI does.
func (e *planEnv) apply() {
	e.t.Helper()
	p := e.plan(true)
	defer p.Close()
	if _, err := e.st.BumpSerial(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	res, err := apply.Run(e.ctx, e.cfg, e.st, p, e.open, apply.Options{Version: "test"})
	if err != nil || res.Failed != 0 || res.Interrupted {
		e.t.Fatalf("apply: %+v, %v", res, err)
	}
}

// text renders p with at most limit lines per sync.
func (e *planEnv) text(p *plan.Plan, limit int) string {
	e.t.Helper()
	var buf bytes.Buffer
	if err := views.PlanText(e.ctx, &buf, p, e.cfg, limit); err != nil {
		e.t.Fatal(err)
	}
	return buf.String()
}

func TestPlanText(t *testing.T) {
	e := newPlanEnv(t, `delete = "all"`)
	e.write(e.src, "changed.txt", "old", base)
	e.apply()
	e.write(e.src, "new.bin", strings.Repeat("n", 2048), base)
	e.write(e.src, "changed.txt", strings.Repeat("c", 1000), base.Add(time.Hour))
	e.write(e.dst, "stale.txt", "stale", base)
	p := e.plan(true)
	out := e.text(p, 0)
	lines := strings.Split(out, "\n")
	for _, prefix := range []string{"  + new.bin", "  ~ changed.txt", "  - stale.txt"} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) }) {
			t.Errorf("no line starting %q in:\n%s", prefix, out)
		}
	}
	if !slices.Contains(lines, "Plan: 1 to create, 1 to update, 1 to delete (3.0 KiB to transfer).") {
		t.Errorf("no exact summary line in:\n%s", out)
	}
	if !strings.Contains(out, `sync "s"`) || !strings.Contains(out, "backend.local.src -> backend.local.dst") {
		t.Errorf("no sync header in:\n%s", out)
	}
	if strings.Contains(out, "... and") {
		t.Errorf("unlimited output collapsed:\n%s", out)
	}

	out = e.text(p, 1)
	if !strings.Contains(out, "  ... and 2 more\n") {
		t.Errorf("limit 1 did not collapse 2 lines:\n%s", out)
	}
	if n := strings.Count(out, "  + ") + strings.Count(out, "  ~ ") + strings.Count(out, "  - "); n != 1 {
		t.Errorf("limit 1 shows %d action lines:\n%s", n, out)
	}
	if !strings.Contains(out, "Plan: 1 to create, 1 to update, 1 to delete (3.0 KiB to transfer).") {
		t.Errorf("collapsed output lost the summary:\n%s", out)
	}
}

func TestPlanTextNoChanges(t *testing.T) {
	e := newPlanEnv(t, "")
	e.write(e.src, "f", "f", base)
	e.apply()
	if out := e.text(e.plan(true), 0); !strings.HasPrefix(out, "No changes.") {
		t.Errorf("no-change plan text = %q", out)
	}
}

// A key that could forge a plan line is printed quoted in the plan
// (display.Key).
func TestDisplayKeyInPlan(t *testing.T) {
	e := newPlanEnv(t, "")
	e.write(e.src, "notes.txt (4 B)\n  - taxes-2025.pdf", "x", base)
	out := e.text(e.plan(true), 0)
	if want := "  + \"notes.txt (4 B)\\n  - taxes-2025.pdf\" (1 B)\n"; !strings.Contains(out, want) || strings.Contains(out, "\n  - ") {
		t.Errorf("plan text:\n%s\nwant the key quoted on one line: %s", out, want)
	}
}

// Keys that cannot be written are shown with "!" and their reason, and
// counted in the summary line.
func TestPlanTextUnwritableKeys(t *testing.T) {
	long := strings.Repeat("n", 300)
	e := newPlanEnv(t, `delete = "all"`)
	m := backendtest.NewMem("src")
	m.Set("ok.txt", []byte("fine"), base)
	m.Set("dir/"+long, []byte("long"), base)
	m.Set(".syncer-tmp-x", []byte("temp"), base)
	e.bs["src"] = m
	dst, err := local.New(local.Options{Name: "dst", Path: e.dst})
	if err != nil {
		t.Fatal(err)
	}
	p := e.plan(true)
	out := e.text(p, 0)
	for _, want := range []string{
		"  + ok.txt (4 B)\n",
		"  ! dir/" + long + " (cannot be written to " + dst.String() + ": name longer than 255 bytes)\n",
		"  ! .syncer-tmp-x (cannot be written to " + dst.String() + `: names starting with ".syncer-tmp-" are reserved for syncer's temporary files)` + "\n",
		"\nPlan: 1 to create, 0 to update, 0 to delete, 2 cannot be written (4 B to transfer).\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan text lacks %q:\n%s", want, out)
		}
	}
	if out := e.text(p, 2); !strings.Contains(out, "  ... and 1 more\n") {
		t.Errorf("limit 2 of 3 lines:\n%s", out)
	}
	p.Close()

	// Once the rest is copied, the skips are all that is left.
	e.apply()
	for _, refresh := range []bool{true, false} {
		p := e.plan(refresh)
		if out := e.text(p, 0); strings.Count(out, "  ! ") != 2 || strings.Contains(out, "  + ") ||
			!strings.HasSuffix(out, "\nPlan: 0 to create, 0 to update, 0 to delete, 2 cannot be written (0 B to transfer).\n") {
			t.Errorf("refresh %v: plan text:\n%s", refresh, out)
		}
		p.Close()
	}
}
