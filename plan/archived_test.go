package plan

import "testing"

// Archived objects are counted apart from changes: skipped, failing and to
// restore (only restores are changes). views.SummaryLine renders them.
func TestSummaryChangesArchived(t *testing.T) {
	for _, tc := range []struct {
		s       Summary
		changes bool
	}{
		{Summary{Archived: 3}, false},
		{Summary{Create: 1, Bytes: 5, Delete: 1, Archived: 2}, true},
		{Summary{Restore: 2, Archived: 1}, true},
		{Summary{ArchivedFail: 4, Skip: 1}, false},
		{Summary{}, false},
	} {
		if tc.s.Changes() != tc.changes {
			t.Errorf("%+v: Changes() = %v; want %v", tc.s, tc.s.Changes(), tc.changes)
		}
	}
}
