package backends

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// ErrSourceChanged is wrapped by reads pinned to one version of an object
// (see PinnedOpener) when the object is another version by then, or
// becomes one before the last byte is read. A copy that meets it copied
// nothing: it is retried by the next run, from the new version.
var ErrSourceChanged = errors.New("source changed while being copied")

// PinnedOpener is implemented by backends that can read an object as one
// version, the one a listing reported.
type PinnedOpener interface {
	// OpenPinned is Open of src.Key, pinned to the version src describes
	// (as List or Stat reported it: size, ModTime, ETag). It fails with an
	// error wrapping ErrSourceChanged when the object is no longer that
	// version, at open or at any point until the last byte of the range:
	// the Read that would hand out the last byte (or report the end)
	// fails instead, so a consumer that stops after exactly length bytes
	// still sees the failure. A missing key gives ErrNotFound at open.
	OpenPinned(ctx context.Context, src Object, offset, length int64) (io.ReadCloser, error)
}

// OpenPinned opens src.Key of b pinned to src's version where b is a
// PinnedOpener, and with a plain Open otherwise.
func OpenPinned(ctx context.Context, b Backend, src Object, offset, length int64) (io.ReadCloser, error) {
	if p, ok := b.(PinnedOpener); ok {
		return p.OpenPinned(ctx, src, offset, length)
	}
	return b.Open(ctx, src.Key, offset, length)
}

// SourceChanged returns the error of op on key of b when the object is not
// (or no longer) the version being read; why says what differs. It wraps
// ErrSourceChanged.
func SourceChanged(op string, b fmt.Stringer, key, why string) error {
	return fmt.Errorf("%s %s: key %q: %w (%s)", op, b, key, ErrSourceChanged, why)
}

// EndChecked returns a reader of r that calls check before it hands out
// the last of left bytes (left < 0: unknown, until r ends) or reports r's
// end: when check fails, that Read returns no bytes and check's error, and
// every Read after it the same. For backends whose reads cannot be pinned
// by the store (a file read in place), check compares the object with the
// version at open.
func EndChecked(r io.ReadCloser, left int64, check func() error) io.ReadCloser {
	return &endChecked{r: r, left: left, check: check}
}

type endChecked struct {
	r       io.ReadCloser
	left    int64
	check   func() error
	checked bool
	err     error
}

func (e *endChecked) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 || e.checked {
		// The range was read whole (and checked, unless it was empty).
		if !e.checked {
			e.checked = true
			if err := e.check(); err != nil {
				e.err = err
				return 0, err
			}
		}
		return 0, io.EOF
	}
	if e.left > 0 && int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	if e.left > 0 {
		e.left -= int64(n)
	}
	if e.left == 0 || err == io.EOF {
		e.checked = true
		if cerr := e.check(); cerr != nil {
			e.err = cerr
			return 0, cerr
		}
		if e.left == 0 {
			err = nil // the next Read reports the end
		}
	}
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

func (e *endChecked) Close() error { return e.r.Close() }
