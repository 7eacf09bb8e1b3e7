package config

import (
	"fmt"
	"strings"
	"testing"
)

// Two syncs into one place are refused unless their prefixes or include
// lists prove them apart (overlap.go); excludes never do.
func TestSyncOverlap(t *testing.T) {
	const backends = `
backend "local" "s1" { path = "/src1" }
backend "local" "s2" { path = "/src2" }
backend "local" "d" { path = "/dst" }
backend "local" "sub" { path = "/dst/photos" }
backend "local" "other" { path = "/other" }
`
	sync := func(name, from, to, body string) string {
		return fmt.Sprintf("sync %q {\n  from = backend.local.%s\n  to = backend.local.%s\n  %s\n}\n", name, from, to, body)
	}
	for _, c := range []struct {
		name   string
		a, b   string // bodies of two syncs: s1 -> A, s2 -> B
		toB    string // B's destination (default d)
		refuse string // substring of the error; "" = accepted
	}{
		{"no filters", ``, ``, "", `all of "one" and all of "two" overlap`},
		{"excludes prove nothing", `exclude = ["b/**"]`, `exclude = ["a/**"]`, "", "overlap"},
		{"disjoint prefixes", `prefix = "a/"`, `prefix = "b/"`, "", ""},
		{"nested prefixes", `prefix = "a"`, `prefix = "ab/"`, "", `the prefix "a" of "one" and the prefix "ab/" of "two" overlap`},
		{"other folder", ``, ``, "other", ""},
		{"folder inside", ``, ``, "sub", "overlap"},
		{"folder inside, apart by prefix", `prefix = "docs/"`, ``, "sub", ""},
		{"folder inside, apart by include", `include = ["docs/**"]`, ``, "sub", ""},
		{"folder inside, include reaches in", `include = ["photos/2024/*.jpg"]`, ``, "sub", `the include "photos/2024/*.jpg" of "one" and all of "two" overlap`},
		{"disjoint include beginnings", `include = ["photos/**", "docs/*.md"]`, `include = ["music/**"]`, "", ""},
		{"nested include beginnings", `include = ["photos/**"]`, `include = ["music/**", "photos/2024/*"]`, "", `the include "photos/**" of "one" and the include "photos/2024/*" of "two" overlap`},
		{"x/** does not reach x-old", `include = ["photos/**"]`, `include = ["photos-old/**"]`, "", ""},
		{"x/** may match x itself", `include = ["photos/**"]`, `include = ["photos"]`, "", "overlap"},
		{"exact keys apart", `include = ["a.txt"]`, `include = ["a.txt.bak", "b.txt"]`, "", ""},
		{"exact key under a wildcard", `include = ["a.txt"]`, `include = ["a*"]`, "", "overlap"},
		{"include against the other's prefix", `include = ["a/**"]`, `prefix = "b/"`, "", ""},
		{"include outside its own prefix matches nothing", `prefix = "a/"` + "\n" + `include = ["b/**"]`, `prefix = "b/"`, "", ""},
		{"wildcard first, only endings can tell", `include = ["**/*.jpg"]`, `include = ["**/*.png", "*.gif"]`, "", ""},
		{"endings nest", `include = ["**/*.jpg"]`, `include = ["**/x.jpg"]`, "", "overlap"},
		{"an ending without literal", `include = ["**/*.jpg"]`, `include = ["docs/*"]`, "", "overlap"},
		{"endings need both include lists", `include = ["**/*.jpg"]`, ``, "", "overlap"},
		{"braces end nothing", `include = ["*.{jpg,png}"]`, `include = ["*.gif"]`, "", "overlap"},
		{"a mirror is named", `delete = "all"`, ``, "", `"one" mirrors (delete = "all")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			toB := c.toB
			if toB == "" {
				toB = "d"
			}
			src := backends + sync("one", "s1", "d", c.a) + sync("two", "s2", toB, c.b)
			_, diags := parseIn(t, t.TempDir(), src, LoadOptions{})
			if c.refuse == "" {
				if diags.HasErrors() {
					t.Fatalf("refused: %s", diagText(diags))
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary != "Syncs write to overlapping places" || !strings.Contains(diags[0].Detail, c.refuse) {
				t.Fatalf("diags = %s; want one overlap error containing %q", diagText(diags), c.refuse)
			}
			if d := diags[0]; d.Subject == nil || d.Subject.Start.Line != 12 ||
				!strings.Contains(d.Detail, `"one" (`) || !strings.Contains(d.Detail, `syncer.hcl:7, into`) || !strings.Contains(d.Detail, `syncer.hcl:12, into`) {
				t.Errorf("error not at sync two's line naming both syncs' lines: %v", d)
			}
		})
	}
}

// The check is linear after a sort: two long include lists that nest
// only at their last globs are still found, and apart ones accepted.
func TestSyncOverlapLongLists(t *testing.T) {
	var a, b []string
	for i := range 20000 {
		a = append(a, fmt.Sprintf(`"a/%05d/**"`, i))
		b = append(b, fmt.Sprintf(`"b/%05d/**"`, i))
	}
	src := func(extra string) string {
		return `
backend "local" "s1" { path = "/src1" }
backend "local" "s2" { path = "/src2" }
backend "local" "d" { path = "/dst" }
sync "one" {
  from = backend.local.s1
  to = backend.local.d
  include = [` + strings.Join(a, ",") + `]
}
sync "two" {
  from = backend.local.s2
  to = backend.local.d
  include = [` + strings.Join(b, ",") + extra + `]
}
`
	}
	mustParse(t, t.TempDir(), src(""), LoadOptions{})
	_, diags := parseIn(t, t.TempDir(), src(`, "a/19999/x/*"`), LoadOptions{})
	if !strings.Contains(diagText(diags), `the include "a/19999/**" of "one" and the include "a/19999/x/*" of "two" overlap`) {
		t.Fatalf("diags = %s", diagText(diags))
	}
}
