//go:build !linux

package local

import (
	"io/fs"
	"os"
)

// entryInfo is Lstat of the entry e of the open folder dir.
func entryInfo(dir *os.File, e fs.DirEntry) (fs.FileInfo, error) { return e.Info() }
