package backends

import "context"

// Linker is implemented by backends that can give an object of another
// backend of their kind a second name without copying its bytes: a hard
// link between two local folders on one filesystem. LinkFrom replaces what
// key named, and fails (leaving key as it was) when it cannot link, e.g.
// across filesystems, or when srcKey is not the version srcObj describes.
// apply uses it to save a destination object to a backup place before
// replacing or deleting it; the caller falls back to a copy.
type Linker interface {
	LinkFrom(ctx context.Context, src Backend, srcKey, key string, srcObj Object) (Object, error)
}
