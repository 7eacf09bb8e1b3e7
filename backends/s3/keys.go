package s3

import (
	"fmt"

	"syncer/backends"
)

// maxKeyBytes is the longest object key S3 accepts, in bytes of UTF-8.
const maxKeyBytes = 1024

var _ backends.KeyRefuser = (*Backend)(nil)

// RefuseKey reports keys whose object key, the backend's prefix included,
// is longer than S3 allows.
func (b *Backend) RefuseKey(key string) error {
	if n := len(b.root) + len(key); n > maxKeyBytes {
		if b.root != "" {
			return fmt.Errorf("object key longer than %d bytes with the prefix %q (%d bytes)", maxKeyBytes, b.root, n)
		}
		return fmt.Errorf("object key longer than %d bytes (%d bytes)", maxKeyBytes, n)
	}
	return nil
}
