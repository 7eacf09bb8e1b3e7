package backends

import (
	"context"
	"io"
)

// Resume says how a ResumingReader reopens its stream.
type Resume struct {
	// Open opens the stream at byte pos for bytes [pos, end) (end < 0: to
	// the object's end). It returns the body and the end of the bytes it
	// holds: end, or less when the object turned out to end first. Its
	// errors end the stream as they are.
	Open func(ctx context.Context, pos, end int64) (body io.ReadCloser, bodyEnd int64, err error)
	// Retry reports whether to resume after the read error err, for the
	// n-th time (from 1). It may wait first (a backoff) and must return
	// false when ctx ends meanwhile.
	Retry func(ctx context.Context, n int, err error) bool
	// Max bounds the resumes of one stream.
	Max int
	// Exact: the stream must reach its end; an EOF before it counts as
	// io.ErrUnexpectedEOF, resumed like any read error. Otherwise an early
	// EOF is the object's end.
	Exact bool
	// Fail wraps the error that ends the stream: ctx's, or a read error
	// not resumed. Nil: errors as they are.
	Fail func(err error) error
}

// ResumingReader reads bytes [pos, end) of an object and, when a read
// fails, reopens the stream at the next byte to hand out, as Resume says,
// so a dropped connection costs a request, not the transfer. Reads fail
// once ctx is done; errors are sticky. It adds no buffer.
type ResumingReader struct {
	ctx      context.Context
	c        Resume
	pos, end int64 // next byte to hand out; end of the range (-1: the object's end)
	body     io.ReadCloser
	resumes  int
	err      error
}

// NewResumingReader returns a reader of bytes [pos, end) that starts with
// body, a stream that c.Open returned for them, and ends where it said.
func NewResumingReader(ctx context.Context, c Resume, body io.ReadCloser, pos, end int64) *ResumingReader {
	return &ResumingReader{ctx: ctx, c: c, body: body, pos: pos, end: end}
}

// Pos returns the offset of the next byte Read hands out.
func (r *ResumingReader) Pos() int64 { return r.pos }

// Resumes returns how often the stream was reopened.
func (r *ResumingReader) Resumes() int { return r.resumes }

func (r *ResumingReader) fail(err error) (int, error) {
	if r.c.Fail != nil {
		err = r.c.Fail(err)
	}
	r.err = err
	return 0, err
}

func (r *ResumingReader) Read(p []byte) (int, error) {
	for {
		if r.err != nil {
			return 0, r.err
		}
		if r.end >= 0 && r.pos >= r.end {
			return 0, io.EOF
		}
		if err := r.ctx.Err(); err != nil {
			return r.fail(err)
		}
		if r.end >= 0 && int64(len(p)) > r.end-r.pos {
			p = p[:r.end-r.pos]
		}
		n, err := r.body.Read(p)
		r.pos += int64(n)
		if err == io.EOF && r.end >= 0 && r.pos < r.end && r.c.Exact {
			err = io.ErrUnexpectedEOF
		}
		if err == io.EOF {
			r.end = r.pos // the object's end, maybe before the range's
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		if n > 0 {
			return n, nil // the next Read meets the error again
		}
		if r.ctx.Err() != nil || r.resumes >= r.c.Max || !r.c.Retry(r.ctx, r.resumes+1, err) {
			return r.fail(err)
		}
		r.resumes++
		r.body.Close()
		body, end, err := r.c.Open(r.ctx, r.pos, r.end)
		if err != nil {
			r.body, r.err = nil, err
			return 0, err
		}
		r.body, r.end = body, end
	}
}

// Close closes the current stream.
func (r *ResumingReader) Close() error {
	if r.body == nil {
		return nil
	}
	return r.body.Close()
}
