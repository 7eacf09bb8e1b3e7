// Package backends defines the storage contract every syncer backend meets,
// and helpers shared by the backends and the engine.
//
// A backend addresses objects by key: a slash-separated path relative to the
// backend's root (a folder, a bucket prefix, a Drive folder). Keys never start
// with "/", never contain "." or ".." segments or empty segments, and are valid
// UTF-8; CheckKey enforces this before a key touches any store.
package backends

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

// HashType names a content hash. Values are lowercase hex digests.
type HashType string

const (
	MD5    HashType = "md5"
	SHA256 HashType = "sha256"
)

// Object describes one stored object as a backend sees it.
type Object struct {
	Key     string
	Size    int64     // bytes; -1 when unknown (e.g. Google Docs)
	ModTime time.Time // zero when unknown
	ETag    string    // the backend's own version tag, if any
	// ID is the store's stable id of the object (Drive's file id), set
	// by backends that have one, in listings and in what writes return;
	// "" elsewhere. Never a secret.
	ID string
	// Hashes holds the digests the backend knows without reading the data
	// (nil when none). Never one map per listing: one per object, transient.
	Hashes map[HashType]string

	// Meta is the object's metadata on its way to a Put or a CopyFrom
	// (from the source's Open, see MetaReader); nil in listings, and when
	// the source has none to give. A writer keeps what its store can hold.
	Meta *Metadata
	// MetaEdit is what the sync changes in the metadata it writes, applied
	// over Meta (or, in a server-side copy, over the source's); nil: none.
	MetaEdit *MetaEdit

	// Archived is the storage class of a listed object that cannot be read
	// before it is restored (S3's GLACIER, DEEP_ARCHIVE); "" when it can
	// be read, a restored copy included.
	Archived string
	// Restoring reports a restore of an Archived object in progress.
	Restoring bool
}

// Hash returns the digest of type t, or "" when the backend did not report it.
func (o Object) Hash(t HashType) string { return o.Hashes[t] }

// ErrNotFound is returned (wrapped) by Stat and Open for a missing key.
var ErrNotFound = errors.New("object not found")

// Backend is a store of objects. Implementations are safe for concurrent use.
//
// Every method rejects a key that fails CheckKey with an error that does not
// wrap ErrNotFound (Delete included). Errors caused by a cancelled context
// wrap ctx.Err(), so callers can tell an interruption from a failure. Put,
// Stat and List agree on ModTime within the backend's precision; a backend
// that cannot keep source times reports Precision() == 0 and is compared on
// size and hashes only.
type Backend interface {
	// List calls fn once for every object whose key starts with prefix
	// (prefix "" lists everything), in no particular order, streaming: a
	// backend never collects a whole listing in memory. Folders are not
	// objects. An error from fn stops the listing and is returned.
	// Listing a root that does not exist yields no objects and no error.
	List(ctx context.Context, prefix string, fn func(Object) error) error

	// Stat returns the object at key, or an error wrapping ErrNotFound.
	Stat(ctx context.Context, key string) (Object, error)

	// Open streams the object's bytes from offset; length < 0 means to the
	// end. A missing key gives an error wrapping ErrNotFound. ctx governs
	// reads from the returned stream too.
	Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)

	// Put stores the bytes read from r at key, replacing any object there,
	// and returns the stored object as a later List would report it.
	// src carries the source's size (-1 if unknown) and modification time,
	// which backends that can keep it set on the new object. If r fails, or
	// yields a different number of bytes than src.Size says, Put returns an
	// error (more or fewer bytes alike) and no object — not even a partial
	// one — becomes visible at key;
	// whatever was there before stays.
	Put(ctx context.Context, key string, r io.Reader, src Object) (Object, error)

	// Delete removes the object at key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// String names the backend for messages, e.g. `local "src" (/data/src)`.
	// It never includes a secret.
	String() string
}

// Hasher is implemented by backends that can compute a digest by reading the
// object themselves (for example the local filesystem).
type Hasher interface {
	Hash(ctx context.Context, key string, t HashType) (string, error)
}

// RootChecker is implemented by backends whose List yields nothing, and no
// error, when their root is missing (a local folder that a destination's
// first write will create). Plan calls CheckRoot on a sync's source before
// listing it: a mistyped or unmounted source folder must fail the plan, not
// list as empty and have its destination's copies deleted. CheckRoot fails
// when the root is missing, or the folder that prefix names (its part up to
// the last "/", if any).
type RootChecker interface {
	CheckRoot(ctx context.Context, prefix string) error
}

// PrefixFolder returns the folder key a list prefix names: its part before
// the last "/" ("photos/2024/IMG" -> "photos/2024"), or "".
func PrefixFolder(prefix string) string {
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		return prefix[:i]
	}
	return ""
}

// Precisioner is implemented by backends whose modification times are coarser
// than a nanosecond. Backends that do not implement it are taken as 1 s.
type Precisioner interface {
	Precision() time.Duration
}

// ModTimePrecision reports the modification time precision of b.
func ModTimePrecision(b Backend) time.Duration {
	if p, ok := b.(Precisioner); ok {
		return p.Precision()
	}
	return time.Second
}
