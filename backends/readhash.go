package backends

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
)

// MD5Of returns the MD5 of the object at key: from the backend's own
// Hasher where it has one, else by streaming the object through the hash
// (one read of every byte; memory does not grow with the size).
func MD5Of(ctx context.Context, b Backend, key string) (string, error) {
	if h, ok := b.(Hasher); ok {
		return h.Hash(ctx, key, MD5)
	}
	r, err := b.Open(ctx, key, 0, -1)
	if err != nil {
		return "", err
	}
	defer r.Close()
	sum := md5.New()
	if _, err := io.Copy(sum, r); err != nil {
		return "", fmt.Errorf("%s: read %q to hash it: %w", b, key, err)
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}
