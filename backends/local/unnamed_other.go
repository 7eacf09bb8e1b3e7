//go:build !linux

package local

import (
	"errors"
	"os"
	"time"
)

func openUnnamed(dir string) (*os.File, error) {
	return nil, &os.PathError{Op: "open", Path: dir, Err: errors.ErrUnsupported}
}

func linkFile(f *os.File, p string) error {
	return &os.LinkError{Op: "link", Old: f.Name(), New: p, Err: errors.ErrUnsupported}
}

func setModTime(f *os.File, t time.Time) error { return os.Chtimes(f.Name(), time.Time{}, t) }
