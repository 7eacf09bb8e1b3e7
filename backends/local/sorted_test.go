package local_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"syncer/backends"
	"syncer/backends/local"
)

// TestListSortedBound: a sorted listing holds the entries of the folders it
// is in, from the root down; more than the bound ends it with ErrUnsorted,
// counting a folder's entries together with its parents'.
func TestListSortedBound(t *testing.T) {
	root := t.TempDir()
	for _, k := range []string{"x", "d/1", "d/2", "d/3"} {
		p := filepath.Join(root, k)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := newLocal(t, local.Options{Path: root})
	list := func() ([]string, error) {
		var keys []string
		err := b.ListSorted(t.Context(), "", func(o backends.Object) error {
			keys = append(keys, o.Key)
			return nil
		})
		return keys, err
	}
	defer local.SetSortedHeld(5)()
	keys, err := list()
	if err != nil || !slices.Equal(keys, []string{"d/1", "d/2", "d/3", "x"}) {
		t.Fatalf("bound 5 (2 at the root + 3 in d): %q, %v", keys, err)
	}
	local.SetSortedHeld(4)
	keys, err = list()
	if !errors.Is(err, backends.ErrUnsorted) {
		t.Fatalf("bound 4: %q, %v; want ErrUnsorted", keys, err)
	}
	if len(keys) != 0 {
		t.Errorf("bound 4: listed %q before the folder too large", keys)
	}
	// The bound is given back on the way out: a second listing of the
	// same backend after a larger bound works again.
	local.SetSortedHeld(5)
	if keys, err := list(); err != nil || len(keys) != 4 {
		t.Fatalf("bound 5 again: %q, %v", keys, err)
	}
}

// TestListStatsAhead: a folder's files are stat'd ahead in runs shared by
// two goroutines; each object still carries its own file's size, whether
// the run is long, cut short by a folder, a temporary file, a symlink or a
// name outside the prefix, in either listing.
func TestListStatsAhead(t *testing.T) {
	root := t.TempDir()
	want := map[string]int64{}
	write := func(key string, size int) {
		p := filepath.Join(root, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 700 {
		key := fmt.Sprintf("big/f%03d", i)
		switch {
		case i%97 == 0:
			key = fmt.Sprintf("big/f%03d/in", i) // a folder among the files
		case i%89 == 0:
			key = fmt.Sprintf("big/%sf%03d", local.TempPrefix, i) // skipped
		case i%83 == 0:
			if err := os.Symlink("f001", filepath.Join(root, "big", fmt.Sprintf("f%03d", i))); err != nil {
				t.Fatal(err)
			}
			continue
		case i%79 == 0:
			key = fmt.Sprintf("big/g%03d", i) // outside the prefix big/f
		}
		write(key, i%251)
		if !strings.Contains(key, local.TempPrefix) {
			want[key] = int64(i % 251)
		}
	}
	b := newLocal(t, local.Options{Path: root})
	for _, prefix := range []string{"", "big/f"} {
		for name, list := range map[string]func(context.Context, string, func(backends.Object) error) error{
			"List": b.List, "ListSorted": b.ListSorted} {
			got := map[string]int64{}
			if err := list(t.Context(), prefix, func(o backends.Object) error {
				got[o.Key] = o.Size
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			n := 0
			for k, size := range want {
				if !strings.HasPrefix(k, prefix) {
					continue
				}
				n++
				if s, ok := got[k]; !ok || s != size {
					t.Errorf("%s(%q): %s is %d bytes (listed: %v), want %d", name, prefix, k, s, ok, size)
				}
			}
			if len(got) != n || n < 600 {
				t.Errorf("%s(%q): %d objects, want %d (at least 600)", name, prefix, len(got), n)
			}
		}
	}
}
