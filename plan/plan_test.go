package plan_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/local"
	"syncer/config"
	"syncer/plan"
	"syncer/state"
	"syncer/views"
)

// base is the modification time files get unless a test says otherwise.
var base = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// env is one sync "s" from root/src to root/dst with its state in
// root/syncer.db, all in a fresh temporary folder.
type env struct {
	t          *testing.T
	ctx        context.Context
	root       string
	src, dst   string // folders
	cfg        *config.Config
	st         *state.Store
	srcB, dstB *local.Backend
	last       *plan.Plan // the newest plan made; closed before the next
}

// newEnv builds an env whose sync block holds body (compare, delete,
// filters...) and whose file holds extra (limits...) at the top level.
func newEnv(t *testing.T, body, extra string) *env {
	t.Helper()
	return newEnvIn(t, t.TempDir(), body, extra)
}

func newEnvIn(t *testing.T, root, body, extra string) *env {
	t.Helper()
	src := fmt.Sprintf(`state { path = "syncer.db" }
%s
backend "local" "src" { path = "src" }
backend "local" "dst" { path = "dst" }
sync "s" {
  from = backend.local.src
  to   = backend.local.dst
  %s
}
`, extra, body)
	e := &env{t: t, ctx: context.Background(), root: root, cfg: parse(t, root, src)}
	e.src, e.dst = filepath.Join(root, "src"), filepath.Join(root, "dst")
	if err := os.MkdirAll(e.src, 0o755); err != nil { // a source must exist; dst need not
		t.Fatal(err)
	}
	e.st = openState(t, e.cfg.State.Path)
	e.srcB = newLocal(t, "src", e.src)
	e.dstB = newLocal(t, "dst", e.dst)
	return e
}

func parse(t *testing.T, dir, src string) *config.Config {
	t.Helper()
	cfg, diags := config.Parse(filepath.Join(dir, "syncer.hcl"), []byte(src), config.LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("config: %v", diags)
	}
	return cfg
}

