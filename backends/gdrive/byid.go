package gdrive

import (
	"context"
	"fmt"

	"google.golang.org/api/drive/v3"

	"syncer/backends"
)

var _ backends.IDAddresser = (*Backend)(nil)

// AddressesByID marks the backend as one that takes the ids of
// backends.WithIDs: name search lags behind recent creates, files.get by
// id does not.
func (b *Backend) AddressesByID() {}

// byID returns the item id when it is still key's object: not trashed, of
// key's leaf (after name mapping and a Doc's export extension), in key's
// folder; and its folder's id. f is nil when it is not; gone reports that
// Drive does not know the id (404) or that it is in the trash.
func (b *Backend) byID(ctx context.Context, id, key string) (f *drive.File, parent string, gone bool, err error) {
	if err := b.resolveRoot(ctx); err != nil {
		return nil, "", false, err
	}
	got, err := b.get(ctx, id)
	if err != nil {
		return nil, "", false, err
	}
	if got == nil || got.Trashed {
		return nil, "", true, nil
	}
	dir, leaf := splitKey(key)
	if seg, k := b.natural(got); !isObject(k) || seg != leaf {
		return nil, "", false, nil
	}
	if len(got.Parents) != 1 {
		return nil, "", false, nil
	}
	if ok, err := b.isDir(ctx, dir, got.Parents[0]); err != nil || !ok {
		return nil, "", false, err
	}
	return got, got.Parents[0], false, nil
}

// isDir reports whether folder id is the one at dirKey ("" the root): the
// folder cache's, or else, by files.get up its parents (no name search,
// which lags behind the folders a recent run made), a folder of dirKey's
// names up to the root; such a folder is cached as dirKey's.
func (b *Backend) isDir(ctx context.Context, dirKey, id string) (bool, error) {
	if dirKey == "" {
		return id == b.root || b.root == "root" && b.isRootID(id), nil
	}
	if cached, ok := b.folders.get(dirKey); ok {
		return cached == id, nil
	}
	f, err := b.get(ctx, id)
	if err != nil || f == nil || f.Trashed || f.MimeType != folderMime || len(f.Parents) != 1 {
		return false, err
	}
	parentKey, seg := splitKey(dirKey)
	if got, ok := NameToSegment(f.Name); !ok || got != seg {
		return false, nil
	}
	ok, err := b.isDir(ctx, parentKey, f.Parents[0])
	if ok {
		b.folders.put(dirKey, id)
	}
	return ok, err
}

// find is lookup by id first, when id is set and still key's (see byID).
func (b *Backend) find(ctx context.Context, key, id string) (*drive.File, string, error) {
	if id != "" {
		if f, parent, _, err := b.byID(ctx, id, key); err != nil || f != nil {
			return f, parent, err
		}
	}
	return b.lookup(ctx, key)
}

var _ backends.JournalUser = (*Backend)(nil)

// JournalPlace names the root folder (its id, or the alias "root" of the
// credentials' My Drive) for the journal of the folders made below it.
func (b *Backend) JournalPlace() string {
	return "gdrive:" + b.driveID + ":" + b.root
}

// UseJournal has the backend journal the folders it makes in j, and find
// them there before it searches by name.
func (b *Backend) UseJournal(j backends.IDJournal) { b.journal.Store(&j) }

// journalDir returns the journalled id of the folder dirKey, named seg in
// parent, when files.get confirms it is still that folder (else the stale
// entry is forgotten); "" when there is none.
func (b *Backend) journalDir(ctx context.Context, dirKey, parent, seg string) (string, error) {
	j := b.journal.Load()
	if j == nil {
		return "", nil
	}
	id, err := (*j).Get(ctx, dirKey)
	if err != nil || id == "" {
		return "", err
	}
	f, err := b.get(ctx, id)
	if err != nil {
		return "", fmt.Errorf("folder %q: %w", dirKey, err)
	}
	if f != nil && !f.Trashed && f.MimeType == folderMime && b.matchesParent(f, parent) {
		if got, ok := NameToSegment(f.Name); ok && got == seg {
			return id, nil
		}
	}
	return "", (*j).Put(ctx, dirKey, "")
}

// recordDir journals id as the folder at dirKey, which the backend made.
func (b *Backend) recordDir(ctx context.Context, dirKey, id string) error {
	if j := b.journal.Load(); j != nil {
		return (*j).Put(context.WithoutCancel(ctx), dirKey, id)
	}
	return nil
}

// announce tells the caller (backends.WithNewID) the generated id a file's
// create is about to use; "" (a create without an id) is not announced.
func announce(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if err := backends.AnnounceID(ctx, id); err != nil {
		return fmt.Errorf("record the new file's id %s: %w", id, err)
	}
	return nil
}
