package backends

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

// flaky serves [pos, end) of data; each stream breaks (with err, or an
// early EOF when err is io.EOF) after cut bytes, for the first breaks
// opens. shorter makes every open claim the object ends there.
type flaky struct {
	data    []byte
	cut     int
	breaks  int
	err     error
	opens   []string // "pos-end" of each open
	openErr error    // from the next open, when set
	shorter int64
}

type flakyBody struct {
	r   io.Reader
	err error
}

func (b *flakyBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = b.err
	}
	return n, err
}

func (b *flakyBody) Close() error { return nil }

func (f *flaky) open(_ context.Context, pos, end int64) (io.ReadCloser, int64, error) {
	f.opens = append(f.opens, fmt.Sprintf("%d-%d", pos, end))
	if f.openErr != nil {
		return nil, 0, f.openErr
	}
	if f.shorter > 0 && (end < 0 || end > f.shorter) {
		end = f.shorter
	}
	stop := int64(len(f.data))
	if end >= 0 {
		stop = min(end, stop)
	}
	part := f.data[pos:stop]
	if f.breaks > 0 && len(part) > f.cut {
		f.breaks--
		return &flakyBody{bytes.NewReader(part[:f.cut]), f.err}, end, nil
	}
	return &flakyBody{bytes.NewReader(part), io.EOF}, end, nil
}

var errDropped = errors.New("connection dropped")

func TestResumingReader(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	for _, c := range []struct {
		name       string
		f          flaky
		pos, end   int64
		exact      bool
		max        int
		retry      bool // Retry's answer
		want       string
		wantErr    error // nil: read to EOF
		wantOpens  string
		wantResume int
	}{
		{"no break", flaky{}, 0, -1, false, 3, true, string(data), nil, "0--1", 0},
		{"a range", flaky{}, 5, 9, false, 3, true, "5678", nil, "5-9", 0},
		{"two breaks", flaky{cut: 6, breaks: 2, err: errDropped}, 0, -1, false, 3, true, string(data), nil, "0--1 6--1 12--1", 2},
		{"breaks in a range", flaky{cut: 2, breaks: 2, err: errDropped}, 3, 12, false, 3, true, "3456789ab", nil, "3-12 5-12 7-12", 2},
		{"too many breaks", flaky{cut: 4, breaks: 5, err: errDropped}, 0, -1, false, 2, true, "0123456789ab", errDropped, "0--1 4--1 8--1", 2},
		{"not retried", flaky{cut: 4, breaks: 1, err: errDropped}, 0, -1, false, 3, false, "0123", errDropped, "0--1", 0},
		{"early EOF is the end", flaky{cut: 4, breaks: 1, err: io.EOF}, 0, 10, false, 3, true, "0123", nil, "0-10", 0},
		{"early EOF resumed when exact", flaky{cut: 4, breaks: 1, err: io.EOF}, 0, 10, true, 3, true, "0123456789", nil, "0-10 4-10", 1},
		{"early EOF fails when exact", flaky{cut: 4, breaks: 9, err: io.EOF}, 0, 10, true, 1, true, "01234567", io.ErrUnexpectedEOF, "0-10 4-10", 1},
		{"the object ends first", flaky{cut: 3, breaks: 1, err: errDropped, shorter: 7}, 2, 15, false, 3, true, "23456", nil, "2-15 5-7", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := c.f
			f.data = data
			rs := Resume{
				Open:  f.open,
				Retry: func(context.Context, int, error) bool { return c.retry },
				Max:   c.max,
				Exact: c.exact,
				Fail:  func(err error) error { return fmt.Errorf("read k: %w", err) },
			}
			body, end, err := f.open(t.Context(), c.pos, c.end)
			if err != nil {
				t.Fatal(err)
			}
			r := NewResumingReader(t.Context(), rs, body, c.pos, end)
			got, err := io.ReadAll(r)
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("read error %v; want %v", err, c.wantErr)
			}
			if string(got) != c.want {
				t.Errorf("read %q; want %q", got, c.want)
			}
			if opens := fmt.Sprint(f.opens); opens != "["+c.wantOpens+"]" {
				t.Errorf("opens %s; want [%s]", opens, c.wantOpens)
			}
			if r.Resumes() != c.wantResume || r.Pos() != c.pos+int64(len(got)) {
				t.Errorf("Resumes = %d, Pos = %d; want %d, %d", r.Resumes(), r.Pos(), c.wantResume, c.pos+int64(len(got)))
			}
		})
	}
}

func TestResumingReaderOpenFails(t *testing.T) {
	data := []byte("0123456789")
	f := &flaky{data: data, cut: 4, breaks: 1, err: errDropped}
	body, end, _ := f.open(t.Context(), 0, -1)
	f.openErr = errors.New("gone")
	r := NewResumingReader(t.Context(), Resume{Open: f.open, Retry: func(context.Context, int, error) bool { return true }, Max: 3}, body, 0, end)
	got, err := io.ReadAll(r)
	if string(got) != "0123" || err != f.openErr {
		t.Errorf("read %q, %v; want the open's error as it is", got, err)
	}
}

func TestResumingReaderCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f := &flaky{data: []byte("0123456789")}
	body, end, _ := f.open(ctx, 0, -1)
	r := NewResumingReader(ctx, Resume{Open: f.open, Max: 3, Fail: func(err error) error { return fmt.Errorf("read k: %w", err) }}, body, 0, end)
	buf := make([]byte, 3)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := r.Read(buf); !errors.Is(err, context.Canceled) || err.Error() != "read k: context canceled" {
		t.Errorf("Read after cancel = %v", err)
	}
}