func openState(t *testing.T, path string) *state.Store {
	t.Helper()
	st, err := state.Open(context.Background(), path, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newLocal(t *testing.T, name, path string) *local.Backend {
	t.Helper()
	b, err := local.New(local.Options{Name: name, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// opener opens configured local backends, as main does.
func opener(b *config.Backend) (backends.Backend, error) {
	o, ok := b.Options.(*local.Options)
	if !ok {
		return nil, fmt.Errorf("%s is not local", b.Addr())
	}
	return local.New(local.Options{Name: b.Name, Path: o.Path})
}

// writeFile writes data at key under root with modification time mtime.
func writeFile(t *testing.T, root, key, data string, mtime time.Time) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	chtime(t, root, key, mtime)
}

func chtime(t *testing.T, root, key string, mtime time.Time) {
	t.Helper()
	if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(key)), mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, root, key string) {
	t.Helper()
	if err := os.Remove(filepath.Join(root, filepath.FromSlash(key))); err != nil {
		t.Fatal(err)
	}
}

// fingerprint is what apply records for o; md5 is read through the backend
// when the sync compares checksums, as apply does.
func (e *env) fingerprint(b *local.Backend, o backends.Object) state.Fingerprint {
	e.t.Helper()
	fp := state.Fingerprint{Size: o.Size, ETag: o.ETag, MD5: o.Hash(backends.MD5)}
	if !o.ModTime.IsZero() {
		fp.MTime = o.ModTime.UnixNano()
	}
	if e.cfg.Syncs[0].Compare == config.CompareChecksum && fp.MD5 == "" {
		sum, err := b.Hash(e.ctx, o.Key, backends.MD5)
		if err != nil {
			e.t.Fatal(err)
		}
		fp.MD5 = sum
	}
	return fp
}

// record records key as apply would after copying it: the source as it is
// now, the destination as it is now.
func (e *env) record(keys ...string) {
	e.t.Helper()
	var changes []state.Change
	for _, key := range keys {
		so, err := e.srcB.Stat(e.ctx, key)
		if err != nil {
			e.t.Fatal(err)
		}
		do, err := e.dstB.Stat(e.ctx, key)
		if err != nil {
			e.t.Fatal(err)
		}
		changes = append(changes, state.Change{Record: state.Record{
			Sync: "s", Key: key, Src: e.fingerprint(e.srcB, so), Dst: e.fingerprint(e.dstB, do), Written: time.Now(),
		}})
	}
	if err := e.st.Apply(e.ctx, changes); err != nil {
		e.t.Fatal(err)
	}
}

// synced writes key at the source and copies it to the destination through
// the backend, recording it as apply does.
func (e *env) synced(key, data string, mtime time.Time) {
	e.t.Helper()
	writeFile(e.t, e.src, key, data, mtime)
	e.copy(key)
	e.record(key)
}

// copy puts the source's key at the destination, as apply does.
func (e *env) copy(key string) {
	e.t.Helper()
	so, err := e.srcB.Stat(e.ctx, key)
	if err != nil {
		e.t.Fatal(err)
	}
	rc, err := e.srcB.Open(e.ctx, key, 0, -1)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	if _, err := e.dstB.Put(e.ctx, key, rc, so); err != nil {
		e.t.Fatal(err)
	}
}

// make plans with refresh on.
func (e *env) make() *plan.Plan {
	e.t.Helper()
	return e.makeOpts(plan.Options{Refresh: true, Version: "test"})
}

// makeOpts closes the previous plan first: like the CLI under the state
// lock, one plan of a state at a time.
func (e *env) makeOpts(opts plan.Options) *plan.Plan {
	e.t.Helper()
	if e.last != nil {
		e.last.Close()
		e.last = nil
	}
	p, err := plan.Make(e.ctx, e.cfg, e.st, opener, opts)
	if err != nil {
		e.t.Fatalf("Make: %v", err)
	}
	e.t.Cleanup(func() { p.Close() })
	e.last = p
	return p
}

// all returns every action of p, in plan order.
func all(t *testing.T, p *plan.Plan) []plan.Action {
	t.Helper()
	var out []plan.Action
	if err := p.Each(context.Background(), "", nil, func(a plan.Action) error {
		out = append(out, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// actions returns p's actions as sorted "kind key" strings.
func actions(t *testing.T, p *plan.Plan) []string {
	t.Helper()
	out := []string{}
	for _, a := range all(t, p) {
		out = append(out, string(a.Kind)+" "+a.Key)
	}
	slices.Sort(out)
	return out
}

// action returns the only action of p, failing unless there is exactly one.
func action(t *testing.T, p *plan.Plan) plan.Action {
	t.Helper()
	as := all(t, p)
	if len(as) != 1 {
		t.Fatalf("want exactly one action, got %v", actions(t, p))
	}
	return as[0]
}

func expect(t *testing.T, p *plan.Plan, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	slices.Sort(want)
	if got := actions(t, p); !slices.Equal(got, want) {
		t.Errorf("actions = %q, want %q", got, want)
	}
}

var compares = []string{"size", "modtime", "checksum"}

func compareBody(mode string) string { return fmt.Sprintf("compare = %q", mode) }

func TestNewSourceFileIsCreated(t *testing.T) {
	for _, mode := range compares {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, compareBody(mode), "")
			writeFile(t, e.src, "dir/new.txt", "hello", base)
			a := action(t, e.make())
			if a.Kind != plan.Create || a.Key != "dir/new.txt" || a.Sync != "s" || a.Reason != "new" {
				t.Errorf("action = %+v, want create dir/new.txt (new)", a)
			}
			if a.Size != 5 || a.Src.Size != 5 || a.Src.MTime != base.UnixNano() {
				t.Errorf("action sizes/times = %d, %+v; want 5 bytes, mtime %d", a.Size, a.Src, base.UnixNano())
			}
		})
	}
}

// TestDestinationWithoutRecord: a file already at the destination that
// syncer never wrote is compared with the source directly: adopted (recorded,
// not copied) when it matches, updated when it differs.
func TestDestinationWithoutRecord(t *testing.T) {
	later := base.Add(time.Hour)
	cases := []struct {
		name, mode         string
		srcData, dstData   string
		srcMTime, dstMTime time.Time
		want               []string
	}{
		{"modtime identical", "modtime", "same", "same", base, base, []string{"adopt f"}},
		{"modtime other mtime", "modtime", "same", "same", base, later, []string{"update f"}},
		{"modtime other size", "modtime", "same", "longer", base, base, []string{"update f"}},
		{"size same size", "size", "aaaa", "bbbb", base, later, []string{"adopt f"}},
		{"size other size", "size", "aaaa", "bbbbb", base, base, []string{"update f"}},
		{"checksum same content other mtime", "checksum", "same", "same", base, later, []string{"adopt f"}},
		{"checksum other content same size and mtime", "checksum", "aaaa", "bbbb", base, base, []string{"update f"}},
		{"checksum zero bytes", "checksum", "", "", base, later, []string{"adopt f"}},
		{"modtime zero bytes", "modtime", "", "", base, base, []string{"adopt f"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, compareBody(c.mode), "")
			writeFile(t, e.src, "f", c.srcData, c.srcMTime)
			writeFile(t, e.dst, "f", c.dstData, c.dstMTime)
			p := e.make()
			expect(t, p, c.want...)
			for _, a := range all(t, p) {
				want := "destination differs from source"
				if a.Kind == plan.Adopt {
					want = "already in place"
				}
				if a.Reason != want {
					t.Errorf("%s reason = %q, want %q", a.Kind, a.Reason, want)
				}
			}
		})
	}
}

// TestSourceChanged: a source changed after apply recorded it is updated,
// as far as the compare mode can see.
func TestSourceChanged(t *testing.T) {
	later := base.Add(time.Hour)
	cases := []struct {
		name, mode string
		data       string // new source content ("hello" before)
		mtime      time.Time
		update     bool
	}{
		{"modtime new mtime", "modtime", "hello", later, true},
		{"modtime new content and mtime", "modtime", "HELLO", later, true},
		{"modtime new size, mtime kept", "modtime", "hello!", base, true},
		// modtime cannot see a same-size rewrite whose mtime was restored.
		{"modtime same size, mtime restored", "modtime", "HELLO", base, false},
		{"size new size", "size", "hello, world", later, true},
		{"size same size", "size", "HELLO", later, false},
		{"checksum same size, mtime restored", "checksum", "HELLO", base, true},
		{"checksum new content and mtime", "checksum", "HELLO", later, true},
		{"checksum touched only", "checksum", "hello", later, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, compareBody(c.mode), "")
			e.synced("a/f.txt", "hello", base)
			expect(t, e.make()) // just applied: nothing to do
			writeFile(t, e.src, "a/f.txt", c.data, c.mtime)
			p := e.make()
			if !c.update {
				expect(t, p)
				return
			}
			a := action(t, p)
			if a.Kind != plan.Update || a.Key != "a/f.txt" || a.Reason != "source changed" {
				t.Errorf("action = %s %s (%s), want update a/f.txt (source changed)", a.Kind, a.Key, a.Reason)
			}
			if a.Size != int64(len(c.data)) || a.Src.MTime != c.mtime.UnixNano() {
				t.Errorf("action size %d mtime %d, want %d, %d", a.Size, a.Src.MTime, len(c.data), c.mtime.UnixNano())
			}
		})
	}
}

// TestDrift: a destination changed since apply wrote it is updated.
func TestDrift(t *testing.T) {
	later := base.Add(time.Hour)
	cases := []struct {
		name, mode string
		data       string // new destination content ("hello" before)
		mtime      time.Time
		update     bool
	}{
		{"modtime rewritten", "modtime", "HELLO", later, true},
		{"modtime touched", "modtime", "hello", later, true},
		{"size other size", "size", "hello there", later, true},
		{"size same size", "size", "HELLO", later, false},
		{"checksum rewritten", "checksum", "HELLO", later, true},
		{"checksum other size", "checksum", "hi", base, true},
		{"checksum rewritten, mtime restored", "checksum", "HELLO", base, true},
		{"checksum touched only", "checksum", "hello", later, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, compareBody(c.mode), "")
			e.synced("f.txt", "hello", base)
			writeFile(t, e.dst, "f.txt", c.data, c.mtime)
			p := e.make()
			if !c.update {
				expect(t, p)
				return
			}
			a := action(t, p)
			if a.Kind != plan.Update || a.Key != "f.txt" || a.Reason != "destination changed since last apply" {
				t.Errorf("action = %s %s (%s), want update f.txt (destination changed since last apply)", a.Kind, a.Key, a.Reason)
			}
			if a.Size != 5 {
				t.Errorf("size = %d, want the source's 5", a.Size)
			}
		})
	}
}

