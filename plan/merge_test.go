package plan_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/local"
	"syncer/config"
	"syncer/plan"
)

// mergeKeys are keys whose order as keys differs from their names' order in
// a folder ("b/c.d/e" before "b/c/x" as keys, after it as names), in folders
// at several depths, inside and outside the prefix "b/".
var mergeKeys = []string{"a.txt", "a-b", "a0", "a/x", "a/y/z", "b/c", "b/c.d/e", "b/c-d", "b/cd", "b/c0/x",
	"b/sub/f1", "b/sub/f2", "bb", "d1/f1", "d1/f2", "d1/sub/f3", "e/x", "é/x", "zz/deep/deeper/f", "~z"}

// TestMergedPlanEqualsStored: a plan made by merging sorted listings against
// the state (storing only what may change) is, action for action and field
// for field, the plan made from full listings, over random mixes of every
// case a key can be in, for each compare mode merging serves, each delete
// policy, with and without a prefix and a name filter.
func TestMergedPlanEqualsStored(t *testing.T) {
	bodies := []string{}
	for _, cmp := range []string{"modtime", "size"} {
		for _, del := range []string{"all", "managed", "none"} {
			bodies = append(bodies, fmt.Sprintf("compare = %q\n  delete = %q", cmp, del))
		}
	}
	bodies = append(bodies, `delete = "all"
  prefix = "b/"`, `delete = "managed"
  prefix = "b/c"`, `delete = "all"
  exclude = ["d1/**"]`)
	for i, body := range bodies {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("%d/seed%d", i, seed), func(t *testing.T) {
				e := newEnv(t, body, "")
				mixKeys(e, rand.New(rand.NewPCG(seed, uint64(i))), mergeKeys)
				merged, stored, _ := planBothWays(t, e)
				if len(stored) == 0 {
					t.Fatal("no actions: the mix tests nothing")
				}
				if !reflect.DeepEqual(merged, stored) {
					t.Errorf("merged plan:\n%s\nplan from stored listings:\n%s", actionLines(merged), actionLines(stored))
				}
			})
		}
	}
}

// TestMergedPlanEqualsStoredLargeFolder: a folder larger than a sorted local
// listing may hold at once (10,000 entries), with a folder among its files,
// is listed in passes on both sides; the merged plan is still the plan made
// from stored listings.
func TestMergedPlanEqualsStoredLargeFolder(t *testing.T) {
	keys := []string{"a", "big/0004a-x", "big/0004a/in", "big/sub/y"}
	for i := range 16_000 {
		keys = append(keys, fmt.Sprintf("big/%05d", i))
	}
	keys = append(keys, "c")
	e := newEnv(t, `delete = "all"`, "")
	mixKeys(e, rand.New(rand.NewPCG(7, 16)), keys)
	for _, side := range []string{e.src, e.dst} {
		if entries, err := os.ReadDir(filepath.Join(side, "big")); err != nil || len(entries) <= 10_000 {
			t.Fatalf("%s/big: %d entries, %v; want more than a sorted listing holds at once", side, len(entries), err)
		}
	}
	merged, stored, mergeLog := planBothWays(t, e)
	if strings.Contains(mergeLog, "unsorted") {
		t.Fatalf("the listings were not merged in passes:\n%s", mergeLog)
	}
	if len(stored) < 5_000 {
		t.Fatalf("%d actions: the mix tests too little", len(stored))
	}
	if !reflect.DeepEqual(merged, stored) {
		t.Errorf("merged plan (%d actions) differs from the plan from stored listings (%d)", len(merged), len(stored))
		for i := range min(len(merged), len(stored)) {
			if !reflect.DeepEqual(merged[i], stored[i]) {
				t.Fatalf("first difference, action %d:\n  merged %+v\n  stored %+v", i, merged[i], stored[i])
			}
		}
	}
}

