package plan

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"syncer/config"
)

// checkSharedKeys fails the plan when two of its syncs would create or
// update one destination path. config refuses syncs whose places overlap
// unless their filters keep them apart, but it sees places as they were
// at load time (a symlink made since, a folder mounted since, escape it).
// One indexed join per pair of syncs in one namespace; no key is held in
// memory.
func (p *Plan) checkSharedKeys(ctx context.Context, syncs []*config.Sync) error {
	for i, a := range syncs {
		for _, b := range syncs[i+1:] {
			if a.To == nil || b.To == nil || a.To.Options == nil || b.To.Options == nil {
				continue
			}
			sa, pa := a.To.Options.Place()
			sb, pb := b.To.Options.Place()
			pa, pb = strings.TrimSuffix(pa, "/")+"/", strings.TrimSuffix(pb, "/")+"/"
			if sa != sb {
				continue
			}
			// outer's folder holds inner's: inner's key k is outer's rel+k.
			outer, inner, rel := a, b, ""
			switch {
			case strings.HasPrefix(pb, pa):
				rel = pb[len(pa):]
			case strings.HasPrefix(pa, pb):
				outer, inner, rel = b, a, pa[len(pb):]
			default:
				continue
			}
			var key string
			err := p.db.QueryRowContext(ctx, `SELECT i.key FROM actions i
				JOIN actions o ON o.sync = ? AND o.key = ? || i.key AND o.kind IN ('create', 'update')
				WHERE i.sync = ? AND i.kind IN ('create', 'update') LIMIT 1`,
				outer.Name, rel, inner.Name).Scan(&key)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("plan: check shared keys: %w", err)
			}
			_, base := outer.To.Options.Place()
			return fmt.Errorf("syncs %q and %q would both write %s (key %q of %q, key %q of %q): two syncs must not write the same key, or each apply overwrites the other's copy; give them separate destinations, or prefixes or include lists that keep them apart",
				outer.Name, inner.Name, strings.TrimSuffix(base, "/")+"/"+rel+key, rel+key, outer.Name, key, inner.Name)
		}
	}
	return nil
}
