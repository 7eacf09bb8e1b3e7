package config

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
)

// Google Drive limits and defaults, as the gdrive backend applies them.
const (
	// GDriveChunkGranularity: resumable chunks are multiples of 256 KiB.
	GDriveChunkGranularity = 256 << 10
	GDriveDefaultChunkSize = 8 << 20
	// GDriveMaxChunkSize bounds the per-upload buffer.
	GDriveMaxChunkSize = 1 << 30
)

// Delete modes of a gdrive backend.
const (
	GDriveDeleteTrash     = "trash"     // files.update trashed=true (recoverable for 30 days)
	GDriveDeletePermanent = "permanent" // files.delete
)

// gdriveExportChoices lists, per kind of Google file, the export formats
// Drive offers (as file extensions); the first is the default.
var gdriveExportChoices = map[string][]string{
	"document":     {"docx", "odt", "rtf", "pdf", "txt", "html", "zip", "epub", "md"},
	"spreadsheet":  {"xlsx", "ods", "pdf", "zip", "csv", "tsv"},
	"presentation": {"pptx", "odp", "pdf", "txt", "jpg", "png", "svg"},
	"drawing":      {"svg", "pdf", "jpg", "png"},
}

// GDriveExportKinds are the kinds of Google files export_formats names.
var GDriveExportKinds = []string{"document", "spreadsheet", "presentation", "drawing"}

// GDriveBackend is a folder of Google Drive (My Drive or a shared drive).
// Empty strings mean "not set". It holds no secret: CredentialsFile is a
// path, read by the backend only.
type GDriveBackend struct {
	// FolderID is the root folder's id ("root" for My Drive's root); it
	// defaults to DriveID when a shared drive is given.
	FolderID string
	DriveID  string // shared drive id, or ""
	// CredentialsFile is the absolute path of a service-account or
	// authorized-user JSON file; "" uses application default credentials.
	CredentialsFile string
	Subject         string // user to impersonate (domain-wide delegation)
	// ExportFormats maps each kind of Google file (document, spreadsheet,
	// presentation, drawing) to the extension of its export format; every
	// kind is present (defaults docx, xlsx, pptx, svg).
	ExportFormats  map[string]string
	SkipGoogleDocs bool
	ChunkSize      int64  // bytes; multiple of 256 KiB, default 8 MiB
	DeleteMode     string // "trash" (default) or "permanent"
	Endpoint       string // API base URL for tests, e.g. "http://127.0.0.1:8080"; "" = Google
}

// gdriveSettings is what Config.Hash records of a gdrive backend.
type gdriveSettings struct {
	FolderID, DriveID, CredentialsFile, Subject string
	ExportFormats                               map[string]string
	SkipGoogleDocs                              bool
	ChunkSize                                   int64
	DeleteMode, Endpoint                        string
}

func gdriveHashSettings(b *Backend) any {
	g := b.GDrive
	if g == nil {
		return nil
	}
	return gdriveSettings{
		FolderID: g.FolderID, DriveID: g.DriveID, CredentialsFile: g.CredentialsFile, Subject: g.Subject,
		ExportFormats: g.ExportFormats, SkipGoogleDocs: g.SkipGoogleDocs, ChunkSize: g.ChunkSize,
		DeleteMode: g.DeleteMode, Endpoint: g.Endpoint,
	}
}

// gdrivePlace: the namespace is the endpoint (folder ids are unique across
// Drive), the path the root folder's id. Ids say nothing of nesting, so
// only two backends on the same folder are caught.
func gdrivePlace(b *Backend) (string, string, bool) {
	if b.GDrive == nil {
		return "", "", false
	}
	g := b.GDrive
	return "gdrive|" + strings.ToLower(g.Endpoint), "/" + g.FolderID, true
}

type gdriveSchema struct {
	FolderID        hcl.Expression `hcl:"folder_id,optional"`
	DriveID         hcl.Expression `hcl:"drive_id,optional"`
	CredentialsFile hcl.Expression `hcl:"credentials_file,optional"`
	Subject         hcl.Expression `hcl:"subject,optional"`
	ExportFormats   hcl.Expression `hcl:"export_formats,optional"`
	SkipGoogleDocs  hcl.Expression `hcl:"skip_google_docs,optional"`
	ChunkSize       hcl.Expression `hcl:"chunk_size,optional"`
	DeleteMode      hcl.Expression `hcl:"delete_mode,optional"`
	Endpoint        hcl.Expression `hcl:"endpoint,optional"`
}