func TestMissingAtDestination(t *testing.T) {
	for _, mode := range compares {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, compareBody(mode), "")
			e.synced("x/y.bin", "data", base)
			removeFile(t, e.dst, "x/y.bin")
			a := action(t, e.make())
			if a.Kind != plan.Create || a.Key != "x/y.bin" || a.Reason != "missing at destination" {
				t.Errorf("action = %s %s (%s), want create x/y.bin (missing at destination)", a.Kind, a.Key, a.Reason)
			}
		})
	}
}

func TestDeletePolicies(t *testing.T) {
	cases := []struct {
		policy string
		want   []string
	}{
		{"none", nil},
		{"managed", []string{"delete gone.txt", "delete sub/gone.txt"}},
		{"all", []string{"delete foreign.txt", "delete gone.txt", "delete sub/gone.txt", "delete sub/foreign.txt"}},
	}
	for _, c := range cases {
		for _, mode := range compares {
			t.Run(c.policy+"/"+mode, func(t *testing.T) {
				e := newEnv(t, fmt.Sprintf("delete = %q\n  exclude = [\"tmp/**\"]\n  %s", c.policy, compareBody(mode)), "")
				e.synced("kept.txt", "kept", base)
				e.synced("gone.txt", "gone", base)
				e.synced("sub/gone.txt", "gone too", base)
				removeFile(t, e.src, "gone.txt")
				removeFile(t, e.src, "sub/gone.txt")
				// Never written by syncer.
				writeFile(t, e.dst, "foreign.txt", "theirs", base)
				writeFile(t, e.dst, "sub/foreign.txt", "theirs", base)
				// Excluded: never deleted, even if syncer wrote it before
				// the exclude was added.
				writeFile(t, e.dst, "tmp/scratch.txt", "scratch", base)
				e.synced("tmp/recorded.txt", "old", base)
				removeFile(t, e.src, "tmp/recorded.txt")

				p := e.make()
				expect(t, p, c.want...)
				dstSize := map[string]int64{"gone.txt": 4, "sub/gone.txt": 8, "foreign.txt": 6, "sub/foreign.txt": 6}
				for _, a := range all(t, p) {
					if a.Size != dstSize[a.Key] {
						t.Errorf("%s %s has size %d, want the destination's %d", a.Kind, a.Key, a.Size, dstSize[a.Key])
					}
				}

				// Without a destination listing only recorded keys are
				// deleted, and never excluded ones.
				if c.policy != "none" {
					expect(t, e.makeOpts(plan.Options{Refresh: false}), "delete gone.txt", "delete sub/gone.txt")
				}
			})
		}
	}
}

func TestForgetGoneFromBothSides(t *testing.T) {
	e := newEnv(t, `delete = "managed"`, "")
	e.synced("gone.txt", "gone", base)
	e.synced("kept.txt", "kept", base)
	removeFile(t, e.src, "gone.txt")
	removeFile(t, e.dst, "gone.txt")
	p := e.make()
	expect(t, p, "forget gone.txt")
	sum, err := p.Summary(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum != (plan.Summary{}) || sum.Changes() {
		t.Errorf("Summary = %+v, want nothing counted for a forget", sum)
	}
	var buf bytes.Buffer
	if err := views.PlanText(e.ctx, &buf, p, e.cfg, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "No changes.") || strings.Contains(buf.String(), "gone.txt") {
		t.Errorf("text of a forget-only plan:\n%s", buf.String())
	}
}

// delete = "managed" never deletes a copy that changed at the destination
// since syncer wrote it: it is kept, its record forgotten, and a warning
// names it. Without a destination listing (-refresh=false) the state is
// all there is, and the copy goes.
func TestManagedKeepsEditedCopies(t *testing.T) {
	for _, mode := range compares {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, compareBody(mode)+"\n  delete = \"managed\"", "")
			e.synced("edited.txt", "as syncer wrote it", base)
			e.synced("untouched.txt", "as syncer wrote it", base)
			writeFile(t, e.dst, "edited.txt", "edited by someone, longer", base.Add(time.Hour))
			removeFile(t, e.src, "edited.txt")
			removeFile(t, e.src, "untouched.txt")
			var logs bytes.Buffer
			p := e.makeOpts(plan.Options{Refresh: true, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			expect(t, p, "delete untouched.txt", "forget edited.txt")
			for _, a := range all(t, p) {
				if a.Kind == plan.Forget && a.Reason != "changed at the destination since syncer wrote it: kept, no longer managed" {
					t.Errorf("forget reason %q", a.Reason)
				}
				if a.Kept != (a.Key == "edited.txt") || a.Phase != plan.AfterCopies {
					t.Errorf("%s %s: kept = %v, phase = %d; want kept only for edited.txt, phase after copies", a.Kind, a.Key, a.Kept, a.Phase)
				}
			}
			if !strings.Contains(logs.String(), `level=WARN msg="keeping destination copies that are gone from the source but were changed since syncer wrote them (delete = \"managed\" never deletes an edit); syncer stops managing them" sync=s count=1 first=edited.txt`) {
				t.Errorf("no warning naming edited.txt:\n%s", logs.String())
			}
			var buf bytes.Buffer
			if err := views.PlanText(e.ctx, &buf, p, e.cfg, 0); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), "edited.txt") || !strings.Contains(buf.String(), "  - untouched.txt") {
				t.Errorf("plan text:\n%s", buf.String())
			}
			expect(t, e.makeOpts(plan.Options{Refresh: false}), "delete edited.txt", "delete untouched.txt")
		})
	}
}

func TestFilters(t *testing.T) {
	e := newEnv(t, `include = ["**/*.md"]
  exclude = ["tmp/**"]
  delete  = "all"`, "")
	for _, k := range []string{"a.md", "b.txt", "docs/c.md", "docs/deep/d.md", "tmp/e.md", "docs/tmp/f.md"} {
		writeFile(t, e.src, k, k, base)
	}
	for _, k := range []string{"old.md", "old.txt", "tmp/old.md", "docs/old.txt"} {
		writeFile(t, e.dst, k, k, base)
	}
	expect(t, e.make(),
		"create a.md", "create docs/c.md", "create docs/deep/d.md", "create docs/tmp/f.md",
		"delete old.md")
}

