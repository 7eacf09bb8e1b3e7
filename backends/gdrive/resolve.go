package gdrive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/api/drive/v3"
	"google.golang.org/api/googleapi"

	"syncer/backends"
)

// fileFields are the File fields every call asks for.
const fileFields = "id,name,mimeType,parents,size,md5Checksum,sha256Checksum,modifiedTime,createdTime,headRevisionId,trashed,shortcutDetails(targetId,targetMimeType)"

// maxNamesPerQuery bounds the names ORed into one files.list query.
const maxNamesPerQuery = 50

type itemKind int

const (
	kindBinary   itemKind = iota
	kindFolder            // a folder: not an object, walked
	kindDoc               // a Google Doc, Sheet, Slides or Drawing: exported
	kindShortcut          // skipped, never followed
	kindSkipped           // a Google Doc with SkipGoogleDocs
	kindOther             // a Google type without export (Forms, Sites, ...)
	kindBadName           // a name that cannot be a key segment
)

// natural classifies f and returns its key segment before any duplicate
// suffix: the mapped name, plus the export extension for a Doc.
func (b *Backend) natural(f *drive.File) (string, itemKind) {
	var k itemKind
	switch {
	case f.MimeType == folderMime:
		k = kindFolder
	case f.MimeType == shortcutMime:
		return "", kindShortcut
	case strings.HasPrefix(f.MimeType, googlePrefix):
		if _, ok := b.exports[f.MimeType]; !ok {
			return "", kindOther
		}
		if b.skipDocs {
			return "", kindSkipped
		}
		k = kindDoc
	}
	seg, ok := NameToSegment(f.Name)
	if !ok {
		return "", kindBadName
	}
	if k == kindDoc {
		seg += "." + b.exports[f.MimeType].ext
	}
	return seg, k
}

// isObject reports whether a kind is listed as an object.
func isObject(k itemKind) bool { return k == kindBinary || k == kindDoc }

