package backends

import "context"

type existingKey struct{}

// WithExisting marks ctx of a write (Put, CopyFrom) or Delete of a key that
// the caller's record (apply's state) says exists at the destination. A
// backend whose lookups may lag behind recent writes (Drive's name search)
// then looks harder before it creates a second object or calls the key
// gone; others ignore it.
func WithExisting(ctx context.Context) context.Context {
	return context.WithValue(ctx, existingKey{}, true)
}

// Existing reports whether ctx was marked by WithExisting.
func Existing(ctx context.Context) bool {
	v, _ := ctx.Value(existingKey{}).(bool)
	return v
}