func TestPrefix(t *testing.T) {
	e := newEnv(t, `prefix = "docs/"
  delete = "all"`, "")
	for _, k := range []string{"docs/a.md", "docs/sub/b.md", "other/c.md", "docsx/d.md", "top.md"} {
		writeFile(t, e.src, k, k, base)
	}
	for _, k := range []string{"docs/old.md", "other/old.md", "docsx/old.md", "old.md"} {
		writeFile(t, e.dst, k, k, base)
	}
	expect(t, e.make(), "create docs/a.md", "create docs/sub/b.md", "delete docs/old.md")

	// Managed deletes and forgets stay within the prefix too.
	m := newEnv(t, `prefix = "docs/"
  delete = "managed"`, "")
	m.synced("docs/gone.md", "x", base)
	m.synced("docs/vanished.md", "x", base)
	m.synced("other/gone.md", "x", base) // recorded before the prefix was set
	m.synced("other/vanished.md", "x", base)
	for _, k := range []string{"docs/gone.md", "other/gone.md", "docs/vanished.md", "other/vanished.md"} {
		removeFile(t, m.src, k)
	}
	removeFile(t, m.dst, "docs/vanished.md")
	removeFile(t, m.dst, "other/vanished.md")
	expect(t, m.make(), "delete docs/gone.md", "forget docs/vanished.md")
}

func TestNoRefresh(t *testing.T) {
	e := newEnv(t, `delete = "managed"`, "")
	e.synced("deleted-at-dst.txt", "x", base)
	removeFile(t, e.dst, "deleted-at-dst.txt")
	e.synced("unchanged.txt", "u", base)
	e.synced("changed.txt", "c", base)
	writeFile(t, e.src, "changed.txt", "changed", base.Add(time.Hour))
	e.synced("gone.txt", "g", base)
	removeFile(t, e.src, "gone.txt")
	writeFile(t, e.src, "new.txt", "n", base)
	writeFile(t, e.dst, "foreign.txt", "f", base)
	// Drift at the destination is only seen by listing it.
	e.synced("drifted.txt", "d", base)
	writeFile(t, e.dst, "drifted.txt", "drifted", base.Add(time.Hour))

	// The destination is never listed.
	spy := &listSpy{}
	p, err := plan.Make(e.ctx, e.cfg, e.st, spy.opener, plan.Options{Refresh: false})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if spy.dstLists != 0 {
		t.Errorf("-refresh=false listed the destination %d times", spy.dstLists)
	}
	expect(t, p, "create new.txt", "update changed.txt", "delete gone.txt")
	if p.Meta.Refresh {
		t.Error("Meta.Refresh = true for a -refresh=false plan")
	}
	for _, a := range all(t, p) {
		if a.Kind == plan.Update && a.Reason != "source changed" {
			t.Errorf("update reason %q, want source changed", a.Reason)
		}
	}

	// The same tree with refresh sees the destination.
	p.Close()
	expect(t, e.make(), "create new.txt", "update changed.txt", "delete gone.txt",
		"create deleted-at-dst.txt", "update drifted.txt")

	// Without a listing, delete = "all" can only delete what syncer wrote.
	a := newEnv(t, `delete = "all"`, "")
	a.synced("gone.txt", "g", base)
	removeFile(t, a.src, "gone.txt")
	writeFile(t, a.dst, "foreign.txt", "f", base)
	expect(t, a.makeOpts(plan.Options{Refresh: false}), "delete gone.txt")

	// delete = "none" never deletes.
	n := newEnv(t, `delete = "none"`, "")
	n.synced("gone.txt", "g", base)
	removeFile(t, n.src, "gone.txt")
	expect(t, n.makeOpts(plan.Options{Refresh: false}))
}

// listSpy opens backends like opener, counting List calls on backends
// named "dst".
type listSpy struct{ dstLists int }

type spyBackend struct {
	backends.Backend
	spy *listSpy
}

func (b spyBackend) List(ctx context.Context, prefix string, fn func(backends.Object) error) error {
	b.spy.dstLists++
	return b.Backend.List(ctx, prefix, fn)
}

func (s *listSpy) opener(cb *config.Backend) (backends.Backend, error) {
	b, err := opener(cb)
	if err != nil || cb.Name != "dst" {
		return b, err
	}
	return spyBackend{Backend: b, spy: s}, nil
}

// TestManyKeys goes past the page sizes of hashing (256), recorded deletes
// (256) and reading actions (512).
func TestManyKeys(t *testing.T) {
	const n = 700
	e := newEnv(t, `compare = "checksum"
  delete = "managed"`, "")
	var keys []string
	for i := range n {
		k := fmt.Sprintf("d%d/f%04d.txt", i%7, i)
		keys = append(keys, k)
		writeFile(t, e.src, k, fmt.Sprintf("content %04d", i), base)
		e.copy(k)
	}
	e.record(keys...)
	expect(t, e.make())

	var want []string
	for i, k := range keys {
		switch i % 3 {
		case 0: // same size, new content and mtime
			writeFile(t, e.src, k, fmt.Sprintf("CONTENT %04d", i), base.Add(time.Minute))
			want = append(want, "update "+k)
		case 1:
			removeFile(t, e.src, k)
			want = append(want, "delete "+k)
		}
	}
	for _, refresh := range []bool{true, false} {
		p := e.makeOpts(plan.Options{Refresh: refresh})
		expect(t, p, want...)
		ids := map[int64]bool{}
		for _, a := range all(t, p) {
			if ids[a.ID] {
				t.Fatalf("action id %d read twice", a.ID)
			}
			ids[a.ID] = true
		}
	}
}

