package plan

import "time"

// SetListProgressEvery changes how often long listings log, for a test.
func SetListProgressEvery(d time.Duration) (restore func()) {
	old := listProgressEvery
	listProgressEvery = d
	return func() { listProgressEvery = old }
}
