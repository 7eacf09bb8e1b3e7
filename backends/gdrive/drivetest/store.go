package drivetest

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Mime types of Drive's own kinds of files.
const (
	FolderMime       = "application/vnd.google-apps.folder"
	ShortcutMime     = "application/vnd.google-apps.shortcut"
	DocumentMime     = "application/vnd.google-apps.document"
	SpreadsheetMime  = "application/vnd.google-apps.spreadsheet"
	PresentationMime = "application/vnd.google-apps.presentation"
	DrawingMime      = "application/vnd.google-apps.drawing"
	googleAppsPrefix = "application/vnd.google-apps."
)

// DefaultExportLimit is Drive's cap on exported content ("Exported content
// is limited to 10 MB").
const DefaultExportLimit = 10 << 20

// exportTypes lists the export formats Drive offers per Google type
// (developers.google.com/workspace/drive/api/guides/ref-export-formats).
var exportTypes = map[string][]string{
	DocumentMime: {
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.oasis.opendocument.text", "application/rtf", "application/pdf",
		"text/plain", "text/html", "application/zip", "application/epub+zip", "text/markdown",
	},
	SpreadsheetMime: {
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/x-vnd.oasis.opendocument.spreadsheet", "application/vnd.oasis.opendocument.spreadsheet",
		"application/pdf", "application/zip", "text/csv", "text/tab-separated-values",
	},
	PresentationMime: {
		"application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/vnd.oasis.opendocument.presentation", "application/pdf", "text/plain",
		"image/jpeg", "image/png", "image/svg+xml",
	},
	DrawingMime: {"application/pdf", "image/jpeg", "image/png", "image/svg+xml"},
}

// ExportBytes is what the fake answers to files.export of a Google Doc
// whose content is content, in the format mime: one header line naming
// the format, then the content.
func ExportBytes(mime string, content []byte) []byte {
	return append([]byte("EXPORT "+mime+"\n"), content...)
}

// file is one Drive item.
type file struct {
	ID                 string
	Name               string
	MimeType           string
	Parents            []string
	Trashed            bool // explicitly trashed
	CreatedTime        time.Time
	ModifiedTime       time.Time
	Version            int64
	HeadRevision       string
	Size               int64
	MD5, SHA256        string
	HasBlob            bool   // binary content stored at Server.blobPath(ID)
	DocContent         []byte // Google Docs: the source of every export
	DriveID            string // shared drive, "" for My Drive
	ShortcutTarget     string
	ShortcutTargetMime string
	abusive, notOwned  bool // FileSpec.Abusive, NotOwned
	isRoot             bool
}

func (f *file) isFolder() bool { return f.MimeType == FolderMime }
func (f *file) isGoogle() bool { return strings.HasPrefix(f.MimeType, googleAppsPrefix) }

// FileInfo is a snapshot of one item, for tests.
type FileInfo struct {
	ID, Name, MimeType string
	Parents            []string
	Trashed            bool // explicitly trashed
	InTrash            bool // trashed itself or through a folder above it
	Created, Modified  time.Time
	Version            int64
	HeadRevision       string
	Size               int64
	MD5                string
	DriveID            string
	ShortcutTarget     string
}

func (s *Server) info(f *file) FileInfo {
	return FileInfo{
		ID: f.ID, Name: f.Name, MimeType: f.MimeType, Parents: append([]string(nil), f.Parents...),
		Trashed: f.Trashed, InTrash: s.isTrashed(f), Created: f.CreatedTime, Modified: f.ModifiedTime,
		Version: f.Version, HeadRevision: f.HeadRevision, Size: f.Size, MD5: f.MD5,
		DriveID: f.DriveID, ShortcutTarget: f.ShortcutTarget,
	}
}

// FileSpec describes an item to add with Add.
type FileSpec struct {
	Name     string
	MimeType string // "" = application/octet-stream (binary)
	Parent   string // parent folder id; "" = My Drive's root
	// Content is the binary content, or for a Google Doc (any
	// application/vnd.google-apps.* type) the source of its exports.
	Content           []byte
	Created, Modified time.Time // zero = now
	Trashed           bool
	ShortcutTarget    string // for ShortcutMime
	ID                string // "" = a fresh id
	// Abusive: Drive flagged the file as malware or spam; downloads answer
	// 403 cannotDownloadAbusiveFile unless acknowledgeAbuse=true.
	Abusive bool
	// NotOwned: another account owns the file (My Drive); trashing or
	// deleting it answers 403 insufficientFilePermissions.
	NotOwned bool
	isRoot   bool
	driveID  string
}

