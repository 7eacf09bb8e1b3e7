package gdrive

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/api/drive/v3"
	"google.golang.org/api/googleapi"

	"syncer/backends"
)

// CanCopyFrom reports whether CopyFrom can copy from src inside Drive:
// src must be a gdrive backend at the same endpoint with the same
// credentials (the same credentials file identity and subject, or both
// application default credentials with the same subject).
func (b *Backend) CanCopyFrom(src backends.Backend) bool {
	s, ok := src.(*Backend)
	return ok && s != nil && strings.EqualFold(s.endpoint, b.endpoint) && s.identity == b.identity
}

// CopyFrom copies srcKey of src (a *gdrive.Backend) to key with
// files.copy, so the bytes stay in Drive; the copy gets the source's
// modification time. An existing binary file at key is replaced: the copy
// is made, then the old file is trashed or deleted per delete mode. A
// Google Doc is exported and uploaded instead (as Put would store it), so
// the destination holds the same bytes a download would.
func (b *Backend) CopyFrom(ctx context.Context, src backends.Backend, srcKey, key string, srcObj backends.Object) (backends.Object, error) {
	s, ok := src.(*Backend)
	if !ok {
		return backends.Object{}, fmt.Errorf("copy %s: source %s is not a gdrive backend", b, src)
	}
	if err := backends.CheckKey(key); err != nil {
		return backends.Object{}, fmt.Errorf("copy %s: %w", b, err)
	}
	if err := backends.CheckKey(srcKey); err != nil {
		return backends.Object{}, fmt.Errorf("copy from %s: %w", s, err)
	}
	if err := ctx.Err(); err != nil {
		return backends.Object{}, b.wrap(ctx, "copy", key, err)
	}
	if err := b.capUpErr("copy", key); err != nil {
		return backends.Object{}, err
	}
	sf, _, err := s.find(ctx, srcKey, backends.IDsFrom(ctx).Src)
	if err != nil {
		return backends.Object{}, s.wrap(ctx, "copy from", srcKey, err)
	}
	if sf == nil {
		return backends.Object{}, s.notFound("copy from", srcKey)
	}
	if strings.HasPrefix(sf.MimeType, googlePrefix) {
		rc, err := s.Open(ctx, srcKey, 0, -1)
		if err != nil {
			return backends.Object{}, err
		}
		defer rc.Close()
		srcObj.Size = -1
		return b.Put(ctx, key, rc, srcObj)
	}
	if srcObj.ETag != "" && sf.HeadRevisionId != "" && srcObj.ETag != sf.HeadRevisionId {
		return backends.Object{}, s.errorf("copy from", srcKey, "the file changed since it was listed (revision %s, listed %s)", sf.HeadRevisionId, srcObj.ETag)
	}

	t, unlock, err := b.writeTarget(ctx, "copy", key)
	if err != nil {
		return backends.Object{}, err
	}
	defer unlock()
	parent, leaf, old := t.parent, t.leaf, t.existing
	name := SegmentToName(leaf)
	nf, err := b.createOnce(ctx, parent, name, func(id string) (*drive.File, error) {
		if err := announce(ctx, id); err != nil {
			return nil, err
		}
		meta := &drive.File{Id: id, Name: name, Parents: []string{parent}, ModifiedTime: sf.ModifiedTime}
		return b.svc.Files.Copy(sf.Id, meta).Fields(googleapi.Field(fileFields)).SupportsAllDrives(true).Context(ctx).Do()
	})
	if err != nil {
		if isNotFound(err) && ctx.Err() == nil {
			return backends.Object{}, s.notFound("copy from", srcKey)
		}
		if ctx.Err() == nil && b.upCapped(err) {
			return backends.Object{}, b.stopUp(ctx, "copy", key, err)
		}
		return backends.Object{}, b.wrap(ctx, "copy", key, fmt.Errorf("from %s key %q: %w", s, srcKey, err))
	}
	if want, err := time.Parse(time.RFC3339Nano, sf.ModifiedTime); err == nil {
		if got, err := time.Parse(time.RFC3339Nano, nf.ModifiedTime); err != nil || !got.Equal(want) {
			// Drive stamped the copy "now": set the source's time.
			nf, err = b.svc.Files.Update(nf.Id, &drive.File{ModifiedTime: sf.ModifiedTime}).Fields(googleapi.Field(fileFields)).SupportsAllDrives(true).Context(ctx).Do()
			if err != nil {
				return backends.Object{}, b.wrap(ctx, "copy", key, err)
			}
			if nf == nil || nf.Id == "" {
				return backends.Object{}, b.errorf("copy", key, "Drive answered the update of the copy without the file (null, or no id)")
			}
		}
	}
	// Drive copies bytes it already holds, but what it reports is all there
	// is to check: a copy that differs from its source in size or md5 is
	// removed rather than recorded.
	if (nf.Size != sf.Size || sf.Md5Checksum != "" && nf.Md5Checksum != sf.Md5Checksum) && nf.Id != sf.Id {
		err := fmt.Errorf("copy verification failed: Drive reports the copy as %d bytes, md5 %q; the source is %d bytes, md5 %q", nf.Size, nf.Md5Checksum, sf.Size, sf.Md5Checksum)
		// Deleted, not trashed: it was never anyone's file.
		if rerr := b.svc.Files.Delete(nf.Id).SupportsAllDrives(true).Context(context.WithoutCancel(ctx)).Do(); rerr != nil && !isNotFound(rerr) {
			err = fmt.Errorf("%w (and removing the copy failed: %v)", err, rerr)
		}
		return backends.Object{}, b.wrap(ctx, "copy", key, err)
	}
	if old != nil && old.Id != nf.Id && !strings.HasPrefix(old.MimeType, googlePrefix) {
		if err := b.remove(ctx, old.Id); err != nil && !isNotFound(err) {
			return backends.Object{}, b.wrapRemove(ctx, "copy", key, fmt.Errorf("remove the replaced file %s: %w", old.Id, err))
		}
	}
	o, err := b.object(key, nf)
	if err != nil {
		return backends.Object{}, b.errorf("copy", key, "%v", err)
	}
	return o, nil
}
