package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"syncer/backends/gdrive"
)

const gdriveExample = `
backend "gdrive" "team" {
  folder_id        = "1AbCdEf_-9"
  drive_id         = "0AxYz"
  credentials_file = env("GOOGLE_APPLICATION_CREDENTIALS")
  subject          = "ops@example.com"
  export_formats   = { document = "odt", spreadsheet = "CSV", presentation = ".pdf", drawing = "jpeg" }
  skip_google_docs = true
  chunk_size       = "16MiB"
  delete_mode      = "permanent"
  endpoint         = "http://127.0.0.1:8080/"
}

backend "gdrive" "mine" {
  folder_id = "root"
}

backend "local" "dst" { path = "out" }

sync "drive" {
  from = backend.gdrive.team
  to   = backend.local.dst
}
`

func TestGDriveBackend(t *testing.T) {
	dir := t.TempDir()
	cfg := mustParse(t, dir, gdriveExample, LoadOptions{LookupEnv: envMap(map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "keys/sa.json"})})
	team, mine := cfg.Backends[0], cfg.Backends[1]
	if team.Addr() != "backend.gdrive.team" || team.Type != "gdrive" {
		t.Errorf("team = %+v", team)
	}
	want := gdrive.Options{
		FolderID: "1AbCdEf_-9", DriveID: "0AxYz", CredentialsFile: filepath.Join(dir, "keys", "sa.json"),
		Subject:        "ops@example.com",
		ExportFormats:  map[string]string{"document": "odt", "spreadsheet": "csv", "presentation": "pdf", "drawing": "jpg"},
		SkipGoogleDocs: true, ChunkSize: 16 << 20, DeleteMode: "permanent", Endpoint: "http://127.0.0.1:8080",
	}
	if !reflect.DeepEqual(*team.Options.(*gdrive.Options), want) {
		t.Errorf("team.GDrive =\n%+v\nwant\n%+v", *team.Options.(*gdrive.Options), want)
	}
	wantMine := gdrive.Options{
		FolderID:      "root",
		ExportFormats: map[string]string{"document": "docx", "spreadsheet": "xlsx", "presentation": "pptx", "drawing": "svg"},
		ChunkSize:     8 << 20, DeleteMode: "trash",
	}
	if !reflect.DeepEqual(*mine.Options.(*gdrive.Options), wantMine) {
		t.Errorf("mine.GDrive =\n%+v\nwant\n%+v", *mine.Options.(*gdrive.Options), wantMine)
	}

	// A shared drive without folder_id syncs its root; a partial
	// export_formats keeps the other defaults.
	cfg = mustParse(t, dir, `backend "gdrive" "x" {
  drive_id       = "0AxYz"
  export_formats = { document = "pdf" }
}`, LoadOptions{})
	g := cfg.Backends[0].Options.(*gdrive.Options)
	if g.FolderID != "0AxYz" || g.ExportFormats["document"] != "pdf" || g.ExportFormats["spreadsheet"] != "xlsx" {
		t.Errorf("shared drive defaults: %+v", g)
	}
}

func TestGDriveBadConfigs(t *testing.T) {
	for _, c := range []struct {
		name, body, want string
	}{
		{"no folder", ``, "Missing folder_id"},
		{"bad folder", `folder_id = "a/b"`, "Invalid folder_id"},
		{"bad drive", `drive_id = "x y"`, "Invalid drive_id"},
		{"bad subject", `
  folder_id = "root"
  subject   = "ops"`, "Invalid subject"},
		{"unknown kind", `
  folder_id      = "root"
  export_formats = { form = "pdf" }`, "unknown kind \"form\""},
		{"bad format", `
  folder_id      = "root"
  export_formats = { spreadsheet = "docx" }`, "cannot export a spreadsheet as \"docx\""},
		{"not a map", `
  folder_id      = "root"
  export_formats = "docx"`, "Incorrect attribute value type"},
		{"NUL in a map value", `
  folder_id      = "root"
  export_formats = { document = "pdf\u0000" }`, `The value of "export_formats" must not contain a NUL byte`},
		{"map of lists", `
  folder_id      = "root"
  export_formats = { document = ["pdf"] }`, "Incorrect attribute value type"},
		{"NUL in folder", `folder_id = "ro\u0000ot"`, "must not contain a NUL byte"},
		{"small chunk", `
  folder_id  = "root"
  chunk_size = "100KiB"`, "Invalid chunk_size"},
		{"odd chunk", `
  folder_id  = "root"
  chunk_size = "1000KiB"`, "multiple of 256KiB"},
		{"bad size", `
  folder_id  = "root"
  chunk_size = "lots"`, "Invalid chunk_size"},
		{"bad delete", `
  folder_id   = "root"
  delete_mode = "shred"`, "Invalid delete_mode"},
		{"bad endpoint", `
  folder_id = "root"
  endpoint  = "ftp://x"`, "Invalid endpoint"},
		{"endpoint with user", `
  folder_id = "root"
  endpoint  = "http://u:p@127.0.0.1"`, "Invalid endpoint"},
		{"unknown attribute", `
  folder_id = "root"
  bucket    = "x"`, "Unsupported argument"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := parseIn(t, t.TempDir(), "backend \"gdrive\" \"g\" {"+c.body+"\n}\n", LoadOptions{})
			if !diags.HasErrors() {
				t.Fatalf("no error")
			}
			if got := diagText(diags); !strings.Contains(got, c.want) {
				t.Errorf("diagnostics %q; want %q", got, c.want)
			}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a source range: %s", d.Summary)
				}
			}
		})
	}
}

