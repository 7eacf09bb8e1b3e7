package local

import (
	"fmt"
	"path/filepath"
	"strings"

	"syncer/backends"
)

// NameMax is the longest file or folder name, in bytes, that the local
// backend writes: NAME_MAX on Linux filesystems (ext4, xfs, btrfs, tmpfs).
const NameMax = 255

var _ backends.KeyRefuser = (*Backend)(nil)

// RefuseKey reports keys this backend can never write: a name (any
// segment) longer than NameMax bytes, a file name starting with TempPrefix
// (a folder may have one), and keys that are not a local path on this
// system (see path).
func (b *Backend) RefuseKey(key string) error {
	for seg := range strings.SplitSeq(key, "/") {
		if len(seg) > NameMax {
			return fmt.Errorf("name longer than %d bytes", NameMax)
		}
	}
	if isTemp(key[strings.LastIndexByte(key, '/')+1:]) {
		return fmt.Errorf("names starting with %q are reserved for syncer's temporary files", TempPrefix)
	}
	// Elsewhere than Windows, CheckKey already ensures what path checks.
	if filepath.Separator != '/' {
		if strings.ContainsRune(key, filepath.Separator) {
			return fmt.Errorf("name holds %q, a path separator on this system", filepath.Separator)
		}
		if !filepath.IsLocal(filepath.FromSlash(key)) {
			return fmt.Errorf("not a local path on this system (a reserved name?)")
		}
	}
	return nil
}