// planBothWays plans e twice: with the listings merged against the state
// (which the log must say), and from stored listings with merging off. It
// returns both plans and the first plan's log.
func planBothWays(t *testing.T, e *env) (merged, stored []plan.Action, mergeLog string) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	merged = all(t, e.makeOpts(plan.Options{Refresh: true, Version: "test", Log: log}))
	mergeLog = logs.String()
	if !strings.Contains(mergeLog, "listings merged with the state") {
		t.Fatalf("the listings were not merged:\n%s", mergeLog)
	}
	defer plan.SetMergeListings(false)()
	logs.Reset()
	stored = all(t, e.makeOpts(plan.Options{Refresh: true, Version: "test", Log: log}))
	if strings.Contains(logs.String(), "listings merged") {
		t.Fatal("merged with merging off")
	}
	return merged, stored, mergeLog
}

func actionLines(as []plan.Action) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "  %+v\n", a)
	}
	return b.String()
}

// mixKeys puts each of keys, at random, in one of the cases a key can
// be in: recorded and unchanged, changed on one side or both, gone from one
// side or both, on one side only, on both unrecorded (equal or not).
func mixKeys(e *env, r *rand.Rand, keys []string) {
	e.t.Helper()
	later := base.Add(time.Hour)
	for _, k := range keys {
		switch r.IntN(12) {
		case 0, 1: // recorded, unchanged
			e.synced(k, "v1 "+k, base)
		case 2: // source rewritten
			e.synced(k, "v1 "+k, base)
			writeFile(e.t, e.src, k, "v2, longer "+k, later)
		case 3: // source touched
			e.synced(k, "v1 "+k, base)
			chtime(e.t, e.src, k, later)
		case 4: // destination rewritten
			e.synced(k, "v1 "+k, base)
			writeFile(e.t, e.dst, k, "edited "+k, later)
		case 5: // destination replaced by the same bytes and time: only its version tag differs
			e.synced(k, "v1 "+k, base)
			removeFile(e.t, e.dst, k)
			writeFile(e.t, e.dst, k, "v1 "+k, base)
		case 6: // gone from the destination
			e.synced(k, "v1 "+k, base)
			removeFile(e.t, e.dst, k)
		case 7: // gone from the source
			e.synced(k, "v1 "+k, base)
			removeFile(e.t, e.src, k)
		case 8: // gone from both
			e.synced(k, "v1 "+k, base)
			removeFile(e.t, e.src, k)
			removeFile(e.t, e.dst, k)
		case 9: // new at the source
			writeFile(e.t, e.src, k, "new "+k, base)
		case 10: // only at the destination, unrecorded
			writeFile(e.t, e.dst, k, "theirs "+k, base)
		case 11: // on both sides, unrecorded: equal or not
			writeFile(e.t, e.src, k, "both "+k, base)
			writeFile(e.t, e.dst, k, []string{"both ", "other "}[r.IntN(2)]+k, base)
		}
	}
}

// disorderly lists a local backend "in key order" wrongly: swapped swaps
// its second and third objects; else it gives up after two, as a local
// folder too large to sort does.
type disorderly struct {
	*local.Backend
	swapped bool
}

func (b disorderly) ListSorted(ctx context.Context, prefix string, fn func(backends.Object) error) error {
	var objs []backends.Object
	if err := b.Backend.ListSorted(ctx, prefix, func(o backends.Object) error {
		objs = append(objs, o)
		return nil
	}); err != nil {
		return err
	}
	if len(objs) < 3 {
		panic("disorderly needs three objects")
	}
	if b.swapped {
		objs[1], objs[2] = objs[2], objs[1]
	}
	for i, o := range objs {
		if i == 2 && !b.swapped {
			return fmt.Errorf("list %s: %w", b, backends.ErrUnsorted)
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// TestMergeFallsBackWhenUnsorted: a side whose sorted listing turns out
// unsorted (out of order, or given up) is listed again as it comes, and the
// plan is the one made from full listings.
func TestMergeFallsBackWhenUnsorted(t *testing.T) {
	for _, side := range []string{"src", "dst"} {
		for _, swapped := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/swapped=%v", side, swapped), func(t *testing.T) {
				e := newEnv(t, `delete = "managed"`, "")
				mixKeys(e, rand.New(rand.NewPCG(7, 7)), mergeKeys)
				for _, k := range []string{"0/a", "0/b", "0/c"} { // three on each side, whatever the mix
					e.synced(k, k, base)
				}
				open := func(cb *config.Backend) (backends.Backend, error) {
					b, err := opener(cb)
					if err != nil || cb.Name != side {
						return b, err
					}
					return disorderly{Backend: b.(*local.Backend), swapped: swapped}, nil
				}
				var logs bytes.Buffer
				log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				p, err := plan.Make(e.ctx, e.cfg, e.st, open, plan.Options{Refresh: true, Version: "test", Log: log})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				if !strings.Contains(logs.String(), "listing again, unsorted") || strings.Contains(logs.String(), "listings merged") {
					t.Errorf("no fallback logged:\n%s", logs.String())
				}
				got := all(t, p)
				defer plan.SetMergeListings(false)()
				if want := all(t, e.make()); !reflect.DeepEqual(got, want) {
					t.Errorf("plan after the fallback:\n%s\nplan from stored listings:\n%s", actionLines(got), actionLines(want))
				}
			})
		}
	}
}