// The digests of empty content, which Drive reports for an empty file.
const (
	emptyMD5    = "d41d8cd98f00b204e9800998ecf8427e"
	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// contentSize returns the size of a binary file's content as Drive
// reported it, or -1 when it cannot be known from the metadata.
//
// The client decodes a missing "size" as 0, the size of an empty file, so
// a 0 is checked against the checksums Drive sends with it (every listing
// and get asks for them): an empty file's are those of empty content, and
// any other checksum means Drive left the size out, which is an error (a
// download clamped to 0 bytes would copy an empty file, silently). A 0
// with no checksum at all may be either; its size is taken as unknown (-1),
// so the file is compared by time and read to its end, never cut short. A
// negative size is an error.
func contentSize(f *drive.File) (int64, error) {
	switch {
	case f.Size < 0:
		return 0, fmt.Errorf("a negative size (%d) reported for a binary file", f.Size)
	case f.Size > 0:
		return f.Size, nil
	case f.Md5Checksum != "" && f.Md5Checksum != emptyMD5, f.Sha256Checksum != "" && f.Sha256Checksum != emptySHA256:
		return 0, errors.New("no size (or 0) reported for a binary file whose checksum is not an empty file's")
	case f.Md5Checksum == "" && f.Sha256Checksum == "":
		return -1, nil
	}
	return 0, nil
}

// object describes f at key; an error when Drive's metadata for a binary
// file cannot be trusted (see contentSize).
func (b *Backend) object(key string, f *drive.File) (backends.Object, error) {
	o := backends.Object{Key: key, ID: f.Id}
	if t, err := time.Parse(time.RFC3339Nano, f.ModifiedTime); err == nil {
		o.ModTime = t
	}
	if strings.HasPrefix(f.MimeType, googlePrefix) {
		o.Size = -1 // exported: the size is known only by exporting
		return o, nil
	}
	size, err := contentSize(f)
	if err != nil {
		return backends.Object{}, err
	}
	o.Size = size
	o.ETag = f.HeadRevisionId
	if f.Md5Checksum != "" || f.Sha256Checksum != "" {
		o.Hashes = map[backends.HashType]string{}
		if f.Md5Checksum != "" {
			o.Hashes[backends.MD5] = f.Md5Checksum
		}
		if f.Sha256Checksum != "" {
			o.Hashes[backends.SHA256] = f.Sha256Checksum
		}
	}
	return o, nil
}

// older reports whether a was created before b (ties: the smaller id);
// among duplicates the oldest keeps the plain key.
func older(a, b *drive.File) bool {
	if a.CreatedTime != b.CreatedTime {
		ta, ea := time.Parse(time.RFC3339Nano, a.CreatedTime)
		tb, eb := time.Parse(time.RFC3339Nano, b.CreatedTime)
		if ea == nil && eb == nil && !ta.Equal(tb) {
			return ta.Before(tb)
		}
	}
	return a.Id < b.Id
}

// quoteQ quotes s as a string of Drive's query language.
func quoteQ(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// listCall starts a files.list with the shared-drive parameters.
func (b *Backend) listCall(ctx context.Context, q string) *drive.FilesListCall {
	c := b.svc.Files.List().Q(q).SupportsAllDrives(true).IncludeItemsFromAllDrives(true).Context(ctx)
	if b.driveID != "" {
		c = c.Corpora("drive").DriveId(b.driveID)
	}
	return c
}

// listFields are the fields every files.list asks for.
const listFields = "nextPageToken,incompleteSearch,files(" + fileFields + ")"

// pages runs a files.list call page by page into fn. The client asks for
// pages until one has no nextPageToken, so a token handed out again would
// loop forever; a page marked incompleteSearch holds part of the answer;
// and a null page, a null item or an item without an id cannot be used.
// All are errors: a listing is used whole or not at all (a partial source
// listing would have the plan delete what it missed). fn sees only
// non-nil items with ids.
func pages(ctx context.Context, call *drive.FilesListCall, fn func(*drive.FileList) error) error {
	var trail backends.TokenTrail
	return call.Pages(ctx, func(fl *drive.FileList) error {
		if fl == nil {
			return errors.New("files.list answered null instead of a page")
		}
		if fl.IncompleteSearch {
			return errors.New("files.list answered with incompleteSearch set: a partial listing is not used")
		}
		for _, f := range fl.Files {
			if f == nil {
				return errors.New("files.list answered a null item")
			}
			if f.Id == "" {
				return fmt.Errorf("files.list answered an item without an id (name %q)", f.Name)
			}
		}
		if fl.NextPageToken != "" && trail.Repeated(fl.NextPageToken) {
			return errors.New("files.list handed out a page token it had handed out before: stopping rather than listing the same pages forever")
		}
		return fn(fl)
	})
}

// findNamed returns the non-trashed children of parent with one of names,
// page by page (duplicates of a few names: a small result).
func (b *Backend) findNamed(ctx context.Context, parent string, names []string) ([]*drive.File, error) {
	var out []*drive.File
	for len(names) > 0 {
		n := min(len(names), maxNamesPerQuery)
		terms := make([]string, n)
		for i, name := range names[:n] {
			terms[i] = "name = " + quoteQ(name)
		}
		names = names[n:]
		q := fmt.Sprintf("%s in parents and trashed = false and (%s)", quoteQ(parent), strings.Join(terms, " or "))
		call := b.listCall(ctx, q).PageSize(b.pageSize).Fields(googleapi.Field(listFields))
		err := pages(ctx, call, func(fl *drive.FileList) error {
			out = append(out, fl.Files...)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// get returns the item id, or nil when Drive does not know it.
func (b *Backend) get(ctx context.Context, id string) (*drive.File, error) {
	f, err := b.svc.Files.Get(id).Fields(googleapi.Field(fileFields)).SupportsAllDrives(true).Context(ctx).Do()
	if err != nil {
		if isNotFound(err) && ctx.Err() == nil {
			return nil, nil
		}
		return nil, err
	}
	if f == nil || f.Id == "" {
		return nil, fmt.Errorf("files.get of %s answered without an item (null, or no id)", id)
	}
	return f, nil
}

// splitKey splits a key into its folder key ("" for the root) and leaf.
func splitKey(key string) (dir, leaf string) {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

// matchesParent reports whether f is in folder parent (which may be the
// alias "root", resolved by resolveRoot).
func (b *Backend) matchesParent(f *drive.File, parent string) bool {
	return slices.Contains(f.Parents, parent) || parent == b.root && b.root == "root" && len(f.Parents) == 1 && b.isRootID(f.Parents[0])
}

// isRootID reports whether id is My Drive's root; learnt on first need.
func (b *Backend) isRootID(id string) bool {
	b.rootMu.Lock()
	defer b.rootMu.Unlock()
	return b.rootID != "" && b.rootID == id
}

// resolveRoot learns the real id of the root alias "root" (one request,
// once), so that items' parents can be compared with it.
func (b *Backend) resolveRoot(ctx context.Context) error {
	if b.root != "root" {
		return nil
	}
	b.rootMu.Lock()
	known := b.rootID != ""
	b.rootMu.Unlock()
	if known {
		return nil
	}
	f, err := b.svc.Files.Get("root").Fields("id").SupportsAllDrives(true).Context(ctx).Do()
	if err != nil {
		return err
	}
	if f == nil || f.Id == "" {
		return errors.New(`files.get of "root" (My Drive) answered without an id`)
	}
	b.rootMu.Lock()
	defer b.rootMu.Unlock()
	b.rootID = f.Id
	return nil
}

// folderOwner returns the folder that owns segment seg in parent: the
// oldest non-trashed folder named SegmentToName(seg); nil when none.
func (b *Backend) folderOwner(ctx context.Context, parent, seg string) (*drive.File, error) {
	files, err := b.findNamed(ctx, parent, []string{SegmentToName(seg)})
	if err != nil {
		return nil, err
	}
	var best *drive.File
	for _, f := range files {
		if s, k := b.natural(f); k == kindFolder && s == seg && (best == nil || older(f, best)) {
			best = f
		}
	}
	return best, nil
}

// objectOwner returns the object that owns key segment seg in parent: the
// oldest binary file with that name, else the oldest Doc whose name plus
// export extension is seg; nil when none.
func (b *Backend) objectOwner(ctx context.Context, parent, seg string) (*drive.File, error) {
	names := []string{SegmentToName(seg)}
	var docStem string
	if !b.skipDocs {
		if i := strings.LastIndexByte(seg, '.'); i > 0 {
			if _, ok := b.byExt[seg[i+1:]]; ok {
				docStem = seg[:i]
				names = append(names, SegmentToName(docStem))
			}
		}
	}
	files, err := b.findNamed(ctx, parent, names)
	if err != nil {
		return nil, err
	}
	var bin, doc *drive.File
	for _, f := range files {
		s, k := b.natural(f)
		if s != seg {
			continue
		}
		switch k {
		case kindBinary:
			if bin == nil || older(f, bin) {
				bin = f
			}
		case kindDoc:
			if doc == nil || older(f, doc) {
				doc = f
			}
		}
	}
	if bin != nil {
		return bin, nil
	}
	return doc, nil
}

// dupItem returns the item a duplicate's segment names (…(dup ID)…) when
// it is a duplicate in parent of the wanted kind; nil otherwise.
func (b *Backend) dupItem(ctx context.Context, parent, seg string, folder bool) (*drive.File, error) {
	base, id, ok := parseDup(seg)
	if !ok {
		return nil, nil
	}
	f, err := b.get(ctx, id)
	if err != nil || f == nil || f.Trashed || !b.matchesParent(f, parent) {
		return nil, err
	}
	nat, k := b.natural(f)
	if nat != base || dupSegment(nat, f.Id) != seg || (k == kindFolder) != folder || (!folder && !isObject(k)) {
		return nil, nil
	}
	var owner *drive.File
	if folder {
		owner, err = b.folderOwner(ctx, parent, nat)
	} else {
		owner, err = b.objectOwner(ctx, parent, nat)
	}
	if err != nil || owner == nil || owner.Id == f.Id {
		// The oldest owns the plain key, not the dup form.
		return nil, err
	}
	return f, nil
}

// findFolder returns the id of the folder at segment seg in parent, or "".
func (b *Backend) findFolder(ctx context.Context, parent, seg string) (string, error) {
	if f, err := b.dupItem(ctx, parent, seg, true); err != nil || f != nil {
		if f != nil {
			return f.Id, nil
		}
		return "", err
	}
	f, err := b.folderOwner(ctx, parent, seg)
	if err != nil || f == nil {
		return "", err
	}
	return f.Id, nil
}

// findObject returns the object at segment seg in parent, or nil.
func (b *Backend) findObject(ctx context.Context, parent, seg string) (*drive.File, error) {
	if f, err := b.dupItem(ctx, parent, seg, false); err != nil || f != nil {
		return f, err
	}
	return b.objectOwner(ctx, parent, seg)
}

// resolveDir returns the id of the folder at dirKey ("" is the root), or
// "" when it does not exist. With create, missing folders are made (one
// at a time per path, so concurrent Puts do not make twins). It looks in
// the folder cache, then the journal of the folders syncer made
// (journalDir: by id, which does not lag), then by name; every folder it
// makes is journalled.
func (b *Backend) resolveDir(ctx context.Context, dirKey string, create bool) (string, error) {
	if dirKey == "" {
		return b.root, nil
	}
	if strings.Count(dirKey, "/") >= maxFolderDepth {
		return "", fmt.Errorf("folder %q: %s", dirKey, errTooDeep)
	}
	if id, ok := b.folders.get(dirKey); ok {
		return id, nil
	}
	parentKey, seg := splitKey(dirKey)
	parent, err := b.resolveDir(ctx, parentKey, create)
	if err != nil || parent == "" {
		return "", err
	}
	id, err := b.journalDir(ctx, dirKey, parent, seg)
	if err != nil {
		return "", err
	}
	if id != "" {
		b.folders.put(dirKey, id)
		return id, nil
	}
	id, err = b.findFolder(ctx, parent, seg)
	if err != nil {
		return "", err
	}
	if id == "" && create {
		unlock := b.locks.lock("dir\x00" + dirKey)
		defer unlock()
		if cached, ok := b.folders.get(dirKey); ok {
			return cached, nil
		}
		if id, err = b.findFolder(ctx, parent, seg); err != nil {
			return "", err
		}
		if id == "" {
			// Name search lags behind recent creates (a folder a run
			// made minutes ago): list the parent's folders before
			// making a twin. One query per folder created.
			f, err := b.scanChild(ctx, parent, seg, true)
			if err != nil {
				return "", err
			}
			if f != nil {
				id = f.Id
			}
		}
		if id == "" {
			name := SegmentToName(seg)
			f, err := b.createOnce(ctx, parent, name, func(id string) (*drive.File, error) {
				return b.svc.Files.Create(&drive.File{Id: id, Name: name, MimeType: folderMime, Parents: []string{parent}}).
					Fields("id").SupportsAllDrives(true).Context(ctx).Do()
			})
			if err != nil {
				return "", fmt.Errorf("create folder %q: %w", dirKey, err)
			}
			id = f.Id
			if err := b.recordDir(ctx, dirKey, id); err != nil {
				return "", err
			}
		}
	}
	if id != "" {
		b.folders.put(dirKey, id)
	}
	return id, nil
}

// lookup returns the object at key and the id of its folder; f is nil
// when there is none. A key that name search misses is looked for by
// listing its folders (scanLookup) before it is called missing: the
// search lags behind recent creates, and the keys looked up (to read,
// update or delete) are ones a listing or the state says exist, so a miss
// is rare.
func (b *Backend) lookup(ctx context.Context, key string) (f *drive.File, parent string, err error) {
	if err := b.resolveRoot(ctx); err != nil {
		return nil, "", err
	}
	dir, leaf := splitKey(key)
	parent, err = b.resolveDir(ctx, dir, false)
	if err != nil {
		return nil, parent, err
	}
	if parent != "" {
		if f, err = b.findObject(ctx, parent, leaf); err != nil || f != nil {
			return f, parent, err
		}
	}
	if f, err = b.scanLookup(ctx, key); err != nil || f == nil || len(f.Parents) == 0 {
		return nil, parent, err
	}
	b.log.Info("Google Drive: name search missed a file that a listing found", "backend", b.String(), "key", key, "id", f.Id)
	return f, f.Parents[0], nil
}
