package gdrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"

	"google.golang.org/api/drive/v3"
	"google.golang.org/api/googleapi"

	"syncer/backends"
)

// maxFolderDepth bounds the folders below the root a key or a walk may
// pass through. Drive allows 100 levels of nesting, so a deeper tree means
// a folder loop: a folder that Drive lists among the children of itself
// or of a folder inside it.
const maxFolderDepth = 128

var errTooDeep = fmt.Errorf("folder nesting deeper than Drive allows (%d levels below the root): a folder loop?", maxFolderDepth)

// maxListRestarts bounds how often one folder's listing starts over after
// an expired page token.
const maxListRestarts = 5

var errRestartChanged = errors.New("the folder changed while its listing started over after an expired page token (the items already listed are not the first ones any more); plan again")

// idHash adds id to an order-dependent running hash (FNV-1a over the
// bytes, with a separator).
func idHash(h uint64, id string) uint64 {
	if h == 0 {
		h = 14695981039346656037
	}
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	return (h ^ 0xff) * 1099511628211
}

// expiredToken reports whether err is Drive refusing a files.list page
// token: 400 with the pageToken parameter named (reason invalid), or a
// message about the page token.
func expiredToken(err error) bool {
	ge := apiError(err)
	if ge == nil || ge.Code != http.StatusBadRequest {
		return false
	}
	var body driveErrorBody
	if json.Unmarshal([]byte(ge.Body), &body) == nil {
		for _, it := range body.Error.Errors {
			if strings.EqualFold(it.Location, "pageToken") {
				return true
			}
		}
	}
	return strings.Contains(strings.ToLower(ge.Message), "page token")
}

// pendingFolder is a folder the walk has yet to list.
type pendingFolder struct {
	id     string
	prefix string            // key prefix of its children: "" or ending in "/"
	filter string            // only children whose segment starts with it (top level)
	keep   func(string) bool // top level: nil, or the subfolders to walk (see ListPruned)
	up     *pathNode         // the folders above it, up to where the walk started
	depth  int               // its folders below the root ("a/b/" is 2)
}

// pathNode is a folder on the path from where a walk started: a chain
// shared by the folders pending below it, so the walk holds at most one
// node per pending folder, never one per item.
type pathNode struct {
	id string
	up *pathNode
}

// fnError carries an error returned by List's callback.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// List walks the folder tree under prefix depth-first, one folder at a
// time, page by page, streaming objects to fn. Folders still to list wait
// on a stack (see the package comment for its bound).
func (b *Backend) List(ctx context.Context, prefix string, fn func(backends.Object) error) error {
	return b.list(ctx, prefix, nil, fn)
}

