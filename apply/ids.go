package apply

import (
	"context"
	"fmt"

	"syncer/backends"
	"syncer/plan"
)

// withIDs hands the backends the ids of a's objects: the source's as the
// plan listed it, and, for a destination that addresses objects by id,
// the destination's as the state recorded it (for a copy, else as an
// interrupted create announced it); a copy's create announces its new id
// to the pending key.
func (j *job) withIDs(ctx context.Context, a plan.Action) (context.Context, error) {
	ids := backends.IDs{Src: a.Src.ID}
	if _, ok := j.to.(backends.IDAddresser); ok {
		recorded, announced, err := j.e.st.DstID(ctx, j.s.Name, a.Key)
		if err != nil {
			return ctx, fmt.Errorf("read the recorded id of %q: %w", a.Key, err)
		}
		ids.Dst = recorded
		if a.Kind == plan.Create || a.Kind == plan.Update {
			// A create whose answer was lost made its object under the
			// id it announced; a delete trusts only what was recorded.
			if ids.Dst == "" {
				ids.Dst = announced
			}
			ctx = backends.WithNewID(ctx, func(id string) error {
				return j.e.st.PendingID(context.WithoutCancel(ctx), j.s.Name, a.Key, id)
			})
		}
	}
	return backends.WithIDs(ctx, ids), nil
}

// useJournal hands b the state's journal of its ids, if it keeps one.
func (e *executor) useJournal(b backends.Backend) {
	if u, ok := b.(backends.JournalUser); ok {
		u.UseJournal(e.st.IDJournal(u.JournalPlace()))
	}
}
