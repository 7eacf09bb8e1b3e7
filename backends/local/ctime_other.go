//go:build !linux

package local

import (
	"io/fs"
	"time"
)

// changeTime falls back to the mtime where the status change time is not
// read; Put sets it just before the rename, so the window is small.
func changeTime(fi fs.FileInfo) time.Time { return fi.ModTime() }
