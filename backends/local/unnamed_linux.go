package local

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

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
