package gdrive

import (
	"fmt"
	"strings"

	"syncer/backends"
)

var _ backends.KeyRefuser = (*Backend)(nil)

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
