package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"syncer/backends/local"
)

// checkSharedPlaces rejects what two syncs, or a sync and the state, do to
// each other in one place: a state file inside a local folder a sync reads
// or writes (the sync would copy or delete it, with its lock and work
// files), and two syncs that may write the same destination path (each
// apply would overwrite the other's copy; see overlap.go for what proves
// two syncs apart).
func (d *decoder) checkSharedPlaces(cfg *Config) {
	stateSpace, statePath := "local", filepath.ToSlash(local.RealPath(cfg.State.Path))
	if cfg.State.Remote() {
		// The state object and its lock, in the state backend's place.
		var ok bool
		if stateSpace, statePath, ok = place(cfg.State.Backend); !ok {
			stateSpace = ""
		}
		statePath = strings.TrimSuffix(statePath, "/") + "/" + cfg.State.Key
	}
	for _, s := range cfg.Syncs {
		for _, side := range []struct {
			b    *Backend
			verb string
		}{{s.From, "copies from"}, {s.To, "writes to"}} {
			space, area, ok := syncArea(side.b, s.Prefix)
			if !ok || stateSpace == "" || space != stateSpace || !strings.HasPrefix(statePath, area) {
				continue
			}
			if cfg.State.Remote() {
				d.errorf(s.DeclRange.Ptr(), "State object inside a synced place",
					"Sync %q %s %s (%s), which holds the state object %s: the sync would copy or delete its own state. Keep the state key outside the synced prefixes.",
					s.Name, side.verb, side.b.Addr(), strings.TrimSuffix(area, "/"), cfg.State.Where())
				continue
			}
			d.errorf(s.DeclRange.Ptr(), "State file inside a synced folder",
				"Sync %q %s %s (%s), which holds the state file %s: the sync would copy or delete its own state. Keep the state outside the synced folders (state { path = \"...\" }).",
				s.Name, side.verb, side.b.Addr(), strings.TrimSuffix(area, "/"), cfg.State.Path)
		}
	}
	for i, a := range cfg.Syncs {
		for _, b := range cfg.Syncs[i+1:] {
			sa, baseA, ok1 := syncArea(a.To, "")
			sb, baseB, ok2 := syncArea(b.To, "")
			if !ok1 || !ok2 || sa != sb {
				continue
			}
			how := overlap(a, b, baseA, baseB)
			if how == "" {
				continue
			}
			mirror := ""
			if a.Delete == DeleteAll || b.Delete == DeleteAll {
				name := a.Name
				if a.Delete != DeleteAll {
					name = b.Name
				}
				mirror = fmt.Sprintf("; %q mirrors (delete = \"all\") and would delete what the other wrote", name)
			}
			d.errorf(b.DeclRange.Ptr(), "Syncs write to overlapping places",
				"Syncs %q (%s, into %s) and %q (%s, into %s) may write the same destination paths: %s. Each apply would overwrite the other's copy%s. Give each sync its own folder or prefix, or include lists that keep them apart: no include's literal beginning may start with one of the other sync's, or else the includes of both must end differently (such as \"*.jpg\" and \"*.png\").",
				a.Name, at(a.DeclRange), strings.TrimSuffix(baseA+a.Prefix, "/"),
				b.Name, at(b.DeclRange), strings.TrimSuffix(baseB+b.Prefix, "/"), how, mirror)
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
