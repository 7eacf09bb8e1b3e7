package plan_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncer/plan"
)

// Two syncs whose destinations config saw apart but that reach one folder
// at plan time (a symlink made since) fail the plan on a key both would
// write, naming both syncs and the key; without such a key they plan.
func TestSharedKeys(t *testing.T) {
	for _, c := range []struct {
		name, alias string // alias: where backend e's path points once linked
		s1, s2      []string
		want        string // "" = plans
	}{
		{"same folder", "dst", []string{"k.txt", "only1.txt"}, []string{"k.txt", "only2.txt"},
			`syncs "one" and "two" would both write DST/k.txt (key "k.txt" of "one", key "k.txt" of "two")`},
		{"folder inside", "dst/sub", []string{"sub/k.txt", "k.txt"}, []string{"k.txt"},
			`syncs "one" and "two" would both write DST/sub/k.txt (key "sub/k.txt" of "one", key "k.txt" of "two")`},
		{"apart", "dst/sub", []string{"k.txt", "other/k.txt"}, []string{"k.txt"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := parse(t, dir, `
backend "local" "s1" { path = "s1" }
backend "local" "s2" { path = "s2" }
backend "local" "d" { path = "dst" }
backend "local" "e" { path = "alias" }
sync "one" {
  from = backend.local.s1
  to   = backend.local.d
}
sync "two" {
  from = backend.local.s2
  to   = backend.local.e
}
`)
			for _, k := range c.s1 {
				writeFile(t, filepath.Join(dir, "s1"), k, "1", base)
			}
			for _, k := range c.s2 {
				writeFile(t, filepath.Join(dir, "s2"), k, "2", base)
			}
			if err := os.MkdirAll(filepath.Join(dir, c.alias), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(dir, c.alias), filepath.Join(dir, "alias")); err != nil {
				t.Fatal(err)
			}
			st := openState(t, cfg.State.Path)
			p, err := plan.Make(context.Background(), cfg, st, opener, plan.Options{Refresh: true})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				p.Close()
				return
			}
			if err == nil {
				p.Close()
				t.Fatal("plan made; want it refused")
			}
			real, _ := filepath.EvalSymlinks(filepath.Join(dir, "dst"))
			if want := strings.ReplaceAll(c.want, "DST", real); !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v\nwant it to contain %s", err, want)
			}
		})
	}
}
