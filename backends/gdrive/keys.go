package gdrive

import (
	"fmt"
	"strings"

	"syncer/backends"
)

var (
	_ backends.KeyRefuser    = (*Backend)(nil)
	_ backends.ObjectRefuser = (*Backend)(nil)
)

// MaxFileSize is the largest file Drive stores: 5,120 GB (taken as GiB;
// manage-uploads: "Maximum file size: 5120 GB").
const MaxFileSize = 5120 << 30

// RefuseKey reports keys whose folders nest deeper than this backend goes
// (resolveDir refuses them). Drive documents no limit on a name's length,
// so none is assumed.
func (b *Backend) RefuseKey(key string) error {
	// The folder of key is key up to its last "/": as deep as resolveDir
	// refuses when it holds maxFolderDepth slashes.
	if strings.Count(key, "/")-1 >= maxFolderDepth {
		return fmt.Errorf("folders nested deeper than %d levels below the root", maxFolderDepth)
	}
	return nil
}

// RefuseObject refuses objects larger than Drive's MaxFileSize, so the
// plan skips them instead of uploading terabytes that Drive then refuses.
func (b *Backend) RefuseObject(o backends.Object) error {
	if o.Size > MaxFileSize {
		return tooLarge(o.Size)
	}
	return nil
}

func tooLarge(size int64) error {
	return fmt.Errorf("%d bytes is over Google Drive's largest file, 5,120 GB (%d bytes)", size, int64(MaxFileSize))
}
