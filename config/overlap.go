package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Two syncs writing into one place are accepted only when their keys are
// provably apart, by one of two simple rules:
//
//   - Beginnings. Every key a sync writes begins with one of its leads: its
//     prefix when it has no include list, else for each include glob the
//     glob's literal beginning (up to its first *, ?, [, {, ] or \) or the
//     prefix, whichever is longer (a glob whose beginning disagrees with
//     the prefix matches nothing). A glob without wildcards is an exact
//     lead, and so is "x" for a glob "x/**..." (which may match "x"): a key
//     equal to it, not merely beginning with it. Leads are placed in the
//     destination's namespace as folder + "/" + lead. If no lead of one
//     sync begins with a lead of the other (or equals it, for exact ones),
//     no path can be written by both.
//   - Endings. When both syncs have include lists, every key ends with one
//     of its globs' literal endings (after the last wildcard, without the
//     slash after a **). If no ending of one ends with an ending of the
//     other, no key can be written by both.
//
// Exclude lists are never used as proof. Anything else is refused.

// lead is one beginning or ending of a sync's keys and what it comes from.
type lead struct {
	s    string
	from string
	side int
}

// beginnings returns the full-path leads of what s writes into base (the
// destination's folder + "/"). An exact lead ends in a NUL byte, which no
// key holds, so that it begins only with leads it matches and nothing
// longer begins with it.
func beginnings(s *Sync, base string, side int) []lead {
	if len(s.Include) == 0 {
		from := fmt.Sprintf("all of %q", s.Name)
		if s.Prefix != "" {
			from = fmt.Sprintf("the prefix %q of %q", s.Prefix, s.Name)
		}
		return []lead{{base + s.Prefix, from, side}}
	}
	out := make([]lead, 0, len(s.Include))
	for _, g := range s.Include {
		from := fmt.Sprintf("the include %q of %q", g, s.Name)
		i := strings.IndexAny(g, globMeta)
		if i < 0 || strings.HasPrefix(g[i:], "**") && strings.HasSuffix(g[:i], "/") {
			exact := g
			if i >= 0 {
				exact = g[:i-1]
			}
			if strings.HasPrefix(exact, s.Prefix) {
				out = append(out, lead{base + exact + "\x00", from, side})
			}
			if i < 0 {
				continue
			}
		}
		l := g[:i]
		switch {
		case strings.HasPrefix(l, s.Prefix):
		case strings.HasPrefix(s.Prefix, l):
			l = s.Prefix
		default:
			continue // matches nothing under the prefix
		}
		out = append(out, lead{base + l, from, side})
	}
	return out
}

// endings returns the literal endings of s's include globs, reversed so
// that an ending test is a prefix test; nil when s has no include list.
func endings(s *Sync, side int) []lead {
	out := make([]lead, 0, len(s.Include))
	for _, g := range s.Include {
		out = append(out, lead{reverse(literalEnding(g)), "", side})
	}
	return out
}

const globMeta = `*?[]{}\`

func literalEnding(g string) string {
	i := strings.LastIndexAny(g, globMeta)
	if i < 0 {
		return g
	}
	if i > 0 && g[i-1:i+1] == "**" {
		return strings.TrimPrefix(g[i+1:], "/")
	}
	return g[i+1:]
}

func reverse(s string) string {
	b := []byte(s)
	slices.Reverse(b)
	return string(b)
}

// nested returns a lead of side 0 and one of side 1 where one begins
// with the other, if any. Sorted, the leads that begin the current one
// form a chain on a stack; each stack entry remembers the highest entry
// of each side at or below it, so each lead costs O(1) after the sort.
func nested(leads []lead) (a, b lead, found bool) {
	slices.SortFunc(leads, func(x, y lead) int {
		return cmp.Or(strings.Compare(x.s, y.s), cmp.Compare(x.side, y.side))
	})
	type entry struct {
		l   lead
		top [2]int // highest stack index of each side at or below; -1: none
	}
	var stack []entry
	for _, l := range leads {
		for len(stack) > 0 && !strings.HasPrefix(l.s, stack[len(stack)-1].l.s) {
			stack = stack[:len(stack)-1]
		}
		e := entry{l: l, top: [2]int{-1, -1}}
		if n := len(stack); n > 0 {
			if j := stack[n-1].top[1-l.side]; j >= 0 {
				o := stack[j].l
				if o.side == 0 {
					return o, l, true
				}
				return l, o, true
			}
			e.top = stack[n-1].top
		}
		e.top[l.side] = len(stack)
		stack = append(stack, e)
	}
	return lead{}, lead{}, false
}

// overlap reports how syncs x and y, whose destination folders are in
// one namespace, may write one path, or "" when they provably cannot.
func overlap(x, y *Sync, baseX, baseY string) string {
	a, b, found := nested(append(beginnings(x, baseX, 0), beginnings(y, baseY, 1)...))
	if !found {
		return ""
	}
	if len(x.Include) > 0 && len(y.Include) > 0 {
		if _, _, found := nested(append(endings(x, 0), endings(y, 1)...)); !found {
			return ""
		}
	}
	return a.from + " and " + b.from + " overlap"
}
