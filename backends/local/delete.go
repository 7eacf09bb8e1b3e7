package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// Delete removes the file at key, then any parent folders left empty, up to
// but not including the root. A missing key, or a key naming a folder or a
// symlink (not objects), is left alone and is not an error. So is a key
// below a symlinked folder: it reads as missing, as List does not follow
// the link, and what the link points to is not syncer's to delete (it is
// logged).
func (b *Backend) Delete(ctx context.Context, key string) error {
	if _, err := b.path(key); err != nil {
		return fmt.Errorf("delete %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return b.wrap("delete", key, err)
	}
	dirKey, name := splitKey(key)
	d, _, err := b.openFolder(dirKey, false)
	if err != nil {
		var be *blockedError
		if errors.As(err, &be) && be.link {
			b.log.Warn("not deleting through a symlinked folder (symlinks are not followed)",
				"backend", b.String(), "key", key, "symlink", be.folder)
			return nil
		}
		if missing(err) {
			return nil
		}
		return b.wrap("delete", key, err)
	}
	err = b.deleteIn(d, name)
	d.close()
	if err != nil {
		if missing(err) {
			return nil
		}
		return b.wrap("delete", key, err)
	}
	b.pruneEmpty(dirKey)
	return nil
}

// deleteIn removes name from d if it is a regular file.
func (b *Backend) deleteIn(d *folder, name string) error {
	mode, err := d.mode(name)
	if err != nil {
		return err
	}
	if !mode.IsRegular() {
		return fs.ErrNotExist
	}
	return d.remove(name)
}

// pruneEmpty removes the folder dirKey and its parents while they are empty
// folders below the root. Symlinks are never followed nor removed.
func (b *Backend) pruneEmpty(dirKey string) {
	for dirKey != "" {
		if b.removeEmptyFolder(dirKey) != nil { // not empty, gone, or not a folder
			return
		}
		dirKey = parentKey(dirKey)
	}
}