// doubled lists a local backend with its first object given twice, sorted
// or not.
type doubled struct{ *local.Backend }

func twice(list func(context.Context, string, func(backends.Object) error) error) func(context.Context, string, func(backends.Object) error) error {
	return func(ctx context.Context, prefix string, fn func(backends.Object) error) error {
		first := true
		return list(ctx, prefix, func(o backends.Object) error {
			if first {
				first = false
				if err := fn(o); err != nil {
					return err
				}
			}
			return fn(o)
		})
	}
}

func (b doubled) List(ctx context.Context, prefix string, fn func(backends.Object) error) error {
	return twice(b.Backend.List)(ctx, prefix, fn)
}

func (b doubled) ListSorted(ctx context.Context, prefix string, fn func(backends.Object) error) error {
	return twice(b.Backend.ListSorted)(ctx, prefix, fn)
}

// TestMergeKeyTwice: a side that lists a key twice fails the plan with an
// error that says so, whether the listings would be merged or not.
func TestMergeKeyTwice(t *testing.T) {
	for _, side := range []string{"src", "dst"} {
		for _, merge := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/merge=%v", side, merge), func(t *testing.T) {
				defer plan.SetMergeListings(merge)()
				e := newEnv(t, `delete = "all"`, "")
				for _, k := range []string{"a/1", "a/2", "b"} {
					e.synced(k, k, base)
				}
				open := func(cb *config.Backend) (backends.Backend, error) {
					b, err := opener(cb)
					if err != nil || cb.Name != side {
						return b, err
					}
					return doubled{b.(*local.Backend)}, nil
				}
				p, err := plan.Make(e.ctx, e.cfg, e.st, open, plan.Options{Refresh: true, Version: "test"})
				if err == nil {
					p.Close()
				}
				want := map[string]string{"src": "source", "dst": "destination"}[side] + " listing returned a key twice"
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Make: %v; want an error saying %q", err, want)
				}
			})
		}
	}
}

