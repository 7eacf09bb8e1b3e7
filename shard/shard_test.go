package shard

import (
	"fmt"
	"strings"
	"testing"
)

// The hash is a contract: states and running shards of older versions
// must agree on which shard owns a key. The first three are FNV-1a's
// published test vectors.
func TestHashPinned(t *testing.T) {
	for _, c := range []struct {
		key  string
		hash uint64
		of4  int
		of8  int
	}{
		{"", 0xcbf29ce484222325, 1, 5},
		{"a", 0xaf63dc4c8601ec8c, 0, 4},
		{"foobar", 0x85944171f73967e8, 0, 0},
		{"photos/2024/img_0001.jpg", 0xc6ce31dbd75cdd34, 0, 4},
		{"é/ü.txt", 0x1c3d9fb2f29a42b3, 3, 3},
	} {
		if h := Hash(c.key); h != c.hash {
			t.Errorf("Hash(%q) = %#x, want %#x", c.key, h, c.hash)
		}
		if got := Of(c.key, 4); got != c.of4 {
			t.Errorf("Of(%q, 4) = %d, want %d", c.key, got, c.of4)
		}
		if got := Of(c.key, 8); got != c.of8 {
			t.Errorf("Of(%q, 8) = %d, want %d", c.key, got, c.of8)
		}
	}
}

// Every key is in exactly one shard of N, and the shards are near even.
func TestDisjointAndCovering(t *testing.T) {
	for _, n := range []int{1, 3, 4, 8} {
		counts := make([]int, n)
		const keys = 20000
		for k := range keys {
			key := fmt.Sprintf("dir%d/file-%05d.bin", k%37, k)
			in := 0
			for i := range n {
				if (Shard{Index: i, Count: n}).Contains(key) {
					in++
					counts[i]++
				}
			}
			if in != 1 {
				t.Fatalf("%q is in %d of %d shards", key, in, n)
			}
		}
		for i, c := range counts {
			if want := keys / n; c < want*9/10 || c > want*11/10 {
				t.Errorf("shard %d/%d holds %d of %d keys, want about %d", i, n, c, keys, want)
			}
		}
	}
	if !(Shard{}).Contains("anything") {
		t.Error("the zero Shard must contain every key")
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Shard{"": {}, "0/1": {0, 1}, "3/8": {3, 8}, "7/8": {7, 8}, " 2 / 4 ": {2, 4}} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"3":       "is not I/N",
		"a/4":     "whole numbers",
		"1/b":     "whole numbers",
		"4/4":     "from 0 to 3",
		"-1/4":    "from 0 to 3",
		"0/0":     "from 1 to",
		"0/-2":    "from 1 to",
		"0/10001": "from 1 to",
		"1/2/3":   "whole numbers",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Parse(%q): %v, want an error with %q", in, err, msg)
		}
	}
}

func TestName(t *testing.T) {
	s := Shard{Index: 3, Count: 8}
	for in, want := range map[string]string{
		"syncer/media.db":          "syncer/media.shard-3-of-8.db",
		"/var/lib/syncer/state.db": "/var/lib/syncer/state.shard-3-of-8.db",
		"state":                    "state.shard-3-of-8",
		"a.b/state":                "a.b/state.shard-3-of-8",
		"dir/.state":               "dir/.state.shard-3-of-8",
		"":                         "",
	} {
		if got := s.Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
	if got := (Shard{}).Name("x.db"); got != "x.db" {
		t.Errorf("the zero Shard renamed x.db to %q", got)
	}
}

func TestMaxDelete(t *testing.T) {
	for _, c := range []struct{ limit, n, want int }{
		{-1, 4, -1}, {0, 4, 0}, {1, 4, 1}, {10, 4, 3}, {12, 4, 3}, {13, 4, 4}, {1000, 8, 125},
	} {
		if got := (Shard{Index: 0, Count: c.n}).MaxDelete(c.limit); got != c.want {
			t.Errorf("MaxDelete(%d) of %d shards = %d, want %d", c.limit, c.n, got, c.want)
		}
	}
	if got := (Shard{}).MaxDelete(10); got != 10 {
		t.Errorf("unsharded MaxDelete(10) = %d", got)
	}
}

func TestFolderKey(t *testing.T) {
	for _, c := range []struct{ key, dir, want string }{
		{"media/2024/a.jpg", "media/", "2024"},
		{"media/b.txt", "media/", "b.txt"},
		{"2024/x/y/z", "", "2024"},
		{"top.txt", "", "top.txt"},
		{"other/a", "media/", "other/a"},
	} {
		if got := FolderKey(c.key, c.dir); got != c.want {
			t.Errorf("FolderKey(%q, %q) = %q, want %q", c.key, c.dir, got, c.want)
		}
	}
	// A folder's keys, and a file of the folder's name, share a shard.
	s := Shard{Index: Of("docs", 4), Count: 4}
	for _, k := range []string{"docs", "docs/a.txt", "docs/deep/b.txt"} {
		if !s.ContainsFolder(k, "") {
			t.Errorf("%q is not in the shard of folder docs", k)
		}
	}
}