// validDriveID reports whether s looks like a Drive id: letters, digits,
// '-' and '_'.
func validDriveID(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func decodeGDrive(d *decoder, b *Backend, body hcl.Body) {
	var s gdriveSchema
	diags := gohcl.DecodeBody(body, nil, &s)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	sd := &s3Decoder{d: d, ok: true} // the same small helpers serve here
	c := &GDriveBackend{}

	c.DriveID = sd.str(s.DriveID, "drive_id")
	if c.DriveID != "" && !validDriveID(c.DriveID) {
		sd.fail(s.DriveID, "Invalid drive_id", "drive_id must be a shared drive's id (letters, digits, '-' and '_'), as in its URL https://drive.google.com/drive/folders/<id>; got %q.", c.DriveID)
	}
	c.FolderID = sd.str(s.FolderID, "folder_id")
	switch {
	case c.FolderID == "" && c.DriveID != "":
		c.FolderID = c.DriveID
	case c.FolderID == "" && sd.ok:
		subject := s.FolderID.Range().Ptr()
		if missing(s.FolderID) {
			subject = b.DeclRange.Ptr()
		}
		d.errorf(subject, "Missing folder_id", `A gdrive backend needs folder_id: the id of the folder to sync (from its URL https://drive.google.com/drive/folders/<id>), or "root" for My Drive. With drive_id, it defaults to the shared drive's root.`)
		sd.ok = false
	case c.FolderID != "" && !validDriveID(c.FolderID):
		sd.fail(s.FolderID, "Invalid folder_id", `folder_id must be a folder's id (letters, digits, '-' and '_'), as in its URL https://drive.google.com/drive/folders/<id>, or "root"; got %q.`, c.FolderID)
	}

	if p := sd.str(s.CredentialsFile, "credentials_file"); p != "" {
		c.CredentialsFile = d.absPath(p)
	}
	c.Subject = sd.str(s.Subject, "subject")
	if c.Subject != "" && (!strings.Contains(c.Subject, "@") || strings.ContainsAny(c.Subject, " \t\n")) {
		sd.fail(s.Subject, "Invalid subject", "subject must be the email address of the user to impersonate (domain-wide delegation); got %q.", c.Subject)
	}

	c.ExportFormats = map[string]string{}
	for _, kind := range GDriveExportKinds {
		c.ExportFormats[kind] = gdriveExportChoices[kind][0]
	}
	if v, ok := d.eval(s.ExportFormats, cty.Map(cty.String), "export_formats"); !ok {
		sd.ok = false
	} else if !v.IsNull() {
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			kind := k.AsString()
			choices, known := gdriveExportChoices[kind]
			if !known {
				sd.fail(s.ExportFormats, "Invalid export_formats", "export_formats has an unknown kind %q; the kinds are %s.", kind, strings.Join(GDriveExportKinds, ", "))
				continue
			}
			if e.IsNull() {
				sd.fail(s.ExportFormats, "Invalid export_formats", "export_formats.%s must not be null.", kind)
				continue
			}
			ext := strings.TrimPrefix(strings.ToLower(e.AsString()), ".")
			if ext == "jpeg" {
				ext = "jpg"
			}
			if !slices.Contains(choices, ext) {
				sd.fail(s.ExportFormats, "Invalid export_formats", "Drive cannot export a %s as %q; choose one of %s.", kind, e.AsString(), strings.Join(choices, ", "))
				continue
			}
			c.ExportFormats[kind] = ext
		}
	}
	c.SkipGoogleDocs = sd.boolean(s.SkipGoogleDocs, "skip_google_docs")

	c.ChunkSize = sd.size(s.ChunkSize, "chunk_size", GDriveDefaultChunkSize)
	if c.ChunkSize < GDriveChunkGranularity || c.ChunkSize > GDriveMaxChunkSize || c.ChunkSize%GDriveChunkGranularity != 0 {
		sd.fail(s.ChunkSize, "Invalid chunk_size", "chunk_size must be a multiple of 256KiB between 256KiB and 1GiB (Drive's resumable uploads need 256KiB multiples; each upload buffers one chunk); got %d bytes.", c.ChunkSize)
	}

	c.DeleteMode = sd.str(s.DeleteMode, "delete_mode")
	switch c.DeleteMode {
	case "":
		c.DeleteMode = GDriveDeleteTrash
	case GDriveDeleteTrash, GDriveDeletePermanent:
	default:
		sd.fail(s.DeleteMode, "Invalid delete_mode", `delete_mode must be "trash" or "permanent"; got %q.`, c.DeleteMode)
	}

	c.Endpoint = sd.str(s.Endpoint, "endpoint")
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			sd.fail(s.Endpoint, "Invalid endpoint", `endpoint must be an http:// or https:// base URL such as "http://127.0.0.1:8080" (the Drive API at <endpoint>/drive/v3/), without user, query or fragment.`)
		}
		// Accept the API's own URL too (Google documents
		// https://www.googleapis.com/drive/v3/): keep the base.
		c.Endpoint = strings.TrimSuffix(strings.TrimRight(c.Endpoint, "/"), "/drive/v3")
	}

	if sd.ok {
		b.GDrive = c
	}
}

// decodeRequestsPerSecond evaluates limits.requests_per_second: a
// positive number of API requests per second for each remote backend
// (0 or absent: unlimited). ok is false after a diagnostic.
func (d *decoder) decodeRequestsPerSecond(expr hcl.Expression) (rps float64, ok bool) {
	v, ok := d.eval(expr, cty.Number, "requests_per_second")
	if !ok || v.IsNull() {
		return 0, ok
	}
	f, _ := v.AsBigFloat().Float64()
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e6 {
		d.errorf(expr.Range().Ptr(), "Invalid requests_per_second value",
			"requests_per_second must be a number between 0 (unlimited) and 1000000; got %s.", showValue(v))
		return 0, false
	}
	return f, true
}

// describe a gdrive backend for messages.
func (g GDriveBackend) String() string {
	return fmt.Sprintf("GDriveBackend{FolderID:%q DriveID:%q CredentialsFile:%q Subject:%q ChunkSize:%d DeleteMode:%q Endpoint:%q}",
		g.FolderID, g.DriveID, g.CredentialsFile, g.Subject, g.ChunkSize, g.DeleteMode, g.Endpoint)
}
