package local_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
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
