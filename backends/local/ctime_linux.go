package local

import (
	"io/fs"
	"syscall"
	"time"
)

// changeTime returns the inode's status change time: unlike the mtime, which
// Put sets to the source's, it shows when a temporary file was last touched.
func changeTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Unix())
	}
	return fi.ModTime()
}