// TestMergeOneSideLonger: merging waits on each side only until that side
// ends, so a side listing far more than the channels hold completes while
// the other has ended (a plan against an empty or a smaller destination).
func TestMergeOneSideLonger(t *testing.T) {
	e := newEnv(t, `delete = "all"`, "")
	const n = 5000 // about ten batches
	for i := range n {
		writeFile(t, e.src, fmt.Sprintf("d%d/f%04d", i%3, i), "x", base)
	}
	for i := range 3 { // all before the source's first key
		writeFile(t, e.dst, fmt.Sprintf("a/f%d", i), "y", base)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := e.makeOpts(plan.Options{Refresh: true, Version: "test", Log: log})
	if !strings.Contains(logs.String(), "listings merged with the state") {
		t.Fatalf("the listings were not merged:\n%s", logs.String())
	}
	sum, err := p.Summary(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Create != n || sum.Delete != 3 {
		t.Errorf("summary %+v; want %d creates and 3 deletes", sum, n)
	}
}

// TestEachLineIsEach: the views' narrow read gives, action for action over
// more than a page (512), what Each gives of the same fields.
func TestEachLineIsEach(t *testing.T) {
	e := newEnv(t, `delete = "all"`, "")
	for i := range 600 {
		writeFile(t, e.src, fmt.Sprintf("s/%04d", i), strings.Repeat("x", i), base)
	}
	for i := range 30 {
		writeFile(t, e.dst, fmt.Sprintf("d/%04d", i), "old", base)
	}
	p := e.make()
	var lines []plan.Line
	if err := p.EachLine(e.ctx, "s", []plan.Kind{plan.Create, plan.Delete}, func(l plan.Line) error {
		lines = append(lines, l)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []plan.Line
	for _, a := range all(t, p) {
		want = append(want, plan.Line{Sync: a.Sync, Kind: a.Kind, Key: a.Key, Size: a.Size, Reason: a.Reason})
	}
	if len(want) != 630 || !reflect.DeepEqual(lines, want) {
		t.Errorf("EachLine gave %d lines, Each %d actions (want 630), or their fields differ", len(lines), len(want))
	}
}

// TestEachLineSelects reads a plan of two syncs by sync and by sets of kinds
// (a few kinds, all but a few, all): each read gives exactly the actions
// that Each's full read holds for that sync and those kinds, in plan order,
// and the summaries count them. Syncs lists the syncs in plan order.
func TestEachLineSelects(t *testing.T) {
	e := newEnv(t, `delete = "all"`, `
backend "local" "dst2" { path = "dst2" }
sync "t" {
  from   = backend.local.src
  to     = backend.local.dst2
  delete = "all"
}`)
	dst2 := e.root + "/dst2"
	for i := range 40 {
		writeFile(t, e.src, fmt.Sprintf("k/%03d", i), strings.Repeat("x", i), base)
	}
	for i := range 10 {
		writeFile(t, e.dst, fmt.Sprintf("k/%03d", i), "other size", base)   // update
		writeFile(t, e.dst, fmt.Sprintf("old/%03d", i), "gone", base)       // delete
		writeFile(t, dst2, fmt.Sprintf("k/%03d", 39-i), "other size", base) // update
	}
	writeFile(t, dst2, "stale", "gone", base)
	p := e.make()
	every := all(t, p)
	var order []string // the syncs in the order of their first action
	for _, a := range every {
		if !slices.Contains(order, a.Sync) {
			order = append(order, a.Sync)
		}
	}
	if syncs, err := p.Syncs(e.ctx); err != nil || len(order) != 2 || !slices.Equal(syncs, order) {
		t.Errorf("Syncs: %q, %v; want %q", syncs, err, order)
	}
	kindSets := [][]plan.Kind{nil, {plan.Create}, {plan.Update, plan.Delete},
		{plan.Create, plan.Update, plan.Delete, plan.Adopt, plan.Skip, plan.Archived, plan.Restore}}
	for _, sync := range []string{"", "s", "t"} {
		for _, kinds := range kindSets {
			var got, want []plan.Line
			if err := p.EachLine(e.ctx, sync, kinds, func(l plan.Line) error {
				got = append(got, l)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for _, a := range every {
				if (sync == "" || a.Sync == sync) && (kinds == nil || slices.Contains(kinds, a.Kind)) {
					want = append(want, plan.Line{Sync: a.Sync, Kind: a.Kind, Key: a.Key, Size: a.Size, Reason: a.Reason})
				}
			}
			if len(want) == 0 || !reflect.DeepEqual(got, want) {
				t.Errorf("sync %q kinds %v: EachLine gave %d lines, want %d (non-zero), or they differ", sync, kinds, len(got), len(want))
			}
		}
		sum, err := p.SyncSummary(e.ctx, sync)
		if err != nil {
			t.Fatal(err)
		}
		var want plan.Summary
		for _, a := range every {
			if sync != "" && a.Sync != sync {
				continue
			}
			switch a.Kind {
			case plan.Create:
				want.Create, want.Bytes = want.Create+1, want.Bytes+a.Size
			case plan.Update:
				want.Update, want.Bytes = want.Update+1, want.Bytes+a.Size
			case plan.Delete:
				want.Delete++
			}
		}
		if sum != want {
			t.Errorf("sync %q: summary %+v, want %+v", sync, sum, want)
		}
	}
}
