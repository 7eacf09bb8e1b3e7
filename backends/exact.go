package backends

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
)

// ErrShort and ErrLong match (errors.Is) a *SizeError of a source that
// yielded fewer, or more, bytes than it declared.
var (
	ErrShort = errors.New("short read")
	ErrLong  = errors.New("long read")
)

// SizeError says that a source yielded another number of bytes than it
// declared. It comes wrapped in a *SourceError.
type SizeError struct {
	Declared int64 // bytes the source declared
	Got      int64 // bytes it yielded; for a long source, at least Declared+1
}

func (e *SizeError) Error() string {
	if e.Got < e.Declared {
		return fmt.Sprintf("short read: got %d of %d bytes", e.Got, e.Declared)
	}
	return fmt.Sprintf("the source yielded more than the %d bytes it declared", e.Declared)
}

func (e *SizeError) Is(target error) bool {
	return target == ErrShort && e.Got < e.Declared || target == ErrLong && e.Got > e.Declared
}

// SourceError marks a failure of the reader a backend uploads from (its
// own error, or a *SizeError), as opposed to one of the store: retrying
// the request cannot help.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return "reading the source: " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// CheckSize returns nil when a source that declared size bytes (size < 0:
// any number) yielded got, else a *SourceError wrapping a *SizeError. For
// copies that cannot go through an ExactReader: read at most size+1 bytes,
// then check.
func CheckSize(size, got int64) error {
	if size < 0 || got == size {
		return nil
	}
	return &SourceError{&SizeError{Declared: size, Got: got}}
}

// probeReads bounds the empty reads ExactReader accepts while it checks
// that a source has ended.
const probeReads = 100

// ExactReader passes a source through, checking ctx before each read,
// counting and (with a hash) hashing what it hands out, and fails instead
// of ending when the source yields fewer or more bytes than its declared
// size. It checks that the source ends before it hands out the last
// declared bytes, so a request body built on it fails before the store has
// the whole of a longer source. Errors are sticky: the source's and size
// mismatches wrapped in *SourceError, ctx's as they are. It adds no buffer.
type ExactReader struct {
	ctx   context.Context
	r     io.Reader
	size  int64 // declared; < 0: any
	n     int64 // bytes handed out
	h     hash.Hash
	ended bool // the source's end was seen
	err   error
	one   [1]byte // for the end probe
}

// NewExactReader returns an ExactReader of the size bytes of r (size < 0:
// whatever r yields), hashing them into h when h is not nil.
func NewExactReader(ctx context.Context, r io.Reader, size int64, h hash.Hash) *ExactReader {
	return &ExactReader{ctx: ctx, r: r, size: size, h: h}
}

// N returns the number of bytes handed out so far.
func (e *ExactReader) N() int64 { return e.n }

// Err returns the error that failed the reader, nil if none: after a
// failed request whose body it was, it tells the source's failure (or a
// cancellation) from the store's.
func (e *ExactReader) Err() error { return e.err }

func (e *ExactReader) fail(err error) (int, error) {
	e.err = err
	return 0, err
}

func (e *ExactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if err := e.ctx.Err(); err != nil {
		return e.fail(err)
	}
	if e.size >= 0 {
		left := e.size - e.n
		if left == 0 {
			if !e.ended {
				if err := e.probeEnd(); err != nil {
					return e.fail(err)
				}
			}
			return 0, io.EOF
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	} else if e.ended {
		return 0, io.EOF
	}
	n, err := e.r.Read(p)
	switch {
	case err == io.EOF:
		e.ended = true
		if e.size >= 0 && e.n+int64(n) < e.size {
			return e.fail(&SourceError{&SizeError{Declared: e.size, Got: e.n + int64(n)}})
		}
	case err != nil:
		return e.fail(&SourceError{err})
	case e.size >= 0 && e.n+int64(n) == e.size:
		if perr := e.probeEnd(); perr != nil {
			return e.fail(perr)
		}
	}
	e.n += int64(n)
	if e.h != nil {
		e.h.Write(p[:n])
	}
	return n, err
}

// probeEnd checks that the source has nothing left.
func (e *ExactReader) probeEnd() error {
	for range probeReads {
		n, err := e.r.Read(e.one[:])
		if n > 0 {
			return &SourceError{&SizeError{Declared: e.size, Got: e.size + 1}}
		}
		if err == io.EOF {
			e.ended = true
			return nil
		}
		if err != nil {
			return &SourceError{err}
		}
	}
	return &SourceError{io.ErrNoProgress}
}

// Fill reads into buf until it is full or the source ends, and reports
// whether it ended (eof): then n may be short of len(buf). With a declared
// size, eof is set as soon as the whole size was read and the source was
// checked to end there, even when that filled buf exactly.
func (e *ExactReader) Fill(buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := e.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	if e.size >= 0 && e.n == e.size {
		if _, err := e.Read(nil); err != io.EOF {
			return n, false, err
		}
		return n, true, nil
	}
	return n, false, nil
}
