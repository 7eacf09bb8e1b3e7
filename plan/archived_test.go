package plan

import "testing"

// The summary line counts archived objects apart from changes: skipped,
// failing and to restore (only restores are changes).
func TestSummaryLineArchived(t *testing.T) {
	for _, tc := range []struct {
		s       Summary
		want    string
		changes bool
	}{
		{Summary{Archived: 3}, "Plan: 0 to create, 0 to update, 0 to delete, 3 archived, skipped (0 B to transfer).", false},
		{Summary{Create: 1, Bytes: 5, Delete: 1, Archived: 2}, "Plan: 1 to create, 0 to update, 1 to delete, 2 archived, skipped (5 B to transfer).", true},
		{Summary{Restore: 2, Archived: 1}, "Plan: 0 to create, 0 to update, 0 to delete, 2 to restore, 1 archived, skipped (0 B to transfer).", true},
		{Summary{ArchivedFail: 4, Skip: 1}, "Plan: 0 to create, 0 to update, 0 to delete, 1 cannot be written, 4 archived, failing (0 B to transfer).", false},
		{Summary{}, "No changes.", false},
	} {
		if got := tc.s.Line(); got != tc.want {
			t.Errorf("%+v: Line() = %q; want %q", tc.s, got, tc.want)
		}
		if tc.s.Changes() != tc.changes {
			t.Errorf("%+v: Changes() = %v; want %v", tc.s, tc.s.Changes(), tc.changes)
		}
	}
}
