// Package gdrive is the syncer backend for Google Drive, built on
// google.golang.org/api/drive/v3.
//
// # Keys
//
// A key is the path of names from the root folder (Options.FolderID, in My
// Drive or a shared drive) down to a file. Drive is not a filesystem, so
// some names are mapped:
//
//   - A "/" inside a name becomes "∕" (U+2215 DIVISION SLASH) in the key.
//     To keep the mapping reversible, a literal "∕" in a name is written
//     "‛∕" (U+201B before it), and a run of n "‛" just before a "∕" or a
//     "/" is doubled (2n, plus one for a literal "∕"). Keys without "∕"
//     are names as they are. See NameToSegment and SegmentToName.
//   - Names that cannot be key segments ("", ".", "..", or containing NUL)
//     are skipped with a warning in the log.
//   - Google Docs, Sheets, Slides and Drawings are listed with the
//     extension of their export format appended ("Report" -> "Report.docx";
//     Options.ExportFormats), size -1, no hashes and their modifiedTime, so
//     they are compared by time. Reading one exports it; a Doc over Drive's
//     export limit (10 MB) fails with a permanent per-object error. With
//     Options.SkipGoogleDocs they are not listed at all. Other Google types
//     (Forms, Sites, Maps, ...) have no export and are skipped with a note.
//   - Shortcuts are skipped with a note in the log and never followed, so
//     shortcut loops cannot trap a listing.
//   - Trashed items (and everything under a trashed folder) are excluded.
//
// # Duplicate names
//
// Drive allows many items with one name in a folder. Among items whose
// keys would be equal, one keeps the key: a binary file before a Google
// Doc, then the oldest (createdTime, then id). The others are listed as
// "<stem> (dup <id>)<ext>", e.g. "photo (dup 1AbC...).jpg", where ext is
// the extension of the key; such keys address that very file (Stat, Open,
// Put updates it in place, Delete). Folders with equal names are treated
// the same way, so their contents never merge. The listing finds
// duplicates by asking Drive for each folder's children ordered by name
// and grouping equal names (case-insensitively). As a safety net it
// remembers the keys it emitted in the folder (exactly up to 4096, then in
// a 128 KiB Bloom filter); a key that may repeat — twins that Drive's
// order did not put side by side, or an order Drive ignored, as it may for
// drives of about a million files — is checked with one query, and a twin
// takes the dup form, so a listing never yields a key twice. (In that
// rare case the twin listed first keeps the plain key even if it is not
// the oldest.) A Doc whose key equals a binary file's name in the same
// folder is found by one extra query per 50 Docs.
//
// # Memory
//
// Listings stream page by page (1000 items). Folder ids are cached in an
// LRU of FolderCacheSize path -> id entries. The walk keeps a stack of the
// folders still to list: at most, for every folder on the current path
// from the root, its subfolders not yet visited — depth × siblings
// pending, never one entry per file. A group of equal names in one folder,
// up to 50 Docs awaiting their collision check and the folder's emitted
// keys (at most 4096 exactly, else a 128 KiB filter) are held at a time.
// An upload holds one buffer of ChunkSize (objects of known size below it
// and at most 5 MB, MaxMultipartSize, are sent in one multipart request
// from a buffer of their size; larger or unknown-size ones go as resumable
// sessions through the Go client's one chunk buffer). Downloads stream.
//
// # Errors and rate limits
//
// Every HTTP request passes through the backend's transport: a
// requests-per-second pacer, then retries with exponential backoff and
// jitter (honouring Retry-After) of 403 userRateLimitExceeded /
// rateLimitExceeded, 429, 408, 5xx and dropped connections, for every
// request whose body can be sent again, which is every request the backend
// makes: metadata calls (small JSON bodies, copied when the client leaves
// them unreplayable), multipart uploads from memory, resumable chunks.
// Backoffs are logged (Options.Logger).
// Permanent errors (notFound where an item must exist,
// insufficientPermissions, storageQuotaExceeded, exportSizeLimitExceeded,
// ...) fail at once with a message naming the backend and the key.
//
// # Answers that cannot be trusted
//
// Drive's answers are checked before they are used, and one that cannot
// be used is an error naming the backend and the key, never a panic, an
// endless loop or a silently short copy: a JSON null for a page, an item
// or a file; a listed item without an id; a page token handed out again
// (the last 64 are remembered as hashes, and longer cycles are caught by
// Brent's method in constant memory); a folder listed inside itself or
// below itself, or nesting deeper than 128 levels (Drive allows 100); a
// binary file with a negative size, or with no size (decoded as 0) but the
// checksum of non-empty content (a 0 with no checksum at all is taken as
// an unknown size, -1: compared by time and read to its end); a ranged
// download whose Content-Range does not start at the byte asked for; an
// upload answer without md5Checksum whose file still has none when fetched
// again. A page token that Drive no longer takes (400 at pageToken: tokens
// expire after hours on a huge tree) restarts that folder's listing from
// its first page, passing over the items already taken after checking
// they are the same ones (a running hash of their ids); a folder that
// changed meanwhile fails the listing. And a listing during which anything below
// the listed folder changed (changes.list from a token taken before the
// walk) fails with ErrChangedWhileListing: Drive's listings may then miss
// items that are still there. Such an item fails the whole listing rather than being left out,
// as a listing that misses an item would have the plan delete its copy.
package gdrive

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/api/drive/v3"
	"google.golang.org/api/option"

	"syncer/backends"
)

