package backends

import (
	"context"
	"io"
)

// Part is one finished part of a multipart upload.
type Part struct {
	Number int32
	Size   int64
	ETag   string
	// Checksum is the part's checksum as the store reported it (e.g. a
	// base64 CRC32), "" when none.
	Checksum string
}

// UploadJournal persists the progress of a resumable upload so that a
// killed run can continue it. apply backs it with the state; a backend
// never calls it concurrently for one upload.
type UploadJournal interface {
	// Load returns the upload recorded for key: its id, part size and
	// finished parts in part order; id is "" when none is recorded.
	Load(ctx context.Context, key string) (id string, partSize int64, parts []Part, err error)
	// Started records a new upload for key.
	Started(ctx context.Context, key, id string, partSize int64) error
	// PartDone records a finished part; it is durable when it returns.
	PartDone(ctx context.Context, key string, p Part) error
	// Finished forgets the upload of key (completed or aborted).
	Finished(ctx context.Context, key string) error
}

// RangeOpener opens a byte range of the source object (length < 0: to
// the end), so a resumed upload can start from its first missing part.
// It may be called concurrently (parts in flight at once).
type RangeOpener func(ctx context.Context, offset, length int64) (io.ReadCloser, error)

// ResumablePutter is implemented by backends that can upload large objects
// in parts and resume a killed upload from its last finished part. Contract
// as Put, except that the data comes from open and progress goes to j.
// When src.Meta is nil, an upload in one request takes the metadata its
// stream carries (see MetaReader); an upload in parts writes none.
type ResumablePutter interface {
	PutResumable(ctx context.Context, key string, open RangeOpener, src Object, j UploadJournal) (Object, error)
}

// ServerSideCopier is implemented by backends that can copy an object from
// another backend without the bytes passing through syncer. CanCopyFrom
// reports whether src is reachable that way (same store, one set of
// credentials); Copy then behaves as Put of src's object at key.
type ServerSideCopier interface {
	CanCopyFrom(src Backend) bool
	CopyFrom(ctx context.Context, src Backend, srcKey, key string, srcObj Object) (Object, error)
}

// HostCopier is implemented by ServerSideCopiers whose copies still move
// the bytes on this machine (local file to local file, in the kernel).
// apply skips them where it must see the bytes (a bandwidth limit, checksum
// verification) and calls CopyOnHost otherwise: CopyFrom that reports the
// bytes copied to progress as it goes.
type HostCopier interface {
	CopyOnHost(ctx context.Context, src Backend, srcKey, key string, srcObj Object, progress func(n int64)) (Object, error)
}

// BatchDeleter is implemented by backends that delete many keys per
// request; DeleteBatch reports an error per key that failed (nil entries
// for success) or a whole-request error.
type BatchDeleter interface {
	DeleteBatch(ctx context.Context, keys []string) ([]error, error)
	MaxBatch() int
}

// UploadAborter is implemented by ResumablePutters: it abandons an upload
// that a journal still records but that no run will resume (its object was
// since copied another way, or left the plan). A missing upload is not an
// error.
type UploadAborter interface {
	AbortUpload(ctx context.Context, key, id string) error
}
