package plan_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/config"
	"syncer/plan"
	"syncer/state"
)

// memSource opens the backend named "src" as m (a source that can hold any
// key, as S3 can) and the others as opener does.
func memSource(m *backendtest.Mem) plan.Opener {
	return func(cb *config.Backend) (backends.Backend, error) {
		if cb.Name == "src" {
			return m, nil
		}
		return opener(cb)
	}
}

// refusing is a destination that can no longer hold the keys in refused.
type refusing struct {
	backends.Backend
	refused []string
}

func (r refusing) RefuseKey(key string) error {
	if slices.Contains(r.refused, key) {
		return errors.New("refused for the test")
	}
	return nil
}

func TestUnwritableKeysAreSkipped(t *testing.T) {
	long := strings.Repeat("n", 300)
	e := newEnv(t, `delete = "all"`, "")
	m := backendtest.NewMem("src")
	m.Set("ok.txt", []byte("fine"), base)
	m.Set("dir/"+long, []byte("long"), base)
	m.Set(".syncer-tmp-x", []byte("temp"), base)
	mk := func(refresh bool) *plan.Plan {
		t.Helper()
		if e.last != nil {
			e.last.Close()
		}
		p, err := plan.Make(e.ctx, e.cfg, e.st, memSource(m), plan.Options{Refresh: refresh})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		e.last = p
		return p
	}
	p := mk(true)
	expect(t, p, "create ok.txt", "skip dir/"+long, "skip .syncer-tmp-x")
	sum, err := p.Summary(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (plan.Summary{Create: 1, Bytes: 4, Skip: 2}); sum != want {
		t.Errorf("Summary = %+v, want %+v", sum, want)
	}
	if cs, _ := p.CopyStats(e.ctx, ""); cs.Count != 1 {
		t.Errorf("CopyStats counts %d copies, want 1", cs.Count)
	}
	for _, a := range all(t, p) {
		if a.Kind == plan.Skip && a.Phase != plan.Never {
			t.Errorf("skip %s in phase %d", a.Key, a.Phase)
		}
	}

	var buf bytes.Buffer
	dst := newLocal(t, "dst", e.dst).String()
	if err := writeJSON(e.ctx, &buf, p); err != nil {
		t.Fatal(err)
	}
	var skips []string
	var last map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		if v["action"] == "skip" {
			skips = append(skips, v["key"].(string))
			if r, _ := v["reason"].(string); !strings.HasPrefix(r, "cannot be written to "+dst+": ") {
				t.Errorf("skip reason %q", r)
			}
		}
		last = v
	}
	if len(skips) != 2 {
		t.Errorf("JSON skips = %q, want 2", skips)
	}
	if last["type"] != "change_summary" || last["skip"] != 2.0 || last["create"] != 1.0 {
		t.Errorf("JSON summary = %v", last)
	}

	// Once the rest is copied, the skips are all that is left, every time,
	// and they are not changes.
	e.copyFrom(m, "ok.txt")
	for _, refresh := range []bool{true, false} {
		p = mk(refresh)
		expect(t, p, "skip dir/"+long, "skip .syncer-tmp-x")
		sum, _ := p.Summary(e.ctx)
		if sum.Changes() {
			t.Errorf("refresh %v: skips count as changes: %+v", refresh, sum)
		}
	}
}

// copyFrom copies key from the source m to the destination and records
// it, as apply does.
func (e *env) copyFrom(m *backendtest.Mem, key string) {
	e.t.Helper()
	so, err := m.Stat(e.ctx, key)
	if err != nil {
		e.t.Fatal(err)
	}
	data, _ := m.Data(key)
	do, err := e.dstB.Put(e.ctx, key, bytes.NewReader(data), so)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.Apply(e.ctx, []state.Change{{Record: state.Record{
		Sync: "s", Key: key, Src: e.fingerprint(nil, so), Dst: e.fingerprint(e.dstB, do), Written: time.Now(),
	}}}); err != nil {
		e.t.Fatal(err)
	}
}

// TestSkippedKeyKeepsItsCopy: a key the destination can no longer hold is
// still in the source, so the copy an earlier apply wrote is neither
// deleted nor forgotten, whatever the delete policy, with or without a
// destination listing.
func TestSkippedKeyKeepsItsCopy(t *testing.T) {
	for _, policy := range []string{"managed", "all"} {
		for _, refresh := range []bool{true, false} {
			e := newEnv(t, `delete = "`+policy+`"`, "")
			e.synced("kept.txt", "copied once", base)
			e.synced("drifted.txt", "copied once", base)
			writeFile(t, e.dst, "drifted.txt", "edited at the destination", base)
			writeFile(t, e.src, "kept.txt", "changed since", base.Add(time.Hour))
			open := func(cb *config.Backend) (backends.Backend, error) {
				b, err := opener(cb)
				if err != nil || cb.Name != "dst" {
					return b, err
				}
				return refusing{Backend: b, refused: []string{"kept.txt", "drifted.txt"}}, nil
			}
			p, err := plan.Make(e.ctx, e.cfg, e.st, open, plan.Options{Refresh: refresh})
			if err != nil {
				t.Fatal(err)
			}
			expect(t, p, "skip drifted.txt", "skip kept.txt")
			p.Close()

			// The same keys gone from the source are deleted as usual.
			removeFile(t, e.src, "kept.txt")
			p, err = plan.Make(e.ctx, e.cfg, e.st, open, plan.Options{Refresh: refresh})
			if err != nil {
				t.Fatal(err)
			}
			expect(t, p, "delete kept.txt", "skip drifted.txt")
			p.Close()
		}
	}
}