func TestAdoptPending(t *testing.T) {
	for _, mode := range compares {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, compareBody(mode), "")
			// An apply copied these, then was killed before recording them.
			writeFile(t, e.src, "done.txt", "copied", base)
			e.copy("done.txt")
			writeFile(t, e.src, "half.txt", "new content", base.Add(time.Hour))
			writeFile(t, e.dst, "half.txt", "old conten", base) // differs in every mode
			writeFile(t, e.src, "unmarked.txt", "same", base)
			e.copy("unmarked.txt")
			if err := e.st.MarkPending(e.ctx, "s", []string{"done.txt", "half.txt"}); err != nil {
				t.Fatal(err)
			}
			if err := e.st.MarkPending(e.ctx, "other", []string{"unmarked.txt"}); err != nil {
				t.Fatal(err)
			}

			p := e.make()
			// unmarked.txt, pending for another sync only, matches too: it
			// is adopted as already in place.
			expect(t, p, "adopt done.txt", "adopt unmarked.txt", "update half.txt")
			sum, _ := p.Summary(e.ctx)
			if sum.Create != 0 || sum.Update != 1 || sum.Delete != 0 || sum.Adopt != 2 {
				t.Errorf("Summary = %+v, want the update and two adopts counted", sum)
			}
			for _, a := range all(t, p) {
				if a.Kind != plan.Adopt {
					continue
				}
				if want := map[string]string{"done.txt": "copied by an interrupted apply", "unmarked.txt": "already in place"}[a.Key]; a.Reason != want {
					t.Errorf("adopt %s reason %q, want %q", a.Key, a.Reason, want)
				}
				so, _ := e.srcB.Stat(e.ctx, a.Key)
				do, _ := e.dstB.Stat(e.ctx, a.Key)
				if a.Src.Size != so.Size || a.Src.MTime != so.ModTime.UnixNano() ||
					a.Dst.Size != do.Size || a.Dst.MTime != do.ModTime.UnixNano() {
					t.Errorf("adopt fingerprints src %+v dst %+v, want %d/%d and %d/%d",
						a.Src, a.Dst, so.Size, so.ModTime.UnixNano(), do.Size, do.ModTime.UnixNano())
				}
				if mode == "checksum" && (a.Src.MD5 == "" || a.Src.MD5 != a.Dst.MD5) {
					t.Errorf("checksum adopt md5s src %q dst %q, want equal and known", a.Src.MD5, a.Dst.MD5)
				}
			}

			if err := e.st.ClearPending(e.ctx); err != nil {
				t.Fatal(err)
			}
			expect(t, e.make(), "adopt done.txt", "adopt unmarked.txt", "update half.txt")
		})
	}
}

