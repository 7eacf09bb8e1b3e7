package backends

import (
	"context"
	"time"
)

// TempCleaner is implemented by backends whose Put writes a temporary file
// before publishing it (the local filesystem). CleanTemp removes such files
// left by killed runs whose last change is at least olderThan ago, and
// returns how many it removed. Call it only when no Put may be running on
// the backend's root, or with an age well above the longest transfer.
type TempCleaner interface {
	CleanTemp(ctx context.Context, olderThan time.Duration) (int, error)
}

// BufferSizer is implemented by backends that buffer up to one part of an
// upload in memory (S3 multipart parts, Drive resumable chunks). PartSize
// is that buffer's size in bytes, for apply's memory budget.
type BufferSizer interface {
	PartSize() int64
}
