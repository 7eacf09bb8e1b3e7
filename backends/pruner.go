package backends

import "context"

// FolderPruner is a Backend whose listing can skip whole folders: Google
// Drive, where a tree is listed folder by folder and each folder costs
// requests against the account's quota. Shards of a sync from such a
// source split its keys by top-level folder (see package shard) and list
// only their own folders.
type FolderPruner interface {
	// ListPruned is List, except that a folder directly under the folder
	// of prefix (the part up to its last "/") whose name keep rejects is
	// not listed, nor anything in it. Objects directly in that folder are
	// all listed.
	ListPruned(ctx context.Context, prefix string, keep func(name string) bool, fn func(Object) error) error
}