func TestTargets(t *testing.T) {
	dir := t.TempDir()
	cfg := parse(t, dir, `
backend "local" "a" { path = "a" }
backend "local" "b" { path = "b" }
backend "local" "c" { path = "c" }
sync "one" {
  from = backend.local.a
  to   = backend.local.b
}
sync "two" {
  from = backend.local.a
  to   = backend.local.c
}
`)
	st := openState(t, cfg.State.Path)
	writeFile(t, filepath.Join(dir, "a"), "f.txt", "f", base)
	ctx := context.Background()

	p, err := plan.Make(ctx, cfg, st, opener, plan.Options{Refresh: true, Targets: []string{"two"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var got []string
	for _, a := range all(t, p) {
		got = append(got, a.Sync+": "+string(a.Kind)+" "+a.Key)
	}
	if !slices.Equal(got, []string{"two: create f.txt"}) {
		t.Errorf("targeted actions = %q, want only sync two's", got)
	}
	if syncs, _ := p.Syncs(ctx); !slices.Equal(syncs, []string{"two"}) {
		t.Errorf("Syncs = %q, want [two]", syncs)
	}
	if !slices.Equal(p.Meta.Targets, []string{"two"}) {
		t.Errorf("Meta.Targets = %q", p.Meta.Targets)
	}
	p.Close()

	pall, err := plan.Make(ctx, cfg, st, opener, plan.Options{Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pall.Close()
	if syncs, _ := pall.Syncs(ctx); !slices.Equal(syncs, []string{"one", "two"}) {
		t.Errorf("Syncs of an untargeted plan = %q, want [one two]", syncs)
	}
	one, _ := pall.SyncSummary(ctx, "one")
	if one.Create != 1 {
		t.Errorf("SyncSummary(one) = %+v", one)
	}
	// Each sync's summary and the total come from one pass: the total adds
	// the syncs up.
	two, _ := pall.SyncSummary(ctx, "two")
	total, _ := pall.Summary(ctx)
	if two != one || total.Create != 2 || total.Bytes != 2 || total.Update+total.Delete+total.Adopt != 0 {
		t.Errorf("SyncSummary(two) = %+v, Summary = %+v, want one create of 1 B each, 2 in all", two, total)
	}
	if none, _ := pall.SyncSummary(ctx, "three"); none != (plan.Summary{}) {
		t.Errorf("SyncSummary(three) = %+v, want zero", none)
	}

	_, err = plan.Make(ctx, cfg, st, opener, plan.Options{Refresh: true, Targets: []string{"two", "three"}})
	if err == nil || !strings.Contains(err.Error(), `"three"`) {
		t.Errorf("unknown target: err = %v, want it to name \"three\"", err)
	}
	if ss, err := plan.Targets(cfg, []string{"two", "one"}); err != nil || len(ss) != 2 || ss[0].Name != "one" {
		t.Errorf("Targets(two, one) = %v, %v; want both in config order", ss, err)
	}
}

// leftovers returns the files in an env's root other than src, dst and
// the state's own files: plan work files that were not removed.
func leftovers(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		switch e.Name() {
		case "src", "dst", "syncer.db", "syncer.db-wal", "syncer.db-shm", "syncer.db.lock":
		default:
			out = append(out, e.Name())
		}
	}
	return out
}

func TestMaxDelete(t *testing.T) {
	e := newEnv(t, `delete = "all"`, "limits { max_delete = 1 }")
	writeFile(t, e.dst, "x", "x", base)
	writeFile(t, e.dst, "y", "y", base)
	p, err := plan.Make(e.ctx, e.cfg, e.st, opener, plan.Options{Refresh: true})
	if err == nil {
		p.Close()
		t.Fatal("Make planned 2 deletes under max_delete = 1")
	}
	if !strings.Contains(err.Error(), "max_delete") {
		t.Errorf("err = %v, want it to mention max_delete", err)
	}
	// The refusal lists the deletes it would make.
	if !strings.Contains(err.Error(), "\n  sync \"s\" would delete:\n  - x\n  - y") {
		t.Errorf("err = %v, want the deletes listed", err)
	}
	if left := leftovers(t, e.root); len(left) != 0 {
		t.Errorf("failed Make left work files: %q", left)
	}

	removeFile(t, e.dst, "y")
	p = e.make()
	expect(t, p, "delete x")
	writeFile(t, e.dst, "y", "y", base)
	writeFile(t, e.dst, "z", "z", base)
	e.cfg.Limits.MaxDelete = -1
	p = e.make()
	if got, err := plan.ListDeletes(e.ctx, p, 1); err != nil || got != "\n  sync \"s\" would delete:\n  - x\n  ... and 2 more" {
		t.Errorf("ListDeletes(1) = %q, %v", got, err)
	}
}

// A missing source folder fails the plan (its destination would otherwise
// look like a mirror of nothing); a missing destination folder is just empty.
func TestMissingSourceFolder(t *testing.T) {
	e := newEnv(t, `delete = "all"`, "")
	writeFile(t, e.dst, "x", "x", base)
	if err := os.Remove(e.src); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Make(e.ctx, e.cfg, e.st, opener, plan.Options{Refresh: true})
	if err == nil {
		p.Close()
		t.Fatal("Make planned a sync whose source folder is missing")
	}
	if want := `sync "s": source local "src" (` + e.src + `): the folder does not exist`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	writeFile(t, e.src, "x", "x", base)
	if err := os.RemoveAll(e.dst); err != nil {
		t.Fatal(err)
	}
	expect(t, e.make(), "create x")
}

// renderEnv has one create (2048 bytes), one update (1000 bytes) and one
// delete.
func renderEnv(t *testing.T) (*env, *plan.Plan) {
	e := newEnv(t, `delete = "all"`, "")
	writeFile(t, e.src, "new.bin", strings.Repeat("n", 2048), base)
	e.synced("changed.txt", "old", base)
	writeFile(t, e.src, "changed.txt", strings.Repeat("c", 1000), base.Add(time.Hour))
	writeFile(t, e.dst, "stale.txt", "stale", base)
	return e, e.make()
}

func TestSummaryAndStats(t *testing.T) {
	e, p := renderEnv(t)
	sum, err := p.Summary(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (plan.Summary{Create: 1, Update: 1, Delete: 1, Bytes: 3048}); sum != want {
		t.Errorf("Summary = %+v, want %+v", sum, want)
	}
	if !sum.Changes() {
		t.Error("Changes() = false")
	}
	if ss, _ := p.SyncSummary(e.ctx, "s"); ss != sum {
		t.Errorf("SyncSummary(s) = %+v, want %+v", ss, sum)
	}
	if ss, _ := p.SyncSummary(e.ctx, "other"); ss.Changes() {
		t.Errorf("SyncSummary(other) = %+v, want nothing", ss)
	}
	cs, err := p.CopyStats(e.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (plan.SizeStats{Count: 2, Bytes: 3048, Small: 2}); cs != want {
		t.Errorf("CopyStats = %+v, want %+v", cs, want)
	}
	if syncs, _ := p.Syncs(e.ctx); !slices.Equal(syncs, []string{"s"}) {
		t.Errorf("Syncs = %q", syncs)
	}
	// Only visible kinds are read when asked for.
	var deletes []string
	p.Each(e.ctx, "s", []plan.Kind{plan.Delete}, func(a plan.Action) error {
		deletes = append(deletes, a.Key)
		return nil
	})
	if !slices.Equal(deletes, []string{"stale.txt"}) {
		t.Errorf("Each(delete) = %q", deletes)
	}
}

func TestWriteJSONNoChanges(t *testing.T) {
	e := newEnv(t, "", "")
	e.synced("f", "f", base)
	p := e.make()
	var buf bytes.Buffer
	if err := writeJSON(e.ctx, &buf, p); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("JSON of a no-change plan %q: %v", buf.String(), err)
	}
	if m["type"] != "change_summary" || m["message"] != "No changes." {
		t.Errorf("JSON of a no-change plan = %v", m)
	}
}

func TestWriteJSON(t *testing.T) {
	e, p := renderEnv(t)
	var buf bytes.Buffer
	if err := writeJSON(e.ctx, &buf, p); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 3 changes and a summary, got:\n%s", buf.String())
	}
	type line struct {
		Type, Sync, Action, Key, Reason, Message string
		Size, Create, Update, Delete, Bytes      int64
	}
	var got []string
	for i, l := range lines {
		var v line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		if i < 3 {
			if v.Type != "planned_change" || v.Sync != "s" {
				t.Errorf("line %d = %+v, want a planned_change of sync s", i, v)
			}
			got = append(got, fmt.Sprintf("%s %s %d", v.Action, v.Key, v.Size))
			continue
		}
		want := line{Type: "change_summary", Create: 1, Update: 1, Delete: 1, Bytes: 3048,
			Message: "Plan: 1 to create, 1 to update, 1 to delete (3.0 KiB to transfer)."}
		if v != want {
			t.Errorf("summary = %+v, want %+v", v, want)
		}
	}
	slices.Sort(got)
	if want := []string{"create new.bin 2048", "delete stale.txt 5", "update changed.txt 1000"}; !slices.Equal(got, want) {
		t.Errorf("changes = %q, want %q", got, want)
	}
}

func TestPlanFile(t *testing.T) {
	e, _ := renderEnv(t)
	// Also a forget, which a saved plan must keep.
	e.synced("both-gone", "x", base)
	removeFile(t, e.src, "both-gone")
	removeFile(t, e.dst, "both-gone")
	p := e.make()
	want := all(t, p)

	dir := t.TempDir()
	path := filepath.Join(dir, "my plan.tfplan")
	// Saving over an empty file, then over that earlier plan, replaces it,
	// with mode 0600.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.Save(e.ctx, path); err != nil {
			t.Fatal(err)
		}
	}
	// Anything else is refused and left as it was: a file that is not a
	// plan (a state, a config), a folder, a symlink.
	stateBytes, err := os.ReadFile(e.cfg.State.Path)
	if err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{
		e.cfg.State.Path: " exists and is not a syncer plan; not overwriting it (remove it, or choose another name)",
		notes:            " exists and is not a syncer plan; not overwriting it (remove it, or choose another name)",
		dir:              " is a folder",
		link:             " is a symlink, not a regular file; not overwriting it",
	} {
		if err := p.Save(e.ctx, target); err == nil || err.Error() != "save plan: "+target+want {
			t.Errorf("Save(%s) = %v; want save plan: %s%s", target, err, target, want)
		}
	}
	if got, _ := os.ReadFile(e.cfg.State.Path); !bytes.Equal(got, stateBytes) {
		t.Error("Save over the state changed it")
	}
	if got, _ := os.ReadFile(notes); string(got) != "keep me" {
		t.Errorf("Save over notes.txt changed it to %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Errorf("Save left temporary files: %q", left)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %o, want 600", fi.Mode().Perm())
	}

	saved, err := plan.Open(e.ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer saved.Close()
	got := all(t, saved)
	if len(got) != len(want) {
		t.Fatalf("saved plan has %d actions, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("saved action %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	m, wm := saved.Meta, p.Meta
	if m.Lineage != wm.Lineage || m.Serial != wm.Serial || m.ConfigHash != wm.ConfigHash || m.Version != "test" ||
		!m.Created.Equal(wm.Created) || m.Refresh != wm.Refresh || !slices.Equal(m.Targets, wm.Targets) {
		t.Errorf("saved Meta = %+v, want %+v", m, wm)
	}
	if wm.ConfigHash != e.cfg.Hash || wm.ConfigHash == "" {
		t.Errorf("Meta.ConfigHash = %q, want the config's %q", wm.ConfigHash, e.cfg.Hash)
	}
	ws, _ := p.Summary(e.ctx)
	if s, _ := saved.Summary(e.ctx); s != ws {
		t.Errorf("saved Summary = %+v, want %+v", s, ws)
	}

	// Freshness.
	v, err := e.st.Version(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Lineage != v.Lineage || m.Serial != v.Serial {
		t.Errorf("plan made against %s/%d, state is %s/%d", m.Lineage, m.Serial, v.Lineage, v.Serial)
	}
	if err := saved.CheckFresh(v, e.cfg.Hash); err != nil {
		t.Errorf("CheckFresh of a fresh plan: %v", err)
	}
	var stale *plan.StaleError
	if err := saved.CheckFresh(v, "another-hash"); !errors.As(err, &stale) {
		t.Errorf("CheckFresh with another config hash = %v, want *StaleError", err)
	}
	other := openState(t, filepath.Join(t.TempDir(), "other.db"))
	ov, _ := other.Version(e.ctx)
	if err := saved.CheckFresh(ov, e.cfg.Hash); !errors.As(err, &stale) || !strings.Contains(err.Error(), "another state") {
		t.Errorf("CheckFresh against another state = %v, want *StaleError about another state", err)
	}
	bumped, err := e.st.BumpSerial(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := saved.CheckFresh(bumped, e.cfg.Hash); !errors.As(err, &stale) {
		t.Errorf("CheckFresh after BumpSerial = %v, want *StaleError", err)
	}

	// Closing the opened plan keeps the file; closing the made one
	// removes its work file.
	if err := saved.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Close removed the saved plan: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, e.root); len(left) != 0 {
		t.Errorf("work files left after Close: %q", left)
	}
}

// A plan file of an older format (before actions had a phase) is refused
// with a message that says so, not misread.
func TestOpenRefusesOlderFormat(t *testing.T) {
	e := newEnv(t, "", "")
	writeFile(t, e.src, "a.txt", "a", base)
	p := e.make()
	defer p.Close()
	// 2 had no skip kind: its plans would not show keys that cannot be
	// written.
	for _, v := range []string{"1", "2"} {
		path := filepath.Join(t.TempDir(), "old.tfplan")
		if err := p.Save(e.ctx, path); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite3", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE meta SET value = ? WHERE key = 'format_version'`, v); err != nil {
			t.Fatal(err)
		}
		db.Close()
		old, err := plan.Open(e.ctx, path)
		if err == nil {
			old.Close()
			t.Fatalf("Open accepted a plan of format %s", v)
		}
		if want := `plan format "` + v + `" is not supported by this syncer`; !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q; want it to say %q", err, want)
		}
	}
}

func TestOpenRejectsNonPlans(t *testing.T) {
	dir := t.TempDir()
	random := make([]byte, 4096)
	rand.Read(random)
	files := map[string][]byte{
		"random":   random,
		"empty":    nil,
		"text":     []byte("hello"),
		"sqlitish": []byte("SQLite format 3\x00 but then garbage follows here"),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A state database is SQLite but not a plan.
	st := openState(t, filepath.Join(dir, "state.db"))
	st.Close()
	stateBytes, _ := os.ReadFile(filepath.Join(dir, "state.db"))
	files["state.db"] = stateBytes

	for name := range files {
		t.Run(name, func(t *testing.T) {
			p, err := plan.Open(context.Background(), filepath.Join(dir, name))
			if err == nil {
				p.Close()
				t.Fatal("Open accepted a file that is not a plan")
			}
			if !strings.Contains(err.Error(), "not a syncer plan") && !strings.Contains(err.Error(), "plan file") {
				t.Errorf("err = %q, want it to say the file is not a syncer plan", err)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(b, files[name]) {
				t.Error("Open modified the file")
			}
		})
	}
	if _, err := plan.Open(context.Background(), filepath.Join(dir, "missing")); err == nil {
		t.Error("Open of a missing file succeeded")
	}
}

func TestAwkwardNames(t *testing.T) {
	keys := []string{
		"with space.txt",
		"  leading and trailing  ",
		"unicode/日本語/файл-ü.txt",
		"percent %20 %zz.txt",
		"hash #1.txt",
		"query?x=1&y=2.txt",
		"plus+sign.txt",
		"quote's \"double\".txt",
		".hidden",
		".dir/.also-hidden",
		"a/b/c/d/e/f/g/h/i/j/k/deep.txt",
		"zero-bytes",
		"empty/dir/zero",
	}
	for _, mode := range compares {
		t.Run(mode, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "awk ward %25 #dir ?q")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			e := newEnvIn(t, root, compareBody(mode)+"\n  delete = \"managed\"", "")
			var want []string
			for _, k := range keys {
				data := "content of " + k
				if strings.Contains(k, "zero") {
					data = ""
				}
				writeFile(t, e.src, k, data, base)
				want = append(want, "create "+k)
			}
			p := e.make()
			expect(t, p, want...)
			for _, a := range all(t, p) {
				if strings.Contains(a.Key, "zero") && a.Size != 0 {
					t.Errorf("%q planned with size %d, want 0", a.Key, a.Size)
				}
			}

			// Once copied and recorded, nothing is left to do; once gone
			// from the source, each is deleted by its exact key.
			for _, k := range keys {
				e.copy(k)
			}
			e.record(keys...)
			expect(t, e.make())
			for _, k := range keys {
				removeFile(t, e.src, k)
			}
			want = want[:0]
			for _, k := range keys {
				want = append(want, "delete "+k)
			}
			expect(t, e.make(), want...)
		})
	}
}

// TestListingProgress: a long listing logs how far it got ("still listing")
// between batches, before its final "listed" line.
func TestListingProgress(t *testing.T) {
	defer plan.SetListProgressEvery(0)()
	e := newEnv(t, "", "")
	const n = 1500 // three batches of 512 rows
	for i := range n {
		writeFile(t, e.src, fmt.Sprintf("f%04d", i), "x", base)
	}
	var logs bytes.Buffer
	p := e.makeOpts(plan.Options{Refresh: true, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if got := len(all(t, p)); got != n {
		t.Fatalf("plan has %d actions; want %d", got, n)
	}
	var still []string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, `msg="still listing source"`) {
			still = append(still, line)
		}
	}
	if len(still) != 2 || !strings.Contains(still[0], "objects=512") || !strings.Contains(still[1], "objects=1024") {
		t.Errorf("progress lines %q; want two, at 512 and 1024 objects\n%s", still, logs.String())
	}
	if !strings.Contains(logs.String(), `msg="listed source"`) || !strings.Contains(logs.String(), "objects=1500") {
		t.Errorf("no final listed line:\n%s", logs.String())
	}
}

// Deletes that stand where a copy must go (a file where the copy needs a
// folder, or the files of a folder where the copy is a file) are put in the
// phase before the copies, with a reason that says so; other deletes run
// after the copies.
func TestInTheWay(t *testing.T) {
	e := newEnv(t, `delete = "all"`, "")
	writeFile(t, e.src, "docs/a.txt", "a", base)
	writeFile(t, e.src, "old", "now a file", base)
	writeFile(t, e.dst, "docs", "a file", base)
	writeFile(t, e.dst, "docsx", "unrelated", base)
	writeFile(t, e.dst, "old/a/b.txt", "deep", base)
	writeFile(t, e.dst, "olden.txt", "unrelated", base)
	got := map[string]string{}
	phases := map[string]plan.Phase{}
	for _, a := range all(t, e.make()) {
		if a.Kind == plan.Delete {
			got[a.Key] = a.Reason
		}
		phases[a.Key] = a.Phase
	}
	want := map[string]string{"docs": plan.InTheWay, "old/a/b.txt": plan.InTheWay, "docsx": "not in source", "olden.txt": "not in source"}
	if !maps.Equal(got, want) {
		t.Errorf("delete reasons = %q; want %q", got, want)
	}
	wantPhases := map[string]plan.Phase{"docs": plan.BeforeCopies, "old/a/b.txt": plan.BeforeCopies,
		"docs/a.txt": plan.Copies, "old": plan.Copies, "docsx": plan.AfterCopies, "olden.txt": plan.AfterCopies}
	if !maps.Equal(phases, wantPhases) {
		t.Errorf("phases = %v; want %v", phases, wantPhases)
	}
}

// A state damaged below its header (its objects table) fails Make with the
// state's account of it, given once, as the CLI prints it.
func TestCorruptState(t *testing.T) {
	e := newEnv(t, `delete = "managed"`, "")
	writeFile(t, e.src, "a.txt", "a", base)
	var changes []state.Change
	for i := range 2000 {
		changes = append(changes, state.Change{Record: state.Record{Sync: "s", Key: fmt.Sprintf("photos/%05d.jpg", i),
			Src: state.Fingerprint{Size: int64(i)}, Dst: state.Fingerprint{Size: int64(i)}, Written: base}})
	}
	if err := e.st.Apply(e.ctx, changes); err != nil {
		t.Fatal(err)
	}
	path := e.cfg.State.Path
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	// XOR the b-tree page header of the objects table's root page.
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	if err := db.QueryRow(`SELECT rootpage, (SELECT page_size FROM pragma_page_size()) FROM sqlite_schema WHERE name = 'objects'`).Scan(&root, &pageSize); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	if _, err := f.ReadAt(b, (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0xa5
	}
	if _, err := f.WriteAt(b, (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	e.st = openState(t, path)
	p, err := plan.Make(e.ctx, e.cfg, e.st, opener, plan.Options{Refresh: true})
	if err == nil {
		p.Close()
		t.Fatal("Make on a corrupt state succeeded")
	}
	var ce *state.CorruptError
	msg := err.Error()
	if !errors.As(err, &ce) || ce.Path != path || strings.Count(msg, "is corrupt") != 1 ||
		!strings.HasPrefix(msg, "state "+path+` is corrupt (sync "s": `) ||
		!strings.HasSuffix(msg, ": database disk image is malformed): restore it from a backup, or move it aside and run plan again") {
		t.Errorf("Make = %q, want the state's *CorruptError for %s, explained once", err, path)
	}
}

// Adopts are found in the same pass as creates and updates, yet each
// sync's actions stay in the order the plan lists them: its copies in key
// order, then its adopts in key order, with the destination's fingerprint
// and no source id.
func TestAdoptsFollowCopies(t *testing.T) {
	e := newEnv(t, "", `backend "local" "dst2" { path = "dst2" }
sync "t" {
  from = backend.local.src
  to   = backend.local.dst2
}`)
	for _, k := range []string{"a.txt", "b.txt", "c.txt", "d.txt"} {
		writeFile(t, e.src, k, "content of "+k, base)
	}
	for _, dst := range []string{e.dst, filepath.Join(e.root, "dst2")} {
		writeFile(t, dst, "b.txt", "content of b.txt", base)
		writeFile(t, dst, "d.txt", "content of d.txt", base)
		writeFile(t, dst, "c.txt", "other", base)
	}
	var got []string
	for _, a := range all(t, e.make()) {
		got = append(got, fmt.Sprintf("%s %s %s", a.Sync, a.Kind, a.Key))
		if a.Kind == plan.Adopt && (a.Dst.Size != int64(len("content of "+a.Key)) || a.Dst.MTime != base.UnixNano() || a.Src.ID != "") {
			t.Errorf("adopt %s: dst %+v, src id %q; want the destination's size and mtime, no id", a.Key, a.Dst, a.Src.ID)
		}
		if a.Kind != plan.Adopt && a.Dst != (state.Fingerprint{}) {
			t.Errorf("%s %s: dst %+v; want none", a.Kind, a.Key, a.Dst)
		}
	}
	want := []string{"t create a.txt", "t update c.txt", "t adopt b.txt", "t adopt d.txt", // t comes first in the file
		"s create a.txt", "s update c.txt", "s adopt b.txt", "s adopt d.txt"}
	if !slices.Equal(got, want) {
		t.Errorf("actions in plan order:\n%q\nwant\n%q", got, want)
	}
}
