package plan

import (
	"context"
	"time"
)

// SetListProgressEvery changes how often long listings log, for a test.
func SetListProgressEvery(d time.Duration) (restore func()) {
	old := listProgressEvery
	listProgressEvery = d
	return func() { listProgressEvery = old }
}

// ListDeletes is listDeletes, for a small limit.
func ListDeletes(ctx context.Context, p *Plan, limit int) (string, error) {
	return p.listDeletes(ctx, limit)
}

// SetMergeListings turns merging sorted listings against the state on or
// off, for a test that compares plans made both ways.
func SetMergeListings(on bool) (restore func()) {
	old := mergeListings
	mergeListings = on
	return func() { mergeListings = old }
}