// fileJSON renders f as Drive's File resource (every field the fake knows).
func (s *Server) fileJSON(f *file) map[string]any {
	m := map[string]any{
		"kind":         "drive#file",
		"id":           f.ID,
		"name":         f.Name,
		"mimeType":     f.MimeType,
		"trashed":      s.isTrashed(f),
		"createdTime":  formatTime(f.CreatedTime),
		"modifiedTime": formatTime(f.ModifiedTime),
		"version":      strconv.FormatInt(f.Version, 10),
	}
	if len(f.Parents) > 0 {
		m["parents"] = append([]string(nil), f.Parents...)
	}
	if f.Trashed {
		m["explicitlyTrashed"] = true
	} else {
		m["explicitlyTrashed"] = false
	}
	if f.HasBlob {
		m["size"] = strconv.FormatInt(f.Size, 10)
		m["md5Checksum"] = f.MD5
		m["sha256Checksum"] = f.SHA256
		m["headRevisionId"] = f.HeadRevision
		if ext := filepath.Ext(f.Name); len(ext) > 1 {
			m["fileExtension"] = ext[1:]
		}
	}
	if f.DriveID != "" {
		m["driveId"] = f.DriveID
	}
	if f.MimeType == ShortcutMime {
		m["shortcutDetails"] = map[string]any{"targetId": f.ShortcutTarget, "targetMimeType": f.ShortcutTargetMime}
	}
	return m
}

// knownFileFields are the File fields a selector may name (the fake
// renders a subset of them).
var knownFileFields = map[string]bool{
	"kind": true, "id": true, "name": true, "mimeType": true, "parents": true, "trashed": true,
	"explicitlyTrashed": true, "createdTime": true, "modifiedTime": true, "version": true,
	"size": true, "md5Checksum": true, "sha1Checksum": true, "sha256Checksum": true,
	"headRevisionId": true, "driveId": true, "shortcutDetails": true, "resourceKey": true,
	"fileExtension": true, "originalFilename": true, "webViewLink": true, "exportLinks": true,
	"capabilities": true, "owners": true, "trashedTime": true, "description": true,
	"starred": true, "quotaBytesUsed": true, "ownedByMe": true, "fullFileExtension": true,
	"shortcutDetails.targetId": true, "shortcutDetails.targetMimeType": true,
	"shortcutDetails.targetResourceKey": true,
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// msTime truncates t to Drive's precision (1 ms), in UTC.
func msTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// isTrashed reports whether f is in the trash, itself or through an
// ancestor. s.mu must be held.
func (s *Server) isTrashed(f *file) bool {
	for depth := 0; f != nil && depth < 1000; depth++ {
		if f.Trashed {
			return true
		}
		if len(f.Parents) == 0 {
			return false
		}
		f = s.files[f.Parents[0]]
	}
	return false
}

// resolveAlias maps "root" to My Drive's root id.
func (s *Server) resolveAlias(id string) string {
	if id == "root" {
		return s.rootID
	}
	return id
}

// rootOr maps "" and "root" to My Drive's root id (test helpers).
func (s *Server) rootOr(id string) string {
	if id == "" || id == "root" {
		return s.rootID
	}
	return id
}

// takeGenerated checks that id came from files.generateIds and is unused,
// and uses it up. s.mu must be held. (Drive documents neither answer's
// reason; syncer does not depend on them.)
func (s *Server) takeGenerated(id string) error {
	if s.files[id] != nil {
		return &apiError{Code: 409, Reason: "conflict", Message: "A file already exists with the provided ID."}
	}
	if !s.generated[id] {
		return &apiError{Code: 400, Reason: "invalid", Message: "The provided file ID is not usable.", Loc: "id", LocType: "other"}
	}
	delete(s.generated, id)
	return nil
}

// generateIDs serves files.generateIds: count (1-1000, default 10) ids that
// a create or copy may then give its new item.
func (s *Server) generateIDs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	count := 10
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return errInvalid("count", "Invalid value for count: "+v)
		}
		count = n
	}
	space := q.Get("space")
	if space == "" {
		space = "drive"
	}
	if space != "drive" {
		return errInvalid("space", "Invalid value for space: "+space)
	}
	if t := q.Get("type"); t != "" && t != "files" && t != "shortcuts" {
		return errInvalid("type", "Invalid value for type: "+t)
	}
	s.mu.Lock()
	ids := make([]string, count)
	for i := range ids {
		ids[i] = s.newID()
		s.generated[ids[i]] = true
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"kind": "drive#generatedIds", "space": space, "ids": ids})
	return nil
}

