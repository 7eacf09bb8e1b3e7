package backends_test

import (
	"fmt"
	"testing"

	"syncer/backends"
)

// backends.TokenTrail finds any cycle in a sequence within a bounded number of
// steps, and never reports one in a sequence without repeats.
func TestTokenTrail(t *testing.T) {
	var fresh backends.TokenTrail
	for i := range 100000 {
		if fresh.Repeated(fmt.Sprint("token-", i)) {
			t.Fatalf("token %d of a sequence without repeats reported as repeated", i)
		}
	}
	for _, lead := range []int{0, 1, 5, 63, 64, 65, 300} {
		for _, cycle := range []int{1, 2, 7, 63, 64, 65, 127, 128, 129, 1000} {
			var tr backends.TokenTrail
			steps := 0
			for ; steps < 10*(lead+cycle); steps++ {
				i := steps
				if i >= lead {
					i = lead + (i-lead)%cycle
				}
				if tr.Repeated(fmt.Sprint("T", i)) {
					break
				}
			}
			if limit := 2*max(lead, cycle) + cycle + 2; steps > limit {
				t.Errorf("lead %d, cycle %d: found after %d steps; want at most %d", lead, cycle, steps, limit)
			}
			if steps < lead+cycle {
				t.Errorf("lead %d, cycle %d: reported at step %d, before any repeat", lead, cycle, steps)
			}
		}
	}
}
