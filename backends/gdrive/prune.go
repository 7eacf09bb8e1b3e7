package gdrive

import (
	"context"

	"syncer/backends"
)

// ListPruned is List without the folders directly under prefix's folder
// whose names keep rejects, nor anything in them: a shard of a sync split
// by top-level folder lists its own folders only, so N shards cost about
// one listing of the tree in Drive requests, not N.
func (b *Backend) ListPruned(ctx context.Context, prefix string, keep func(name string) bool, fn func(backends.Object) error) error {
	return b.list(ctx, prefix, keep, fn)
}

var _ backends.FolderPruner = (*Backend)(nil)
