package local

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestStatAheadAsked: statAhead gives each file the walk asks for its own
// stat, whichever files the walk asks for (all, every third, a jump past
// the runs begun ahead, a stop part way), and once wait returns no helper
// is left running: every run begun was stat'd to its end.
func TestStatAheadAsked(t *testing.T) {
	root := t.TempDir()
	for i := range 1000 {
		name := fmt.Sprintf("f%04d", i)
		if i%150 == 149 {
			if err := os.Mkdir(filepath.Join(root, name), 0o755); err != nil { // breaks a run
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(filepath.Join(root, name), make([]byte, i%300), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	want := func(e fs.DirEntry) bool { return e.Type().IsRegular() }
	for name, asks := range map[string]func(i int) bool{
		"all":         func(int) bool { return true },
		"every third": func(i int) bool { return i%3 == 0 },
		"a jump":      func(i int) bool { return i < 10 || i > 900 },
		"a stop":      func(i int) bool { return i < 300 },
	} {
		dir, err := os.Open(root)
		if err != nil {
			t.Fatal(err)
		}
		var a statAhead
		a.reset(dir, entries, want)
		n := 0
		for i, e := range entries {
			if !want(e) || !asks(i) {
				continue
			}
			fi, err := a.info(i)
			if err != nil {
				t.Fatalf("%s: %s: %v", name, e.Name(), err)
			}
			if fi.Name() != e.Name() || fi.Size() != int64(i%300) {
				t.Fatalf("%s: asked for %s (%d bytes), got %s (%d bytes)", name, e.Name(), i%300, fi.Name(), fi.Size())
			}
			n++
		}
		a.wait()
		for k := range a.ring {
			r := &a.ring[k]
			if c := r.claimed.Load(); len(r.res) > 0 && c < int64(len(r.res)) {
				t.Errorf("%s: after wait, a run of %d from %d has %d claimed: a helper may still run", name, len(r.res), r.from, c)
			}
		}
		dir.Close()
		if n == 0 {
			t.Fatalf("%s: asked for nothing", name)
		}
	}
}
