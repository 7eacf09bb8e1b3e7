package local

import (
	"io/fs"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// changeTime returns the inode's status change time: unlike the mtime, which
// Put sets to the source's, it shows when a temporary file was last touched.
func changeTime(fi fs.FileInfo) time.Time {
	switch st := fi.Sys().(type) {
	case *syscall.Stat_t:
		return time.Unix(st.Ctim.Unix())
	case *unix.Stat_t:
		return time.Unix(st.Ctim.Unix())
	}
	return fi.ModTime()
}

// versionTag identifies one version of a file: its inode and status change
// time. Unlike the mtime it cannot be set back by hand (utimes itself
// changes the ctime), so a plan may trust hashes recorded for a file whose
// tag is unchanged.
func versionTag(fi fs.FileInfo) string {
	switch st := fi.Sys().(type) {
	case *syscall.Stat_t:
		return strconv.FormatUint(st.Ino, 16) + "-" + strconv.FormatInt(st.Ctim.Nano(), 16)
	case *unix.Stat_t:
		return strconv.FormatUint(st.Ino, 16) + "-" + strconv.FormatInt(st.Ctim.Nano(), 16)
	}
	return ""
}
