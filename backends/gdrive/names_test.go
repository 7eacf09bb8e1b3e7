package gdrive

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNameToSegment(t *testing.T) {
	for _, c := range []struct{ name, seg string }{
		{"plain.txt", "plain.txt"},
		{"a/b", "a∕b"},
		{"/", "∕"},
		{"a∕b", "a‛∕b"},
		{"‛/", "‛‛∕"},
		{"‛∕", "‛‛‛∕"},
		{"‛x", "‛x"},
		{"x‛", "x‛"},
		{"‛‛", "‛‛"},
		{"..x", "..x"},
		{"100%", "100%"},
	} {
		seg, ok := NameToSegment(c.name)
		if !ok || seg != c.seg {
			t.Errorf("NameToSegment(%q) = %q, %v; want %q", c.name, seg, ok, c.seg)
		}
		if back := SegmentToName(c.seg); back != c.name {
			t.Errorf("SegmentToName(%q) = %q; want %q", c.seg, back, c.name)
		}
	}
	for _, bad := range []string{"", ".", "..", "nul\x00", "bad\xff"} {
		if seg, ok := NameToSegment(bad); ok {
			t.Errorf("NameToSegment(%q) = %q; want refused", bad, seg)
		}
	}
}

// TestNameMappingIsBijective checks both directions on random strings
// over the characters that matter.
func TestNameMappingIsBijective(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	alphabet := []string{"a", "/", "∕", "‛", ".", " "}
	random := func(withSlash bool) string {
		var sb strings.Builder
		for range rng.IntN(8) + 1 {
			c := alphabet[rng.IntN(len(alphabet))]
			if c == "/" && !withSlash {
				continue
			}
			sb.WriteString(c)
		}
		return sb.String()
	}
	for range 20000 {
		name := random(true)
		seg, ok := NameToSegment(name)
		if !ok {
			continue
		}
		if strings.Contains(seg, "/") {
			t.Fatalf("NameToSegment(%q) = %q contains a slash", name, seg)
		}
		if back := SegmentToName(seg); back != name {
			t.Fatalf("name %q -> %q -> %q", name, seg, back)
		}
		key := random(false)
		n := SegmentToName(key)
		if again, ok := NameToSegment(n); ok && again != key {
			t.Fatalf("segment %q -> name %q -> %q", key, n, again)
		}
	}
}

func TestDupSegment(t *testing.T) {
	for _, c := range []struct{ seg, dup string }{
		{"photo.jpg", "photo (dup ID_1-x).jpg"},
		{"README", "README (dup ID_1-x)"},
		{".hidden", ".hidden (dup ID_1-x)"},
		{"a.tar.gz", "a.tar (dup ID_1-x).gz"},
		{"odd.ext with space", "odd.ext with space (dup ID_1-x)"},
		{"Report.docx", "Report (dup ID_1-x).docx"},
	} {
		got := dupSegment(c.seg, "ID_1-x")
		if got != c.dup {
			t.Errorf("dupSegment(%q) = %q; want %q", c.seg, got, c.dup)
		}
		base, id, ok := parseDup(got)
		if !ok || base != c.seg || id != "ID_1-x" {
			t.Errorf("parseDup(%q) = %q, %q, %v", got, base, id, ok)
		}
	}
	if _, _, ok := parseDup("photo (copy).jpg"); ok {
		t.Errorf("parseDup accepted a plain name")
	}
}

func TestLRUBounded(t *testing.T) {
	c := newLRU(3)
	for _, k := range []string{"a", "b", "c", "a", "d", "e"} {
		c.put(k, "id-"+k)
	}
	if c.len() != 3 {
		t.Fatalf("len = %d; want 3", c.len())
	}
	if _, ok := c.get("b"); ok {
		t.Errorf("b survived eviction")
	}
	if id, ok := c.get("a"); !ok || id != "id-a" {
		t.Errorf("a (recently used) was evicted")
	}
	c.put("a/x", "1")
	c.put("a/x/y", "2")
	c.forget("a")
	if _, ok := c.get("a/x"); ok {
		t.Errorf("forget left a descendant")
	}
}

func TestSeenSet(t *testing.T) {
	var s seenSet
	for round := range 2 {
		const n = 20000
		for i := range n {
			if s.add(fmt.Sprint("k", i)) && i < seenExact {
				t.Fatalf("round %d: exact set says %d was seen", round, i)
			}
		}
		falsePos := 0
		for i := range n {
			if !s.add(fmt.Sprint("k", i)) {
				t.Fatalf("round %d: k%d forgotten", round, i)
			}
			if s.add(fmt.Sprint("other", i)) {
				falsePos++
			}
		}
		if falsePos > n/100 {
			t.Errorf("round %d: %d false positives of %d", round, falsePos, n)
		}
		s.reset()
	}
}
