package gdrive

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/api/drive/v3"
	"google.golang.org/api/googleapi"
)

// Drive promises no consistent snapshot: while a folder changes, its
// listing "might" miss or repeat items (its page tokens behave as
// offsets, so an item removed before the cursor makes another vanish). A
// source listing that misses an item would have the plan delete its copy.
// So List takes changes.getStartPageToken before it walks and reads
// changes.list after: a change to anything below the listed folder fails
// the listing (ErrChangedWhileListing), and the plan is made again.

// ErrChangedWhileListing is the error of a listing during which something
// below the listed folder changed.
var ErrChangedWhileListing = errors.New("the source changed during listing, so the listing may be short or repeat items; no plan is made from it: plan again")

// maxAncestryChecks bounds the folders remembered while deciding whether
// changed items lie below the listed folder.
const maxAncestryChecks = 10000

// changesToken returns the position in the account's (or shared drive's)
// change log before a walk.
func (b *Backend) changesToken(ctx context.Context) (string, error) {
	call := b.svc.Changes.GetStartPageToken().SupportsAllDrives(true).Context(ctx)
	if b.driveID != "" {
		call = call.DriveId(b.driveID)
	}
	t, err := call.Do()
	if err != nil {
		return "", fmt.Errorf("changes.getStartPageToken: %w", err)
	}
	if t == nil || t.StartPageToken == "" {
		return "", errors.New("changes.getStartPageToken answered without a token")
	}
	return t.StartPageToken, nil
}

// changedBelow reads the changes since token and returns the id of one
// item that changed below folder (the listed folder itself aside), or ""
// when none did. An item deleted for good carries no place: it counts
// when the walk may have taken it (listed, a set of the ids taken; its
// rare false "maybe" fails a listing for nothing), as only the removal
// of an item before the cursor can hide another; one the walk never saw
// was trashed already (Drive empties the trash after 30 days) or was
// never in the listed tree.
func (b *Backend) changedBelow(ctx context.Context, token, folder string, listed *seenSet) (string, error) {
	const fields = "nextPageToken,newStartPageToken,changes(fileId,removed,file(id,parents,trashed,driveId))"
	below := map[string]bool{folder: true} // folder id -> below (or at) folder
	for token != "" {
		call := b.svc.Changes.List(token).SupportsAllDrives(true).IncludeItemsFromAllDrives(true).
			IncludeRemoved(true).PageSize(1000).Fields(fields).Context(ctx)
		if b.driveID != "" {
			call = call.DriveId(b.driveID)
		}
		cl, err := call.Do()
		if err != nil {
			return "", fmt.Errorf("changes.list: %w", err)
		}
		if cl == nil {
			return "", errors.New("changes.list answered null instead of a page")
		}
		for _, c := range cl.Changes {
			if c == nil {
				return "", errors.New("changes.list answered a null change")
			}
			if c.FileId == folder {
				continue
			}
			if c.Removed || c.File == nil {
				if listed.has(c.FileId) {
					return c.FileId, nil
				}
				continue
			}
			in, err := b.isBelow(ctx, c.File.Parents, folder, below)
			if err != nil {
				return "", err
			}
			if in {
				return c.FileId, nil
			}
		}
		if cl.NextPageToken == token {
			return "", errors.New("changes.list handed out the page token it was given")
		}
		token = cl.NextPageToken
	}
	return "", nil
}

// isBelow reports whether an item with parents lies below folder, walking
// up the parents (files.get) and remembering the answer in below for
// every folder passed.
func (b *Backend) isBelow(ctx context.Context, parents []string, folder string, below map[string]bool) (bool, error) {
	var path []string
	answer := false
	for depth := 0; len(parents) > 0; depth++ {
		id := parents[0]
		if in, ok := below[id]; ok {
			answer = in
			break
		}
		if depth > maxFolderDepth {
			return false, errTooDeep
		}
		path = append(path, id)
		f, err := b.get(ctx, id)
		if err != nil {
			return false, err
		}
		if f == nil { // gone, or not visible: not below a folder we see
			break
		}
		parents = f.Parents
	}
	if len(below) > maxAncestryChecks {
		clear(below)
		below[folder] = true
	}
	for _, id := range path {
		below[id] = answer
	}
	return answer, nil
}

// scanLookup finds the object at key as a listing would, listing folders
// by parent only, with no name term: Drive's name search can lag minutes
// behind creates, and a Delete that trusted its miss would report success
// and leave the file. It costs a listing of each folder on the path, so
// it is only the fallback of a miss. nil when there is no such object.
func (b *Backend) scanLookup(ctx context.Context, key string) (*drive.File, error) {
	if err := b.resolveRoot(ctx); err != nil {
		return nil, err
	}
	dir, leaf := splitKey(key)
	parent := b.root
	if dir != "" {
		for _, seg := range strings.Split(dir, "/") {
			f, err := b.scanChild(ctx, parent, seg, true)
			if err != nil || f == nil {
				return nil, err
			}
			parent = f.Id
		}
	}
	return b.scanChild(ctx, parent, leaf, false)
}

// scanChild returns the folder (folder set) or object at segment seg of
// parent by listing parent's children, chosen as a listing gives keys: a
// binary file before a Doc, then the oldest; a dup segment names its item.
func (b *Backend) scanChild(ctx context.Context, parent, seg string, folder bool) (*drive.File, error) {
	if _, _, ok := parseDup(seg); ok {
		return b.dupItem(ctx, parent, seg, folder)
	}
	q := quoteQ(parent) + " in parents and trashed = false"
	if folder {
		q += " and mimeType = " + quoteQ(folderMime)
	}
	var best *drive.File
	bestBin := false
	err := pages(ctx, b.listCall(ctx, q).PageSize(b.pageSize).Fields(googleapi.Field(listFields)), func(fl *drive.FileList) error {
		for _, f := range fl.Files {
			nat, k := b.natural(f)
			switch {
			case nat != seg:
			case folder:
				if k == kindFolder && (best == nil || older(f, best)) {
					best = f
				}
			case isObject(k):
				bin := k == kindBinary
				if best == nil || bin && !bestBin || bin == bestBin && older(f, best) {
					best, bestBin = f, bin
				}
			}
		}
		return nil
	})
	return best, err
}
