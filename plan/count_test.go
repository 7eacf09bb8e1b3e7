package plan

import "testing"

func TestSummaryLineExcluded(t *testing.T) {
	s := Summary{Create: 1, Excluded: 1204}
	if got := s.Line(); got != "Plan: 1 to create, 0 to update, 0 to delete, 1,204 excluded by filters (0 B to transfer)." {
		t.Errorf("Line() = %q", got)
	}
}
