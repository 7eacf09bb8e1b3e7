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
// is in, from the root down, counting a folder's entries together with its
// parents'; a folder that does not fit in what is left is read in passes,
// and one that would need more passes than allowed, or finds nothing left,
// ends the listing with ErrUnsorted before listing anything of it.
func TestListSortedBound(t *testing.T) {
	root := t.TempDir()
	keys := []string{"x", "d/1", "d/2", "d/3"}
	for i := range 40 {
		keys = append(keys, fmt.Sprintf("many/%02d", i))
	}
	for _, k := range keys {
		writeSized(t, root, k, len(k))
	}
	b := newLocal(t, local.Options{Path: root})
	list := func(prefix string) ([]string, error) {
		var keys []string
		err := b.ListSorted(t.Context(), prefix, func(o backends.Object) error {
			keys = append(keys, o.Key)
			return nil
		})
		return keys, err
	}
	defer local.SetSortedHeld(5)()
	got, err := list("d")
	if err != nil || !slices.Equal(got, []string{"d/1", "d/2", "d/3"}) {
		t.Fatalf("bound 5 (3 at the root + 3 in d, in two passes): %q, %v", got, err)
	}
	local.SetSortedHeld(3)
	if got, err := list("d"); !errors.Is(err, backends.ErrUnsorted) || len(got) != 0 {
		t.Fatalf("bound 3 (3 at the root, none left for d): %q, %v; want ErrUnsorted, nothing listed", got, err)
	}
	// many/ holds 40 files: passes of 2 are 20, more than allowed; passes
	// of 3 are 14.
	local.SetSortedHeld(2)
	if got, err := list("many/"); !errors.Is(err, backends.ErrUnsorted) || len(got) != 0 {
		t.Fatalf("bound 2 on many/: %q, %v; want ErrUnsorted, nothing listed", got, err)
	}
	local.SetSortedHeld(3)
	got, err = list("many/")
	if err != nil || !slices.Equal(got, keys[4:]) {
		t.Fatalf("bound 3 on many/: %q, %v; want %q", got, err, keys[4:])
	}
	// The bound is given back batch by batch: the whole tree lists with
	// room for a few entries at a time.
	local.SetSortedHeld(8)
	got, err = list("")
	want := slices.Clone(keys)
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("bound 8, whole tree: %q, %v; want %q", got, err, want)
	}
}

// TestListSortedPasses: folders larger than the bound, flat or holding
// folders of their own, list in passes exactly what List lists, each key
// once, in strictly increasing order, with its own size.
func TestListSortedPasses(t *testing.T) {
	root := t.TempDir()
	want := map[string]int64{}
	write := func(key string, size int) {
		writeSized(t, root, key, size)
		want[key] = int64(size)
	}
	for i := range 700 {
		write(fmt.Sprintf("flat/%04d", i), i%97)
	}
	for i := range 300 {
		write(fmt.Sprintf("mixed/f%03d", i), i%89)
		if i%25 == 0 {
			// Folders among the files, a name's folder sorting as name/
			// ("mixed/f025" the file, "mixed/f025-/" a folder, "mixed/f025/"
			// another: '-' < '/').
			for j := range 30 {
				write(fmt.Sprintf("mixed/f%03d-/%02d", i, j), j)
				write(fmt.Sprintf("mixed/g%03d/in/%02d", i, j), j+1)
			}
		}
	}
	b := newLocal(t, local.Options{Path: root})
	for _, bound := range []int{10_000, 120, 61} {
		restore := local.SetSortedHeld(bound)
		var keys []string
		err := b.ListSorted(t.Context(), "", func(o backends.Object) error {
			if n := len(keys); n > 0 && o.Key <= keys[n-1] {
				return fmt.Errorf("%q listed after %q", o.Key, keys[n-1])
			}
			if size, ok := want[o.Key]; !ok || size != o.Size {
				return fmt.Errorf("%q: %d bytes, want %d (known: %v)", o.Key, o.Size, size, ok)
			}
			keys = append(keys, o.Key)
			return nil
		})
		restore()
		if err != nil {
			t.Fatalf("bound %d: %v", bound, err)
		}
		if len(keys) != len(want) {
			t.Fatalf("bound %d: listed %d keys, want %d", bound, len(keys), len(want))
		}
	}
}

// TestListStatsAhead: a folder's files are stat'd ahead in runs shared by
// two goroutines; each object still carries its own file's size, whether
// the run is long, cut short by a folder, a temporary file, a symlink or a
// name outside the prefix, in either listing.
func TestListStatsAhead(t *testing.T) {
	root := t.TempDir()
	want := map[string]int64{}
	write := func(key string, size int) { writeSized(t, root, key, size) }
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

// writeSized writes size zero bytes to key's file under root, making its
// folders.
func writeSized(t *testing.T, root, key string, size int) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
}