// TestGDriveHash: every setting changes the hash; the credentials file's
// path does, its content is never read.
func TestGDriveHash(t *testing.T) {
	dir := t.TempDir()
	base := `backend "gdrive" "g" {
  folder_id = "root"
  %s
}`
	hash := func(extra string) string {
		return mustParse(t, dir, strings.Replace(base, "%s", extra, 1), LoadOptions{}).Hash
	}
	h0 := hash("")
	seen := map[string]string{h0: "(none)"}
	for _, extra := range []string{
		`drive_id = "0AxYz"`, `credentials_file = "sa.json"`, `subject = "a@b.c"`,
		`export_formats = { document = "pdf" }`, `skip_google_docs = true`, `chunk_size = "16MiB"`,
		`delete_mode = "permanent"`, `endpoint = "http://127.0.0.1:1"`,
	} {
		h := hash(extra)
		if prev, dup := seen[h]; dup {
			t.Errorf("%s gives the same hash as %s", extra, prev)
		}
		seen[h] = extra
	}
	if hash("") != h0 || hash(`chunk_size = "8MiB"`) != h0 || hash(`delete_mode = "trash"`) != h0 {
		t.Errorf("defaults spelled out change the hash")
	}
}

func TestGDrivePlace(t *testing.T) {
	_, diags := parseIn(t, t.TempDir(), `
backend "gdrive" "a" { folder_id = "F1" }
backend "gdrive" "b" { folder_id = "F1" }
sync "s" {
  from = backend.gdrive.a
  to   = backend.gdrive.b
}`, LoadOptions{})
	if !diags.HasErrors() {
		t.Errorf("a sync from a Drive folder into itself was accepted")
	}
	mustParse(t, t.TempDir(), `
backend "gdrive" "a" { folder_id = "F1" }
backend "gdrive" "b" { folder_id = "F2" }
sync "s" {
  from = backend.gdrive.a
  to   = backend.gdrive.b
}`, LoadOptions{})
}

func TestRequestsPerSecond(t *testing.T) {
	for _, c := range []struct {
		src  string
		want float64
		err  string
	}{
		{"10", 10, ""},
		{"0.5", 0.5, ""},
		{"0", 0, ""},
		{"null", 0, ""},
		{"-1", 0, "between 0 (unlimited) and 1000000"},
		{"1e9", 0, "between 0"},
		{`"fast"`, 0, "Incorrect attribute value type"},
	} {
		expr, diags := hclsyntax.ParseExpression([]byte(c.src), "x.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		d := newDecoder(filepath.Join(t.TempDir(), "x.hcl"), LoadOptions{LookupEnv: envMap(nil)})
		d.ctx = d.funcCtx
		got, ok := d.decodeRequestsPerSecond(expr)
		if c.err == "" {
			if !ok || got != c.want || d.diags.HasErrors() {
				t.Errorf("%s: %v, %v, %v; want %v", c.src, got, ok, d.diags, c.want)
			}
			continue
		}
		if ok || !strings.Contains(diagText(d.diags), c.err) {
			t.Errorf("%s: ok=%v diags %q; want %q", c.src, ok, diagText(d.diags), c.err)
		}
	}
}