// Defaults and limits.
const (
	MiB = 1 << 20

	// ChunkGranularity: resumable chunks are multiples of 256 KiB.
	ChunkGranularity = 256 << 10
	DefaultChunkSize = 8 * MiB
	MaxChunkSize     = 1 << 30

	DefaultMaxAttempts     = 10
	DefaultRetryBaseDelay  = time.Second
	DefaultRetryMaxDelay   = 32 * time.Second
	DefaultResponseTimeout = 5 * time.Minute
	// DefaultIdleTimeout: a connection that moves no byte for this long is
	// dropped and its request retried (rclone's --timeout is also 5m).
	DefaultIdleTimeout     = backends.DefaultIdleTimeout
	DefaultFolderCacheSize = 10000
	DefaultListPageSize    = 1000

	// Delete modes.
	DeleteTrash     = "trash"
	DeletePermanent = "permanent"

	folderMime   = "application/vnd.google-apps.folder"
	shortcutMime = "application/vnd.google-apps.shortcut"
	googlePrefix = "application/vnd.google-apps."
)

// ExportKinds maps the kinds of Google files that can be exported to their
// mime types.
var ExportKinds = map[string]string{
	"document":     "application/vnd.google-apps.document",
	"spreadsheet":  "application/vnd.google-apps.spreadsheet",
	"presentation": "application/vnd.google-apps.presentation",
	"drawing":      "application/vnd.google-apps.drawing",
}

