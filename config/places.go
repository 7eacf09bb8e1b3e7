package config

import (
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"syncer/backends/local"
)

// checkSharedPlaces rejects what two syncs, or a sync and the state, do to
// each other in one place: a state file inside a local folder a sync reads
// or writes (the sync would copy or delete it, with its lock and work
// files), and two syncs writing overlapping places when either mirrors
// (delete = "all" deletes what the other wrote, on alternate runs). Syncs
// with include or exclude filters may be disjoint, so they are let be.
func (d *decoder) checkSharedPlaces(cfg *Config) {
	statePath := filepath.ToSlash(local.RealPath(cfg.State.Path))
	for _, s := range cfg.Syncs {
		for _, side := range []struct {
			b    *Backend
			verb string
		}{{s.From, "copies from"}, {s.To, "writes to"}} {
			space, area, ok := syncArea(side.b, s.Prefix)
			if ok && space == "local" && strings.HasPrefix(statePath, area) {
				d.errorf(s.DeclRange.Ptr(), "State file inside a synced folder",
					"Sync %q %s %s (%s), which holds the state file %s: the sync would copy or delete its own state. Keep the state outside the synced folders (state { path = \"...\" }).",
					s.Name, side.verb, side.b.Addr(), strings.TrimSuffix(area, "/"), cfg.State.Path)
			}
		}
	}
	for i, a := range cfg.Syncs {
		for _, b := range cfg.Syncs[i+1:] {
			if a.Delete != DeleteAll && b.Delete != DeleteAll || hasFilters(a) || hasFilters(b) {
				continue
			}
			sa, areaA, ok1 := syncArea(a.To, a.Prefix)
			sb, areaB, ok2 := syncArea(b.To, b.Prefix)
			if !ok1 || !ok2 || sa != sb || !strings.HasPrefix(areaA, areaB) && !strings.HasPrefix(areaB, areaA) {
				continue
			}
			mirror := a
			if a.Delete != DeleteAll {
				mirror = b
			}
			d.errorf(b.DeclRange.Ptr(), "Syncs write to overlapping places",
				"Syncs %q (%s) and %q (%s) write to overlapping places, and %q mirrors (delete = \"all\"): each run would delete what the other wrote. Give them separate folders or prefixes, or use delete = \"managed\", which deletes only what a sync wrote itself.",
				a.Name, strings.TrimSuffix(areaA, "/"), b.Name, strings.TrimSuffix(areaB, "/"), mirror.Name)
		}
	}
}

// syncArea returns the namespace of a sync's side and, within it, the
// string every path the sync touches there starts with: the backend's
// place, a slash, and the sync's prefix.
func syncArea(b *Backend, prefix string) (space, area string, ok bool) {
	if b == nil {
		return "", "", false
	}
	space, p, ok := place(b)
	if !ok {
		return "", "", false
	}
	return space, strings.TrimSuffix(p, "/") + "/" + prefix, true
}

func hasFilters(s *Sync) bool { return len(s.Include) > 0 || len(s.Exclude) > 0 }

// checkPlaces rejects a sync whose source and destination are the same
// place or nest inside each other.
func (d *decoder) checkPlaces(s *Sync, toExpr hcl.Expression) {
	if s.From == nil || s.To == nil {
		return
	}
	if s.From == s.To {
		d.errorf(toExpr.Range().Ptr(), "Sync source and destination are the same",
			"Sync %q has %s as both from and to. A sync needs two different places.", s.Name, s.From.Addr())
		return
	}
	fs, fp, ok1 := place(s.From)
	ts, tp, ok2 := place(s.To)
	if !ok1 || !ok2 || fs != ts {
		return
	}
	switch {
	case fp == tp:
		d.errorf(toExpr.Range().Ptr(), "Sync source and destination are the same",
			"Sync %q copies from %s to %s, which are the same place (%s).", s.Name, s.From.Addr(), s.To.Addr(), fp)
	case within(fp, tp) || within(tp, fp):
		d.errorf(toExpr.Range().Ptr(), "Sync source and destination overlap",
			"Sync %q copies from %s (%s) to %s (%s); one lies inside the other, so the sync would read its own output.",
			s.Name, s.From.Addr(), fp, s.To.Addr(), tp)
	}
}

// within reports whether slash path child lies strictly inside parent,
// comparing whole segments ("/a/b" is not inside "/a/bc").
func within(parent, child string) bool {
	if parent == child {
		return false
	}
	if !strings.HasSuffix(parent, "/") {
		parent += "/"
	}
	return strings.HasPrefix(child, parent)
}
