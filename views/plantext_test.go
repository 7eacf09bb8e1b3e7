package views_test

import (
	"testing"

	"syncer/plan"
	"syncer/views"
)

func TestSummaryLineExcluded(t *testing.T) {
	s := plan.Summary{Create: 1, Excluded: 1204}
	if got := views.SummaryLine(s); got != "Plan: 1 to create, 0 to update, 0 to delete, 1,204 excluded by filters (0 B to transfer)." {
		t.Errorf("SummaryLine() = %q", got)
	}
}

// The summary line counts archived objects apart from changes: skipped,
// failing and to restore.
func TestSummaryLineArchived(t *testing.T) {
	for _, tc := range []struct {
		s    plan.Summary
		want string
	}{
		{plan.Summary{Archived: 3}, "Plan: 0 to create, 0 to update, 0 to delete, 3 archived, skipped (0 B to transfer)."},
		{plan.Summary{Create: 1, Bytes: 5, Delete: 1, Archived: 2}, "Plan: 1 to create, 0 to update, 1 to delete, 2 archived, skipped (5 B to transfer)."},
		{plan.Summary{Restore: 2, Archived: 1}, "Plan: 0 to create, 0 to update, 0 to delete, 2 to restore, 1 archived, skipped (0 B to transfer)."},
		{plan.Summary{ArchivedFail: 4, Skip: 1}, "Plan: 0 to create, 0 to update, 0 to delete, 1 cannot be written, 4 archived, failing (0 B to transfer)."},
		{plan.Summary{}, "No changes."},
	} {
		if got := views.SummaryLine(tc.s); got != tc.want {
			t.Errorf("%+v: SummaryLine() = %q; want %q", tc.s, got, tc.want)
		}
	}
}
