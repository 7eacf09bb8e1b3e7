package backends

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrPrecondition is returned (wrapped) by ConditionalStore writes whose
// condition did not hold: the key exists (IfNoneMatch), or holds another
// version than IfMatch names.
var ErrPrecondition = errors.New("precondition failed")

// ErrNoConditionalWrites says a store accepted a write whose condition did
// not hold: it ignores If-None-Match or If-Match.
var ErrNoConditionalWrites = errors.New("the store ignores conditional writes (If-None-Match / If-Match)")

// ObjectInfo is what a ConditionalStore reports of one object.
type ObjectInfo struct {
	ETag         string // unquoted
	LastModified time.Time
	Size         int64
}

// Cond is the condition of a ConditionalStore write; the zero Cond is none.
type Cond struct {
	IfMatch     string // write only if the key holds this ETag
	IfNoneMatch bool   // write only if the key does not exist
}

// ConditionalStore is implemented by backends with conditional writes (S3's
// If-Match and If-None-Match), on which syncer keeps its remote state and
// lock. Keys are relative to the backend's root, as everywhere. Errors wrap
// ErrNotFound for a missing key and ErrPrecondition for a condition that
// did not hold.
type ConditionalStore interface {
	// GetObject streams the object at key.
	GetObject(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	// PutIf stores size bytes read from r at key if cond holds, and
	// returns the new ETag. r is read more than once (checksums, retries).
	PutIf(ctx context.Context, key string, r io.ReadSeeker, size int64, cond Cond) (etag string, err error)
	// DeleteIf removes the object at key if it holds the ETag ifMatch
	// ("": whatever it holds). A missing key is not an error.
	DeleteIf(ctx context.Context, key, ifMatch string) error
	// Head returns the object at key and the store's clock at the time of
	// the reply (zero when the store did not say).
	Head(ctx context.Context, key string) (ObjectInfo, time.Time, error)
	// CheckConditional tries conditional writes once on a probe object
	// beside key, which it removes: an error wrapping
	// ErrNoConditionalWrites says the store ignores them.
	CheckConditional(ctx context.Context, key string) error
	String() string
}
