package local

import (
	"context"

	"syncer/backends"
)

// LinkFrom makes key a second name (a hard link) of the file at srcKey in
// src, a local folder on the same filesystem: no byte is copied, and the
// new name keeps the file's mtime. The link is made under a temporary name
// and renamed over key, so key never names a partial file; it fails, with
// key as it was, when src is not a local folder, the two folders are on
// different filesystems (EXDEV) or the filesystem has no hard links, or
// the file is not the version srcObj describes.
func (b *Backend) LinkFrom(ctx context.Context, src backends.Backend, srcKey, key string, srcObj backends.Object) (backends.Object, error) {
	from, ok := src.(*Backend)
	if !ok {
		return backends.Object{}, b.errorf("link", key, "source %s is not a local folder", src)
	}
	if _, err := b.path(key); err != nil {
		return backends.Object{}, b.wrap("link", key, err)
	}
	if err := ctx.Err(); err != nil {
		return backends.Object{}, b.wrap("link", key, err)
	}
	in, _, err := from.openListed(srcKey, srcObj)
	if err != nil {
		return backends.Object{}, err
	}
	defer in.Close()
	dirKey, name := splitKey(key)
	d, created, err := b.openFolder(dirKey, true)
	if err != nil {
		b.pruneCreated(created)
		return backends.Object{}, b.wrap("link", key, err)
	}
	defer d.close()
	tmp := tempName(name)
	if err := d.link(in, tmp); err != nil {
		b.pruneCreated(created)
		return backends.Object{}, b.wrap("link", key, err)
	}
	if err := d.rename(tmp, name); err != nil {
		d.remove(tmp)
		b.pruneCreated(created)
		return backends.Object{}, b.wrap("link", key, err)
	}
	if b.fsync {
		if err := d.sync(); err != nil {
			return backends.Object{}, b.wrap("link", key, err)
		}
	}
	st, err := in.Stat()
	if err != nil {
		return backends.Object{}, b.wrap("link", key, err)
	}
	return object(key, st), nil
}
