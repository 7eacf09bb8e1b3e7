package backends

import (
	"context"
	"errors"
)

// SortedLister is a Backend that can list in key order: ascending byte
// order of the keys, as SQLite's BINARY collation and Go's string
// comparison order them. The plan merges two such listings against the
// state, which it reads in the same order, instead of storing both.
type SortedLister interface {
	// ListSorted is List with the objects in key order. Where it cannot
	// keep that order within its memory bound it returns an error wrapping
	// ErrUnsorted, possibly after some objects; the caller then lists again
	// with List.
	ListSorted(ctx context.Context, prefix string, fn func(Object) error) error
}

// ErrUnsorted reports a listing that is not, or cannot be kept, in key
// order.
var ErrUnsorted = errors.New("listing not in key order")
