package plan

import "testing"

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 1204: "1,204", 123456: "123,456",
		1234567: "1,234,567", -1234: "-1,234",
	} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
	s := Summary{Create: 1, Excluded: 1204}
	if got := s.Line(); got != "Plan: 1 to create, 0 to update, 0 to delete, 1,204 excluded by filters (0 B to transfer)." {
		t.Errorf("Line() = %q", got)
	}
}
