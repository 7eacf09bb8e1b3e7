package apply

import (
	"context"
	"fmt"

	"syncer/backends"
	"syncer/plan"
)

// withIDs hands the backends the ids of a's objects: the source's as the
// plan listed it, and the destination's as the state recorded it (looked
// up only for a destination that addresses objects by id, and only for
// keys the state records).
func (j *job) withIDs(ctx context.Context, a plan.Action) (context.Context, error) {
	ids := backends.IDs{Src: a.Src.ID}
	if _, ok := j.to.(backends.IDAddresser); ok && a.Kind != plan.Create {
		id, err := j.e.st.DstID(ctx, j.s.Name, a.Key)
		if err != nil {
			return ctx, fmt.Errorf("read the recorded id of %q: %w", a.Key, err)
		}
		ids.Dst = id
	}
	return backends.WithIDs(ctx, ids), nil
}

// useJournal hands b the state's journal of its ids, if it keeps one.
func (e *executor) useJournal(b backends.Backend) {
	if u, ok := b.(backends.JournalUser); ok {
		u.UseJournal(e.st.IDJournal(u.JournalPlace()))
	}
}