// newID returns a fresh Drive-like id. s.mu must be held.
func (s *Server) newID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	s.nextID++
	b := make([]byte, 0, 33)
	b = append(b, '1')
	for range 24 {
		b = append(b, alphabet[s.rng.IntN(len(alphabet))])
	}
	b = append(b, []byte(fmt.Sprintf("%08d", s.nextID))...)
	return string(b)
}

func (s *Server) newRevision() string {
	s.nextID++
	return fmt.Sprintf("0B%024x", s.rng.Uint64()^uint64(s.nextID))
}

func (s *Server) blobPath(id string) string { return filepath.Join(s.dir, "blob-"+id) }

// addChild and removeChild maintain the children index. s.mu must be held.
func (s *Server) addChild(parent, id string) {
	m := s.children[parent]
	if m == nil {
		m = map[string]struct{}{}
		s.children[parent] = m
	}
	m[id] = struct{}{}
}

func (s *Server) removeChild(parent, id string) {
	if m := s.children[parent]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(s.children, parent)
		}
	}
}

// Add creates an item directly in the store (no request is counted) and
// returns its id. It panics on an invalid spec (an unknown parent): it is
// for setting up tests.
func (s *Server) Add(spec FileSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.addLocked(spec)
	if err != nil {
		panic("drivetest: Add: " + err.Error())
	}
	return id
}

// Mkdir adds a folder named name in parent ("" = root) and returns its id.
func (s *Server) Mkdir(parent, name string) string {
	return s.Add(FileSpec{Name: name, Parent: parent, MimeType: FolderMime})
}

func (s *Server) addLocked(spec FileSpec) (string, error) {
	now := msTime(time.Now())
	f := &file{
		ID:       spec.ID,
		Name:     spec.Name,
		MimeType: spec.MimeType,
		Trashed:  spec.Trashed,
		Version:  1,
		DriveID:  spec.driveID,
		isRoot:   spec.isRoot,
		abusive:  spec.Abusive,
		notOwned: spec.NotOwned,
	}
	if f.ID == "" {
		f.ID = s.newID()
	}
	if _, dup := s.files[f.ID]; dup {
		return "", fmt.Errorf("id %s exists", f.ID)
	}
	if f.MimeType == "" {
		f.MimeType = "application/octet-stream"
	}
	f.CreatedTime, f.ModifiedTime = now, now
	if !spec.Created.IsZero() {
		f.CreatedTime = msTime(spec.Created)
	}
	if !spec.Modified.IsZero() {
		f.ModifiedTime = msTime(spec.Modified)
	}
	if !spec.isRoot {
		parent := s.resolveAlias(spec.Parent)
		if parent == "" {
			parent = s.rootID
		}
		p := s.files[parent]
		if p == nil || !p.isFolder() {
			return "", fmt.Errorf("parent %q is not a folder", parent)
		}
		f.Parents = []string{parent}
		f.DriveID = p.DriveID
	}
	switch {
	case f.MimeType == ShortcutMime:
		t := s.files[spec.ShortcutTarget]
		if t == nil {
			return "", fmt.Errorf("shortcut target %q not found", spec.ShortcutTarget)
		}
		f.ShortcutTarget, f.ShortcutTargetMime = t.ID, t.MimeType
	case f.isGoogle():
		f.DocContent = append([]byte(nil), spec.Content...)
	default:
		if err := s.writeBlob(f, spec.Content); err != nil {
			return "", err
		}
	}
	s.files[f.ID] = f
	if len(f.Parents) > 0 {
		s.addChild(f.Parents[0], f.ID)
	}
	s.changed(f)
	return f.ID, nil
}

