package backends

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestEndChecked: the check runs once, before the last byte of the range
// is handed out (of an unknown length: in place of the end); a failed
// check fails that Read with no bytes, and every Read after it.
func TestEndChecked(t *testing.T) {
	errChanged := errors.New("changed")
	for _, c := range []struct {
		name string
		data string
		left int64
	}{{"known length", "hello world", 11}, {"unknown length", "hello world", -1}, {"empty", "", 0}} {
		for _, fail := range []bool{false, true} {
			checks := 0
			r := EndChecked(io.NopCloser(strings.NewReader(c.data)), c.left, func() error {
				checks++
				if fail {
					return errChanged
				}
				return nil
			})
			got, err := io.ReadAll(r)
			if checks != 1 {
				t.Errorf("%s (fail %v): %d checks; want 1", c.name, fail, checks)
			}
			switch {
			case fail && !errors.Is(err, errChanged):
				t.Errorf("%s: failing check: read %q, err %v; want the check's error", c.name, got, err)
			case fail && c.left > 0 && len(got) == len(c.data):
				t.Errorf("%s: failing check: all %d bytes handed out before the error", c.name, len(got))
			case !fail && (err != nil || string(got) != c.data):
				t.Errorf("%s: read %q, err %v; want %q", c.name, got, err, c.data)
			}
			if fail {
				if _, err := r.Read(make([]byte, 4)); !errors.Is(err, errChanged) {
					t.Errorf("%s: Read after the failed check: %v; want it again", c.name, err)
				}
			}
		}
	}

	// A reader that stops after exactly the range's length sees the failure.
	r := EndChecked(io.NopCloser(strings.NewReader("0123456789")), 10, func() error { return errChanged })
	if _, err := io.ReadFull(r, make([]byte, 10)); !errors.Is(err, errChanged) {
		t.Errorf("ReadFull of exactly the range: %v; want the check's error", err)
	}
}
