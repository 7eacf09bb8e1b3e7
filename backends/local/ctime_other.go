//go:build !linux

package local

import (
	"io/fs"
	"time"
)

// changeTime falls back to the mtime where the status change time is not
// read; Put sets it just before the rename, so the window is small.
func changeTime(fi fs.FileInfo) time.Time { return fi.ModTime() }

// versionTag is empty where the inode and ctime are not read: plans then
// re-read files instead of trusting recorded hashes.
func versionTag(fi fs.FileInfo) string { return "" }