// writeBlob stores data as f's content.
func (s *Server) writeBlob(f *file, data []byte) error {
	tmp, err := os.CreateTemp(s.dir, "tmp-")
	if err != nil {
		return err
	}
	h := newHasher()
	if _, err := io.MultiWriter(tmp, h).Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return s.installBlob(f, tmp.Name(), int64(len(data)), h)
}

// installBlob moves the finished temporary file tmp into place as f's
// content. Readers that opened the old content keep reading it.
func (s *Server) installBlob(f *file, tmp string, size int64, h *hasher) error {
	if err := os.Rename(tmp, s.blobPath(f.ID)); err != nil {
		os.Remove(tmp)
		return err
	}
	f.HasBlob = true
	f.Size = size
	f.MD5, f.SHA256 = h.sums()
	f.HeadRevision = s.newRevision()
	s.changed(f)
	return nil
}

type hasher struct{ md5, sha hash.Hash }

func newHasher() *hasher { return &hasher{md5: md5.New(), sha: sha256.New()} }

func (h *hasher) Write(p []byte) (int, error) {
	h.md5.Write(p)
	h.sha.Write(p)
	return len(p), nil
}

func (h *hasher) sums() (string, string) {
	return hex.EncodeToString(h.md5.Sum(nil)), hex.EncodeToString(h.sha.Sum(nil))
}

// Get returns a snapshot of the item id.
func (s *Server) Get(id string) (FileInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[s.resolveAlias(id)]
	if f == nil {
		return FileInfo{}, false
	}
	return s.info(f), true
}

// Children returns the items whose parent is id, trashed ones included,
// sorted by name then id.
func (s *Server) Children(id string) []FileInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []FileInfo
	for cid := range s.children[s.rootOr(id)] {
		out = append(out, s.info(s.files[cid]))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Find returns the non-trashed items named name in folder parent.
func (s *Server) Find(parent, name string) []FileInfo {
	var out []FileInfo
	for _, fi := range s.Children(parent) {
		if fi.Name == name && !fi.InTrash {
			out = append(out, fi)
		}
	}
	return out
}

// Content returns the binary content of id.
func (s *Server) Content(id string) ([]byte, error) {
	s.mu.Lock()
	f := s.files[id]
	ok := f != nil && f.HasBlob
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("drivetest: %s has no binary content", id)
	}
	return os.ReadFile(s.blobPath(id))
}

// Update changes an item as a user would in the Drive UI: new content (a
// Doc's source, or a binary's bytes; nil keeps it) and a new modification
// time (zero: now).
func (s *Server) Update(id string, content []byte, modified time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[id]
	if f == nil {
		panic("drivetest: Update: no item " + id)
	}
	if content != nil {
		if f.isGoogle() {
			f.DocContent = append([]byte(nil), content...)
		} else if err := s.writeBlob(f, content); err != nil {
			panic(err)
		}
	}
	if modified.IsZero() {
		modified = time.Now()
	}
	f.ModifiedTime = msTime(modified)
	f.Version++
	s.changed(f)
}

// Trash moves id to the trash, as the Drive UI does.
func (s *Server) Trash(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.files[id]; f != nil {
		f.Trashed = true
		f.Version++
		s.changed(f)
	}
}

// Count returns the number of items in the store (roots excluded,
// trashed included).
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.files {
		if !f.isRoot {
			n++
		}
	}
	return n
}

// deleteLocked removes f and, for a folder, everything below it.
func (s *Server) deleteLocked(f *file) {
	for cid := range s.children[f.ID] {
		if c := s.files[cid]; c != nil {
			s.deleteLocked(c)
		}
	}
	delete(s.children, f.ID)
	if len(f.Parents) > 0 {
		s.removeChild(f.Parents[0], f.ID)
	}
	if f.HasBlob {
		os.Remove(s.blobPath(f.ID))
	}
	delete(s.files, f.ID)
	s.changedRemoved(f)
}