// exportMimes maps each kind's export extensions to Drive's export mime
// types (ref-export-formats).
var exportMimes = map[string]map[string]string{
	"document": {
		"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"odt":  "application/vnd.oasis.opendocument.text", "rtf": "application/rtf",
		"pdf": "application/pdf", "txt": "text/plain", "html": "text/html",
		"zip": "application/zip", "epub": "application/epub+zip", "md": "text/markdown",
	},
	"spreadsheet": {
		"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"ods":  "application/x-vnd.oasis.opendocument.spreadsheet", "pdf": "application/pdf",
		"zip": "application/zip", "csv": "text/csv", "tsv": "text/tab-separated-values",
	},
	"presentation": {
		"pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"odp":  "application/vnd.oasis.opendocument.presentation", "pdf": "application/pdf",
		"txt": "text/plain", "jpg": "image/jpeg", "png": "image/png", "svg": "image/svg+xml",
	},
	"drawing": {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png", "svg": "image/svg+xml"},
}

// Backend is a folder tree of Google Drive. It implements
// backends.Backend, backends.Precisioner and backends.ServerSideCopier.
type Backend struct {
	name       string
	root       string // folder id ("root" allowed)
	driveID    string
	endpoint   string
	identity   string // who the credentials are, for CanCopyFrom (never printed)
	svc        *drive.Service
	tr         *transport
	log        *slog.Logger
	chunkSize  int64
	deleteMode string
	ackAbuse   bool // Options.AcknowledgeAbuse
	skipDocs   bool
	pageSize   int64
	exports    map[string]exportFormat // Google mime type -> format
	byExt      map[string][]string     // export extension -> Google mime types

	rootMu sync.Mutex
	rootID string // My Drive's root id, when root is the alias "root"

	idsMu sync.Mutex
	ids   []string    // generated ids not used yet (see createOnce)
	noIDs atomic.Bool // Drive refused a generated id: create without

	capUp, capDown atomic.Bool // Drive answered with a daily cap (limits.go)

	ranged     rangedFiles                        // files recently read by ranges
	folders    *lru                               // folder key -> id
	maxPending atomic.Int64                       // the most folders a walk held pending, for tests
	locks      keyLocks                           // per key (Put, Delete) and per folder path (creation)
	journal    atomic.Pointer[backends.IDJournal] // ids of the folders it made (UseJournal); nil: none
}

type exportFormat struct {
	ext  string // without the dot
	mime string // export mime type
}

var (
	_ backends.Backend          = (*Backend)(nil)
	_ backends.Precisioner      = (*Backend)(nil)
	_ backends.ServerSideCopier = (*Backend)(nil)
	_ backends.MetaStater       = (*Backend)(nil)
	_ backends.RootChecker      = (*Backend)(nil)
)

// New checks opts and returns a backend. It sets up credentials (reading
// CredentialsFile, or finding application default credentials) but makes
// no request.
func New(ctx context.Context, opts Options) (*Backend, error) {
	b, err := newBackend(&opts)
	if err != nil {
		return nil, err
	}
	base := opts.HTTPClient
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// HTTP/1.1 only, as rclone found Drive's HTTP/2 prone to stalled
		// streams (rclone #3631); transfers use a connection each.
		t.ForceAttemptHTTP2 = false
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		t.ResponseHeaderTimeout = opts.ResponseTimeout
		if t.ResponseHeaderTimeout <= 0 {
			t.ResponseHeaderTimeout = DefaultResponseTimeout
		}
		idle := opts.IdleTimeout
		if idle <= 0 {
			idle = DefaultIdleTimeout
		}
		t.DialContext = backends.IdleDialer(idle)
		base = &http.Client{Transport: t}
	}
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	authed, identity, err := authTransport(ctx, rt, &opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	b.identity = identity
	b.tr.base = backends.HookTransport(authed, opts.Name, operation, opts.Requests)
	if opts.RequestsPerSecond > 0 {
		pacers := opts.Pacers
		if pacers == nil {
			pacers = &Pacers{}
		}
		b.tr.limiter = pacers.Get(b.endpoint+"\x00"+identity, opts.RequestsPerSecond)
	}
	client := &http.Client{Transport: b.tr, Timeout: base.Timeout, Jar: base.Jar, CheckRedirect: base.CheckRedirect}
	copts := []option.ClientOption{option.WithHTTPClient(client)}
	if b.endpoint != "" {
		copts = append(copts, option.WithEndpoint(b.endpoint+"/drive/v3/"))
	}
	svc, err := drive.NewService(ctx, copts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	b.svc = svc
	return b, nil
}

// newBackend validates opts and fills in everything but the client.
func newBackend(opts *Options) (*Backend, error) {
	name := fmt.Sprintf("gdrive %q", opts.Name)
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b := &Backend{
		name:       opts.Name,
		root:       opts.FolderID,
		driveID:    opts.DriveID,
		endpoint:   opts.Endpoint,
		chunkSize:  opts.ChunkSize,
		deleteMode: opts.DeleteMode,
		ackAbuse:   opts.AcknowledgeAbuse,
		skipDocs:   opts.SkipGoogleDocs,
		pageSize:   int64(opts.ListPageSize),
		log:        opts.Logger,
		exports:    map[string]exportFormat{},
		byExt:      map[string][]string{},
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.pageSize <= 0 || b.pageSize > DefaultListPageSize {
		b.pageSize = DefaultListPageSize
	}
	for kind, ext := range opts.ExportFormats {
		gm := ExportKinds[kind]
		b.exports[gm] = exportFormat{ext: ext, mime: exportMimes[kind][ext]}
		b.byExt[ext] = append(b.byExt[ext], gm)
	}
	cache := opts.FolderCacheSize
	if cache <= 0 {
		cache = DefaultFolderCacheSize
	}
	b.folders = newLRU(cache)
	b.tr = &transport{
		name:        name,
		log:         b.log,
		backend:     opts.Name,
		retries:     opts.Retries,
		maxAttempts: opts.MaxAttempts,
		baseDelay:   opts.RetryBaseDelay,
		maxDelay:    opts.RetryMaxDelay,
	}
	if b.tr.maxAttempts <= 0 {
		b.tr.maxAttempts = DefaultMaxAttempts
	}
	if b.tr.baseDelay <= 0 {
		b.tr.baseDelay = DefaultRetryBaseDelay
	}
	if b.tr.maxDelay <= 0 {
		b.tr.maxDelay = DefaultRetryMaxDelay
	}
	return b, nil
}

// Pacers is the process's request pacers, shared with the other backends.
type Pacers = backends.Pacers

// String returns e.g. `gdrive "team" (folder 1AbC in shared drive 0AxY)`;
// it never includes a secret.
func (b *Backend) String() string {
	where := "folder " + b.root
	if b.driveID != "" {
		where += " in shared drive " + b.driveID
	}
	if b.endpoint != "" {
		where += " at " + b.endpoint
	}
	return fmt.Sprintf("gdrive %q (%s)", b.name, where)
}

// Precision reports Drive's modification time precision: 1 ms.
func (b *Backend) Precision() time.Duration { return time.Millisecond }

// FolderID returns the root folder's id as configured.
func (b *Backend) FolderID() string { return b.root }

// CheckRoot fails when folder_id is not a folder these credentials can see,
// or the folder prefix names is missing (see backends.RootChecker): files.list answers a query on an unknown or
// unshared parent with an empty page, so without it a mistyped folder_id
// would list as an empty source.
func (b *Backend) CheckRoot(ctx context.Context, prefix string) error {
	f, err := b.get(ctx, b.root)
	switch {
	case err != nil:
		return b.wrap(ctx, "check folder", "", err)
	case f == nil:
		return fmt.Errorf("%s: folder_id %s: %s", b, b.root, permanentReasons["notFound"])
	case f.Trashed:
		return fmt.Errorf("%s: folder_id %s (%q) is in the trash", b, b.root, f.Name)
	case f.MimeType == "":
		return fmt.Errorf("%s: folder_id %s (%q) is not known to be a folder: Drive gave no mimeType for it", b, b.root, f.Name)
	case f.MimeType != folderMime:
		return fmt.Errorf("%s: folder_id %s (%q) is not a folder but a file of type %s", b, b.root, f.Name, f.MimeType)
	}
	if dirKey := backends.PrefixFolder(prefix); dirKey != "" {
		if err := backends.CheckKey(dirKey); err != nil {
			return fmt.Errorf("%s: prefix %q: %w", b, prefix, err)
		}
		id, err := b.resolveDir(ctx, dirKey, false)
		if err != nil {
			return b.wrap(ctx, "check folder", dirKey, err)
		}
		if id == "" {
			return fmt.Errorf("%s: prefix %q: folder %q does not exist", b, prefix, dirKey)
		}
	}
	return nil
}

// ChunkSize returns the resumable upload chunk size.
func (b *Backend) ChunkSize() int64 { return b.chunkSize }

var _ backends.BufferSizer = (*Backend)(nil)

// PartSize returns the most one upload buffers (the chunk size), for
// apply's memory budget.
func (b *Backend) PartSize() int64 { return b.chunkSize }

// Backoffs returns how many times requests were retried after a
// transient error or a rate limit.
func (b *Backend) Backoffs() int64 { return b.tr.backoffs.Load() }

// keyLocks serializes operations on one key (or folder path) within this
// process. Entries live only while held, so the map is bounded by the
// operations in flight.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// lock locks k and returns its unlock.
func (l *keyLocks) lock(k string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*keyLock{}
	}
	e := l.m[k]
	if e == nil {
		e = &keyLock{}
		l.m[k] = e
	}
	e.refs++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(l.m, k)
		}
		l.mu.Unlock()
	}
}
