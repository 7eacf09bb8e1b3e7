package local

import (
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openUnnamed creates a file in dir that has no name yet (O_TMPFILE): a
// crash or a failed write leaves nothing behind, and linkFile names it.
func openUnnamed(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, filePerm)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// linkFile gives an unnamed file the name p; it fails with EEXIST if p
// exists. The /proc path works without the privilege that linkat's
// AT_EMPTY_PATH needs.
func linkFile(f *os.File, p string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, p, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: "new file", New: p, Err: err}
	}
	return nil
}

// setModTime sets f's mtime (nanoseconds) through the descriptor, which
// works for unnamed files too; the atime is left alone.
func setModTime(f *os.File, t time.Time) error {
	ts := [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(t.UnixNano())}
	// utimensat with a NULL path acts on the descriptor itself (futimens).
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return &os.PathError{Op: "utimensat", Path: f.Name(), Err: errno}
	}
	return nil
}
