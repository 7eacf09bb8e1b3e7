package gdrive

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"syncer/backends"
)

// ExportChoices lists, per kind of Google file, the export formats Drive
// offers (as file extensions); the first is the default.
var ExportChoices = map[string][]string{
	"document":     {"docx", "odt", "rtf", "pdf", "txt", "html", "zip", "epub", "md"},
	"spreadsheet":  {"xlsx", "ods", "pdf", "zip", "csv", "tsv"},
	"presentation": {"pptx", "odp", "pdf", "txt", "jpg", "png", "svg"},
	"drawing":      {"svg", "pdf", "jpg", "png"},
}

// exportKinds are ExportChoices' kinds, in the order messages list them.
var exportKinds = []string{"document", "spreadsheet", "presentation", "drawing"}

// Options configures a Drive backend. The fields mirror the config's
// gdrive block; zero values take the documented defaults.
type Options struct {
	Name string // the config name, used in String()
	// FolderID is the root folder: an id, or "root" for My Drive's root.
	// Defaults to DriveID.
	FolderID string
	DriveID  string // shared drive id; "" for My Drive
	// CredentialsFile is a service-account or authorized-user JSON file.
	// "" uses application default credentials (GOOGLE_APPLICATION_CREDENTIALS,
	// gcloud's file, the metadata server), unless Endpoint is set, in which
	// case requests are not authenticated (a test server).
	CredentialsFile string
	Subject         string // user to impersonate with a service account (domain-wide delegation)
	// ExportFormats maps document, spreadsheet, presentation and drawing to
	// an export extension (docx, xlsx, pptx, svg by default; see the
	// config's list); missing kinds take the default.
	ExportFormats  map[string]string
	SkipGoogleDocs bool
	// ChunkSize is the resumable upload chunk (default 8 MiB, a multiple
	// of 256 KiB); each upload buffers at most one chunk.
	ChunkSize  int64
	DeleteMode string // "trash" (default) or "permanent"
	// AcknowledgeAbuse downloads files Drive flags as malware or spam
	// (acknowledgeAbuse=true; Drive allows it to the owner or a shared
	// drive's organizer); without it they fail with an explanation.
	AcknowledgeAbuse bool
	// IdleTimeout ends a request whose connection moves no byte for that
	// long (a body stalled mid-transfer, or no answer); it is then retried
	// like a dropped connection, a download from where it broke.
	// Default DefaultIdleTimeout; IdleTimeoutText is the config's
	// idle_timeout ("5m", "90s"), parsed by Validate.
	IdleTimeout     time.Duration
	IdleTimeoutText string
	// Endpoint is the API's base URL for tests, e.g. "http://127.0.0.1:8080"
	// (the API is then at Endpoint+"/drive/v3/"); "" is Google.
	Endpoint string
	// RequestsPerSecond paces every request; backends with the same
	// credentials and endpoint share one pacer of Pacers (nil: a pacer
	// of its own). 0 = unlimited.
	RequestsPerSecond float64
	Pacers            *Pacers
	// Requests hears every request sent, retries included (metrics);
	// nil: none.
	Requests backends.RequestHook
	// Retries hears every retry (metrics); nil: none.
	Retries backends.RetryHook
	// Logger receives backoff and skip notes; nil discards them.
	Logger *slog.Logger

	// Tuning not exposed in the config (zero: default).
	HTTPClient      *http.Client  // base client whose Transport carries requests; nil: a new transport
	MaxAttempts     int           // per request, the first included (DefaultMaxAttempts)
	RetryBaseDelay  time.Duration // first backoff (DefaultRetryBaseDelay)
	RetryMaxDelay   time.Duration // longest backoff (DefaultRetryMaxDelay)
	ResponseTimeout time.Duration // wait for response headers (DefaultResponseTimeout)
	ListPageSize    int           // items per files.list page (DefaultListPageSize, at most 1000)
	FolderCacheSize int           // folder path -> id entries kept (DefaultFolderCacheSize)
}

var _ backends.Options = (*Options)(nil)

// Attrs lists the attributes of a config's gdrive block.
func (o *Options) Attrs() []backends.Attr {
	return []backends.Attr{
		{Name: "folder_id", Kind: backends.AttrString, Ptr: &o.FolderID},
		{Name: "drive_id", Kind: backends.AttrString, Ptr: &o.DriveID},
		{Name: "credentials_file", Kind: backends.AttrPath, Ptr: &o.CredentialsFile},
		{Name: "subject", Kind: backends.AttrString, Ptr: &o.Subject},
		{Name: "export_formats", Kind: backends.AttrStringMap, Ptr: &o.ExportFormats},
		{Name: "skip_google_docs", Kind: backends.AttrBool, Ptr: &o.SkipGoogleDocs},
		{Name: "chunk_size", Kind: backends.AttrSize, Ptr: &o.ChunkSize},
		{Name: "delete_mode", Kind: backends.AttrString, Ptr: &o.DeleteMode},
		{Name: "acknowledge_abuse", Kind: backends.AttrBool, Ptr: &o.AcknowledgeAbuse},
		{Name: "idle_timeout", Kind: backends.AttrString, Ptr: &o.IdleTimeoutText, Tuning: true},
		{Name: "endpoint", Kind: backends.AttrString, Ptr: &o.Endpoint},
	}
}