func (b *Backend) list(ctx context.Context, prefix string, keep func(string) bool, fn func(backends.Object) error) error {
	if !utf8.ValidString(prefix) || strings.ContainsRune(prefix, 0) || strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("list %s: invalid list prefix %q", b, prefix)
	}
	if err := ctx.Err(); err != nil {
		return b.wrap(ctx, "list", "", err)
	}
	dirKey, filter := splitKey(prefix)
	if dirKey != "" {
		if err := backends.CheckKey(dirKey); err != nil {
			return fmt.Errorf("list %s: invalid list prefix %q: %w", b, prefix, err)
		}
	}
	start, err := b.resolveDir(ctx, dirKey, false)
	if err != nil {
		return b.wrap(ctx, "list", prefix, err)
	}
	if start == "" {
		return ctx.Err() // a root or folder that does not exist holds nothing
	}
	// Changes from here on show whether the walk saw a folder that held
	// still (see changes.go).
	token, err := b.changesToken(ctx)
	if err != nil {
		return b.wrap(ctx, "list", prefix, err)
	}
	stack := []pendingFolder{{id: start, prefix: dirKey, filter: filter, keep: keep}}
	if dirKey != "" {
		stack[0].prefix += "/"
		stack[0].depth = strings.Count(dirKey, "/") + 1
	}
	seen := &seenSet{}   // reused folder after folder
	listed := &seenSet{} // the ids of every item taken, for changedBelow
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		err := b.listFolder(ctx, p, seen, listed, fn, func(f pendingFolder) {
			stack = append(stack, f)
			for n := int64(len(stack)); ; {
				old := b.maxPending.Load()
				if n <= old || b.maxPending.CompareAndSwap(old, n) {
					break
				}
			}
		})
		if err != nil {
			var fe fnError
			if errors.As(err, &fe) {
				return fe.err
			}
			return b.wrap(ctx, "list", strings.TrimSuffix(p.prefix, "/"), err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	folder := start
	if folder == "root" {
		if err := b.resolveRoot(ctx); err != nil {
			return b.wrap(ctx, "list", prefix, err)
		}
		b.rootMu.Lock()
		folder = b.rootID
		b.rootMu.Unlock()
	}
	id, err := b.changedBelow(ctx, token, folder, listed)
	if err != nil {
		return b.wrap(ctx, "list", prefix, err)
	}
	if id != "" {
		where, _ := backends.Describe(ctx, "list", b, prefix, nil)
		return fmt.Errorf("%s: %w (item %s changed)", where, ErrChangedWhileListing, id)
	}
	return nil
}

// folderLister lists one folder: it groups items with equal names (case
// folded) to settle duplicates, and holds Docs until it has checked that
// no binary file takes their key.
type folderLister struct {
	b     *Backend
	ctx   context.Context
	p     pendingFolder
	fn    func(backends.Object) error
	push  func(pendingFolder)
	group []*drive.File
	fold  string // the group's folded name
	docs  []docItem
	seen  *seenSet  // keys emitted in this folder
	node  *pathNode // this folder on the path of its subfolders (made on need)
}

type docItem struct {
	f   *drive.File
	seg string
}

func (b *Backend) listFolder(ctx context.Context, p pendingFolder, seen, listed *seenSet, fn func(backends.Object) error, push func(pendingFolder)) error {
	seen.reset()
	l := &folderLister{b: b, ctx: ctx, p: p, fn: fn, push: push, seen: seen}
	q := quoteQ(p.id) + " in parents and trashed = false"
	call := b.listCall(ctx, q).OrderBy("name").PageSize(b.pageSize).Fields(googleapi.Field(listFields))
	// A page token that expires (Drive's do, after hours on a huge tree)
	// restarts the folder's listing from its first page. The items taken
	// before are passed over, not emitted again: as many as were taken,
	// checked to be the same ones by a running hash of their ids, so a
	// folder that changed meanwhile fails the listing instead of
	// duplicating or dropping an item.
	var taken int64   // items of this folder passed to l.add
	var takenH uint64 // their ids' running hash
	var err error
	for restarts := 0; ; restarts++ {
		var n int64
		var h uint64
		err = pages(ctx, call, func(fl *drive.FileList) error {
			for _, f := range fl.Files {
				if err := ctx.Err(); err != nil {
					return err
				}
				if n < taken {
					h = idHash(h, f.Id)
					if n++; n == taken && h != takenH {
						return errRestartChanged
					}
					continue
				}
				n++
				taken, takenH = n, idHash(takenH, f.Id)
				listed.add(f.Id)
				if err := l.add(f); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil && n < taken {
			err = errRestartChanged
		}
		if err == nil || !expiredToken(err) || restarts >= maxListRestarts || ctx.Err() != nil {
			break
		}
		b.log.Warn("Google Drive: a page token expired; listing the folder again from its start", "backend", b.String(), "folder", p.prefix, "items_done", taken, "restart", restarts+1)
	}
	if err == nil {
		err = l.flushGroup()
	}
	if err == nil {
		err = l.flushDocs()
	}
	return err
}

// add takes the next item of the folder (in name order).
func (l *folderLister) add(f *drive.File) error {
	b := l.b
	_, k := b.natural(f)
	where := l.p.prefix + f.Name
	switch k {
	case kindShortcut:
		target := ""
		if f.ShortcutDetails != nil {
			target = f.ShortcutDetails.TargetId
		}
		b.log.Info("Google Drive: skipping a shortcut (shortcuts are not followed)", "backend", b.String(), "path", where, "target", target)
		return nil
	case kindOther:
		b.log.Info("Google Drive: skipping a Google file that cannot be exported", "backend", b.String(), "path", where, "mimeType", f.MimeType)
		return nil
	case kindSkipped:
		b.log.Debug("Google Drive: skipping a Google Doc (skip_google_docs)", "backend", b.String(), "path", where)
		return nil
	case kindBadName:
		b.log.Warn("Google Drive: skipping an item whose name cannot be a key", "backend", b.String(), "folder", l.p.prefix, "name", fmt.Sprintf("%q", f.Name), "id", f.Id)
		return nil
	}
	fold := strings.ToLower(f.Name)
	if len(l.group) > 0 && fold != l.fold {
		if err := l.flushGroup(); err != nil {
			return err
		}
	}
	l.fold = fold
	l.group = append(l.group, f)
	return nil
}

// flushGroup settles the keys of a group of items with equal folded names:
// per key, folders apart from objects, a binary before Docs, then the
// oldest keeps it and the others take the dup form.
func (l *folderLister) flushGroup() error {
	group := l.group
	l.group = nil
	if len(group) == 0 {
		return nil
	}
	sort.SliceStable(group, func(i, j int) bool { return older(group[i], group[j]) })
	type slot struct{ folderTaken, binaryExists, binaryTaken, docTaken bool }
	slots := map[string]*slot{}
	segs := make([]string, len(group))
	kinds := make([]itemKind, len(group))
	for i, f := range group {
		segs[i], kinds[i] = l.b.natural(f)
		s := slots[segs[i]]
		if s == nil {
			s = &slot{}
			slots[segs[i]] = s
		}
		if kinds[i] == kindBinary {
			s.binaryExists = true
		}
	}
	for i, f := range group {
		seg, s := segs[i], slots[segs[i]]
		switch kinds[i] {
		case kindFolder:
			if s.folderTaken {
				seg = dupSegment(seg, f.Id)
			}
			s.folderTaken = true
			if err := l.emitFolder(f, seg); err != nil {
				return err
			}
		case kindBinary:
			if s.binaryTaken {
				seg = dupSegment(seg, f.Id)
			}
			s.binaryTaken = true
			if err := l.emit(f, seg); err != nil {
				return err
			}
		case kindDoc:
			if s.binaryExists || s.docTaken {
				if err := l.emit(f, dupSegment(seg, f.Id)); err != nil {
					return err
				}
				continue
			}
			s.docTaken = true
			l.docs = append(l.docs, docItem{f: f, seg: seg})
			if len(l.docs) >= maxNamesPerQuery {
				if err := l.flushDocs(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// flushDocs emits the Docs that own their key in their group, after one
// query for binary files elsewhere in the folder with the same name.
func (l *folderLister) flushDocs() error {
	docs := l.docs
	l.docs = nil
	if len(docs) == 0 {
		return nil
	}
	names := make([]string, len(docs))
	for i, d := range docs {
		names[i] = SegmentToName(d.seg)
	}
	found, err := l.b.findNamed(l.ctx, l.p.id, names)
	if err != nil {
		return err
	}
	binaries := map[string]bool{}
	for _, f := range found {
		if seg, k := l.b.natural(f); k == kindBinary {
			binaries[seg] = true
		}
	}
	for _, d := range docs {
		seg := d.seg
		if binaries[seg] {
			seg = dupSegment(seg, d.f.Id)
		}
		if err := l.emit(d.f, seg); err != nil {
			return err
		}
	}
	return nil
}

// settle returns the key segment to emit for f: seg, unless seg may
// already have been emitted in this folder (Drive's name order did not
// put the twins side by side, or it ignored the order, as it may for very
// large drives). Then Drive is asked who owns seg: another item, or
// several items besides f, mean f takes the dup form; f alone means the
// filter erred and f keeps seg.
func (l *folderLister) settle(f *drive.File, seg string, folder bool) (string, error) {
	tag := "o\x00"
	if folder {
		tag = "d\x00"
	}
	if !l.seen.add(tag + seg) {
		return seg, nil
	}
	names, err := l.b.findNamed(l.ctx, l.p.id, []string{SegmentToName(seg)})
	if err != nil {
		return "", err
	}
	others := 0
	for _, g := range names {
		nat, k := l.b.natural(g)
		if nat == seg && g.Id != f.Id && (k == kindFolder) == folder && (folder || isObject(k)) {
			others++
		}
	}
	if others == 0 {
		return seg, nil
	}
	l.b.log.Warn("Google Drive: a duplicate name was listed apart from its twin; giving it the dup form", "backend", l.b.String(), "key", l.p.prefix+seg, "id", f.Id)
	return dupSegment(seg, f.Id), nil
}

func (l *folderLister) emit(f *drive.File, seg string) error {
	seg, err := l.settle(f, seg, false)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(seg, l.p.filter) {
		return nil
	}
	key := l.p.prefix + seg
	o, err := l.b.object(key, f)
	if err != nil {
		// Failing the whole listing, not dropping the item: a listing
		// without it would have the plan delete its copy.
		return fmt.Errorf("file %q (id %s): %w", key, f.Id, err)
	}
	if err := l.fn(o); err != nil {
		return fnError{err}
	}
	return nil
}

func (l *folderLister) emitFolder(f *drive.File, seg string) error {
	seg, err := l.settle(f, seg, true)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(seg, l.p.filter) || (l.p.keep != nil && !l.p.keep(seg)) {
		return nil
	}
	key := l.p.prefix + seg
	if l.p.depth+1 > maxFolderDepth {
		return fmt.Errorf("folder %q (id %s): %w", key, f.Id, errTooDeep)
	}
	if l.node == nil {
		l.node = &pathNode{id: l.p.id, up: l.p.up}
	}
	for n := l.node; n != nil; n = n.up {
		if n.id == f.Id {
			return fmt.Errorf("folder %q (id %s) is listed inside itself: a folder loop", key, f.Id)
		}
	}
	l.b.folders.put(key, f.Id)
	l.push(pendingFolder{id: f.Id, prefix: key + "/", up: l.node, depth: l.p.depth + 1})
	return nil
}
