package local

import (
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// entryInfo is Lstat of the entry name in the open folder dir, resolved
// from dir's descriptor: one path component for the kernel to look up
// instead of the whole path from the root (the listing's main cost at a
// million files).
func entryInfo(dir *os.File, e fs.DirEntry) (fs.FileInfo, error) {
	fi := &statInfo{name: e.Name()}
	for {
		err := unix.Fstatat(int(dir.Fd()), fi.name, &fi.st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "lstat", Path: dir.Name() + "/" + fi.name, Err: err}
		}
		return fi, nil
	}
}

// statInfo is an fs.FileInfo from a stat result; Sys is the *unix.Stat_t
// (changeTime and versionTag read it as they read os.Lstat's).
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (s *statInfo) Name() string       { return s.name }
func (s *statInfo) Size() int64        { return s.st.Size }
func (s *statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s *statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s *statInfo) Sys() any           { return &s.st }

func (s *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(s.st.Mode & 0o777)
	switch s.st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	default:
		m |= fs.ModeIrregular
	}
	return m
}
