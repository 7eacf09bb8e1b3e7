package backends

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

var errBroken = errors.New("broken source")

// dribble yields its bytes one Read at a time, n bytes each, then EOF
// with the last bytes (as some readers do) when eofWithData is set.
type dribble struct {
	data        []byte
	n           int
	eofWithData bool
}

func (d *dribble) Read(p []byte) (int, error) {
	if len(d.data) == 0 {
		return 0, io.EOF
	}
	m := copy(p[:min(len(p), d.n)], d.data)
	d.data = d.data[m:]
	if len(d.data) == 0 && d.eofWithData {
		return m, io.EOF
	}
	return m, nil
}

// empties answers with empty reads for ever.
type empties struct{}

func (empties) Read([]byte) (int, error) { return 0, nil }

func TestExactReader(t *testing.T) {
	data := []byte("0123456789")
	for _, c := range []struct {
		name  string
		src   io.Reader
		size  int64
		want  string // bytes read
		isErr error  // nil: read to EOF
	}{
		{"exact", bytes.NewReader(data), 10, "0123456789", nil},
		{"exact, EOF with data", &dribble{data: data, n: 3, eofWithData: true}, 10, "0123456789", nil},
		{"exact, one byte a read", &dribble{data: data, n: 1}, 10, "0123456789", nil},
		{"empty", strings.NewReader(""), 0, "", nil},
		{"any size", &dribble{data: data, n: 4}, -1, "0123456789", nil},
		{"short", bytes.NewReader(data), 11, "0123456789", ErrShort},
		{"empty, short", strings.NewReader(""), 1, "", ErrShort},
		// The last declared byte is not handed out (read one at a time):
		// the store must not see a whole body.
		{"long", bytes.NewReader(data), 9, "01234567", ErrLong},
		{"long by one, dribbled", &dribble{data: data, n: 3}, 9, "01234567", ErrLong},
		{"long from zero", bytes.NewReader(data), 0, "", ErrLong},
		{"source fails", io.MultiReader(bytes.NewReader(data[:4]), iotest.ErrReader(errBroken)), 10, "0123", errBroken},
		{"source fails, any size", io.MultiReader(bytes.NewReader(data[:4]), iotest.ErrReader(errBroken)), -1, "0123", errBroken},
		{"source fails at its end", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(errBroken)), 10, "012345678", errBroken},
		{"no progress at its end", io.MultiReader(bytes.NewReader(data), empties{}), 10, "012345678", io.ErrNoProgress},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := md5.New()
			e := NewExactReader(t.Context(), c.src, c.size, h)
			got, err := io.ReadAll(iotest.OneByteReader(e))
			if c.isErr == nil {
				if err != nil || string(got) != c.want {
					t.Fatalf("read %q, %v; want %q", got, err, c.want)
				}
				sum := md5.Sum(got)
				if e.N() != int64(len(got)) || hex.EncodeToString(h.Sum(nil)) != hex.EncodeToString(sum[:]) {
					t.Errorf("N = %d, hash differs from the bytes read", e.N())
				}
				return
			}
			var se *SourceError
			if !errors.Is(err, c.isErr) || !errors.As(err, &se) || e.Err() != err {
				t.Fatalf("read %q, %v (Err %v); want a *SourceError wrapping %v", got, err, e.Err(), c.isErr)
			}
			if string(got) != c.want {
				t.Errorf("read %q before the error; want %q", got, c.want)
			}
			if _, again := e.Read(make([]byte, 4)); again != err {
				t.Errorf("Read after the error = %v; want it again", again)
			}
		})
	}
}

func TestExactReaderSizeErrors(t *testing.T) {
	_, err := io.ReadAll(NewExactReader(t.Context(), strings.NewReader("abc"), 5, nil))
	var sz *SizeError
	if !errors.As(err, &sz) || sz.Declared != 5 || sz.Got != 3 || err.Error() != "reading the source: short read: got 3 of 5 bytes" {
		t.Errorf("short: %v", err)
	}
	_, err = io.ReadAll(NewExactReader(t.Context(), strings.NewReader("abc"), 2, nil))
	if !errors.Is(err, ErrLong) || errors.Is(err, ErrShort) || err.Error() != "reading the source: the source yielded more than the 2 bytes it declared" {
		t.Errorf("long: %v", err)
	}
	for _, c := range []struct {
		size, got int64
		want      error
	}{{5, 5, nil}, {-1, 7, nil}, {5, 4, ErrShort}, {5, 6, ErrLong}, {0, 1, ErrLong}} {
		err := CheckSize(c.size, c.got)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("CheckSize(%d, %d) = %v; want %v", c.size, c.got, err, c.want)
		}
	}
}

func TestExactReaderCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	e := NewExactReader(ctx, strings.NewReader("abcdef"), 6, nil)
	buf := make([]byte, 2)
	if n, err := e.Read(buf); n != 2 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	cancel()
	if _, err := e.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %v", err)
	}
	var se *SourceError
	if errors.As(e.Err(), &se) {
		t.Errorf("a cancellation is not the source's failure: %v", e.Err())
	}
}

func TestExactReaderFill(t *testing.T) {
	data := []byte("0123456789")
	for _, c := range []struct {
		name    string
		size    int64
		bufs    []int // buffer sizes, in turn
		wantN   []int
		wantEOF []bool
		isErr   error // of the last Fill
	}{
		{"whole in one", 10, []int{10}, []int{10}, []bool{true}, nil},
		{"parts", 10, []int{4, 4, 2}, []int{4, 4, 2}, []bool{false, false, true}, nil},
		{"then nothing", 10, []int{10, 0, 3}, []int{10, 0, 0}, []bool{true, true, true}, nil},
		{"any size, ends in a part", -1, []int{4, 4, 4}, []int{4, 4, 2}, []bool{false, false, true}, nil},
		{"any size, ends with a part", -1, []int{5, 5, 5}, []int{5, 5, 0}, []bool{false, false, true}, nil},
		{"short", 12, []int{6, 6}, []int{6, 4}, []bool{false, false}, ErrShort},
		{"long", 8, []int{4, 4}, []int{4, 0}, []bool{false, false}, ErrLong},
		{"long from zero", 0, []int{0}, []int{0}, []bool{false}, ErrLong},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := NewExactReader(t.Context(), &dribble{data: data, n: 3}, c.size, nil)
			for i, size := range c.bufs {
				n, eof, err := e.Fill(make([]byte, size))
				last := i == len(c.bufs)-1
				if last && c.isErr != nil {
					if !errors.Is(err, c.isErr) {
						t.Fatalf("Fill %d: %v; want %v", i, err, c.isErr)
					}
					return
				}
				if err != nil || n != c.wantN[i] || eof != c.wantEOF[i] {
					t.Fatalf("Fill %d = %d, %v, %v; want %d, %v", i, n, eof, err, c.wantN[i], c.wantEOF[i])
				}
			}
		})
	}
}
