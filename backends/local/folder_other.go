//go:build !linux

package local

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Outside Linux the folders on a key's path are checked with Lstat, one at
// a time, and the operation then uses the path. This leaves a window: a
// folder swapped for a symlink between the check and the use is followed.
// On Linux (folder_linux.go) descriptors close it.

// folder is a folder at or below the root, checked not to be reached
// through a symlink below the root.
type folder struct {
	path string
}

func (d *folder) close() {}

func (d *folder) isCached() bool { return false }

func (d *folder) join(name string) string { return filepath.Join(d.path, name) }

// openFolder is documented in folder_linux.go.
func (b *Backend) openFolder(dirKey string, create bool) (*folder, []string, error) {
	fi, err := os.Stat(b.root) // the root may be a symlink
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := b.makeRoot(); err != nil {
			return nil, nil, err
		}
		fi, err = os.Stat(b.root)
	}
	if err != nil {
		return nil, nil, err
	}
	if !fi.IsDir() {
		return nil, nil, &fs.PathError{Op: "open", Path: b.root, Err: syscall.ENOTDIR}
	}
	var created []string
	p, n := b.root, 0
	for i, seg := range strings.Split(dirKey, "/") {
		if dirKey == "" {
			break
		}
		if i > 0 {
			n++
		}
		n += len(seg)
		prefix := dirKey[:n]
		p = filepath.Join(p, seg)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) && create {
			if err = os.Mkdir(p, dirPerm); err == nil {
				created = append(created, prefix)
			}
			if err == nil || errors.Is(err, fs.ErrExist) {
				fi, err = os.Lstat(p)
			}
		}
		switch {
		case err != nil:
			return nil, created, err
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil, created, &blockedError{folder: prefix, link: true}
		case !fi.IsDir():
			return nil, created, &blockedError{folder: prefix}
		}
	}
	return &folder{path: p}, created, nil
}

func (d *folder) mode(name string) (fs.FileMode, error) {
	fi, err := os.Lstat(d.join(name))
	if err != nil {
		return 0, err
	}
	return fi.Mode().Type(), nil
}

func (d *folder) stat(name string) (fs.FileInfo, error) { return os.Lstat(d.join(name)) }

func (d *folder) open(name string) (*os.File, error) { return os.Open(d.join(name)) }

func (d *folder) openDir() (*os.File, error) { return os.Open(d.path) }

func openSubdir(dir *os.File, path, name string) (*os.File, error) {
	p := filepath.Join(path, name)
	if fi, err := os.Lstat(p); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.ENOTDIR}
	}
	return os.Open(p)
}

func removeIn(dir *os.File, path, name string) error { return os.Remove(filepath.Join(path, name)) }

func (d *folder) createTemp(base string) (*os.File, string, error) {
	for try := 0; ; try++ {
		name := tempName(base)
		f, err := os.OpenFile(d.join(name), os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
		if errors.Is(err, fs.ErrExist) && try < 10 {
			continue
		}
		return f, name, err
	}
}

func (d *folder) openUnnamed() (*os.File, error) {
	return nil, &os.PathError{Op: "open", Path: d.path, Err: errors.ErrUnsupported}
}

func (d *folder) link(f *os.File, name string) error {
	return &os.LinkError{Op: "link", Old: f.Name(), New: d.join(name), Err: errors.ErrUnsupported}
}

func (d *folder) rename(old, name string) error { return os.Rename(d.join(old), d.join(name)) }

func (d *folder) remove(name string) error { return os.Remove(d.join(name)) }

// rmdir removes the folder name if it is empty; os.Remove would remove a
// symlink too.
func (d *folder) rmdir(name string) error {
	p := d.join(name)
	if fi, err := os.Lstat(p); err != nil {
		return err
	} else if !fi.IsDir() {
		return &fs.PathError{Op: "remove", Path: p, Err: syscall.ENOTDIR}
	}
	return os.Remove(p)
}

func (d *folder) sync() error { return syncDir(d.path) }

// dirCache keeps folder descriptors on Linux; elsewhere folders are paths.
type dirCache struct{}

func (b *Backend) cachedFolder(dirKey string, create bool) (*folder, []string, error) {
	return b.openFolder(dirKey, create)
}

func (b *Backend) dropFolder(string) {}
func (b *Backend) dropAllFolders()   {}