// Validate fills in defaults (folder_id from drive_id, every export kind,
// chunk size, delete mode), normalizes export extensions and the endpoint
// (the API's own URL, ending in /drive/v3, is taken as its base) and
// checks every setting.
func (o *Options) Validate() error {
	var p backends.Problems
	if o.DriveID != "" && !validID(o.DriveID) {
		p.Add(backends.Invalid("drive_id", "drive_id must be a shared drive's id (letters, digits, '-' and '_'), as in its URL https://drive.google.com/drive/folders/<id>; got %q.", o.DriveID))
	}
	switch {
	case o.FolderID == "" && o.DriveID != "":
		o.FolderID = o.DriveID
	case o.FolderID == "":
		p.Add(&backends.AttrError{Attr: "folder_id", Summary: "Missing folder_id", Detail: `A gdrive backend needs folder_id: the id of the folder to sync (from its URL https://drive.google.com/drive/folders/<id>), or "root" for My Drive. With drive_id, it defaults to the shared drive's root.`})
	case !validID(o.FolderID):
		p.Add(backends.Invalid("folder_id", `folder_id must be a folder's id (letters, digits, '-' and '_'), as in its URL https://drive.google.com/drive/folders/<id>, or "root"; got %q.`, o.FolderID))
	}
	if o.Subject != "" && (!strings.Contains(o.Subject, "@") || strings.ContainsAny(o.Subject, " \t\n")) {
		p.Add(backends.Invalid("subject", "subject must be the email address of the user to impersonate (domain-wide delegation); got %q.", o.Subject))
	}

	formats := map[string]string{}
	for _, kind := range slices.Sorted(maps.Keys(o.ExportFormats)) {
		choices, known := ExportChoices[kind]
		if !known {
			p.Add(backends.Invalid("export_formats", "export_formats has an unknown kind %q; the kinds are %s.", kind, strings.Join(exportKinds, ", ")))
			continue
		}
		ext := strings.TrimPrefix(strings.ToLower(o.ExportFormats[kind]), ".")
		if ext == "jpeg" {
			ext = "jpg"
		}
		if !slices.Contains(choices, ext) {
			p.Add(backends.Invalid("export_formats", "Drive cannot export a %s as %q; choose one of %s.", kind, o.ExportFormats[kind], strings.Join(choices, ", ")))
			continue
		}
		formats[kind] = ext
	}
	for _, kind := range exportKinds {
		if formats[kind] == "" {
			formats[kind] = ExportChoices[kind][0]
		}
	}
	o.ExportFormats = formats

	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.ChunkSize < ChunkGranularity || o.ChunkSize > MaxChunkSize || o.ChunkSize%ChunkGranularity != 0 {
		p.Add(backends.Invalid("chunk_size", "chunk_size must be a multiple of 256KiB between 256KiB and 1GiB (Drive's resumable uploads need 256KiB multiples; each upload buffers one chunk); got %d bytes.", o.ChunkSize))
	}
	switch o.DeleteMode {
	case "":
		o.DeleteMode = DeleteTrash
	case DeleteTrash, DeletePermanent:
	default:
		p.Add(backends.Invalid("delete_mode", `delete_mode must be "trash" or "permanent"; got %q.`, o.DeleteMode))
	}
	if o.Endpoint != "" {
		ep, err := backends.ParseEndpoint(o.Endpoint)
		if err != nil {
			p.Add(backends.Invalid("endpoint", `endpoint must be an http:// or https:// base URL such as "http://127.0.0.1:8080" (the Drive API at <endpoint>/drive/v3/), without user, query or fragment.`))
		}
		// Accept the API's own URL too (Google documents
		// https://www.googleapis.com/drive/v3/): keep the base.
		o.Endpoint = strings.TrimSuffix(ep, "/drive/v3")
	}
	if o.IdleTimeoutText != "" {
		if d, err := backends.ParseIdleTimeout(o.IdleTimeoutText); err != nil {
			p.Add(err)
		} else {
			o.IdleTimeout = d
		}
	}
	if o.IdleTimeout < 0 {
		p.Add(backends.Invalid("idle_timeout", "idle_timeout must not be negative."))
	}
	if o.RequestsPerSecond < 0 {
		p.Add(backends.Invalid("requests_per_second", "requests_per_second must not be negative."))
	}
	return p.Err()
}

// validID reports whether s looks like a Drive id: letters, digits, '-'
// and '_' (or the alias "root").
func validID(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')
	})
}

// Place: the namespace is the endpoint (folder ids are unique across
// Drive), the path the root folder's id. Ids say nothing of nesting, so
// only two backends on the same folder are found to overlap.
func (o *Options) Place() (space, path string) {
	return "gdrive|" + strings.ToLower(o.Endpoint), "/" + o.FolderID
}

// String describes the options; they hold no secret (CredentialsFile is a
// path).
func (o Options) String() string {
	return fmt.Sprintf("gdrive.Options{Name:%q FolderID:%q DriveID:%q CredentialsFile:%q Subject:%q ChunkSize:%d DeleteMode:%q Endpoint:%q}",
		o.Name, o.FolderID, o.DriveID, o.CredentialsFile, o.Subject, o.ChunkSize, o.DeleteMode, o.Endpoint)
}
