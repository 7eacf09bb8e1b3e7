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
		return formatTag(st.Ino, st.Ctim.Nano())
	case *unix.Stat_t:
		return formatTag(st.Ino, st.Ctim.Nano())
	}
	return ""
}

// formatTag writes inode and ctime as "INO-CTIME" in hex, with one
// allocation (a listing makes one per file).
func formatTag(ino uint64, ctime int64) string {
	var b [40]byte
	t := strconv.AppendUint(b[:0], ino, 16)
	t = append(t, '-')
	return string(strconv.AppendInt(t, ctime, 16))
}
