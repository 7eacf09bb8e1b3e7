package config

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
)

// backendKind describes one backend type. Adding a type means one settings
// struct, one field on Backend and one entry here.
type backendKind struct {
	// decode decodes a block's body and sets b's type-specific field; it
	// leaves that field nil on error (after recording diagnostics).
	decode func(d *decoder, b *Backend, body hcl.Body)
	// settings returns the type-specific settings, hashed into Config.Hash.
	settings func(b *Backend) any
	// place returns where the backend stores objects: a namespace (e.g. a
	// filesystem, a bucket) and a slash path within it. Two backends with the
	// same namespace whose paths nest must not be synced into each other.
	place func(b *Backend) (space, path string, ok bool)
}

var backendKinds = map[string]backendKind{
	"local": {
		decode:   decodeLocal,
		settings: func(b *Backend) any { return b.Local },
		place: func(b *Backend) (string, string, bool) {
			if b.Local == nil {
				return "", "", false
			}
			// Symlinks resolved: two spellings of one folder are one place.
			return "local", filepath.ToSlash(realPath(b.Local.Path)), true
		},
	},
	"s3": {
		decode:   decodeS3,
		settings: s3HashSettings,
		place:    s3Place,
	},
	"gdrive": {decode: decodeGDrive, settings: gdriveHashSettings, place: gdrivePlace},
}

func knownBackendTypes() string {
	var names []string
	for name := range backendKinds {
		names = append(names, `"`+name+`"`)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func place(b *Backend) (space, path string, ok bool) {
	kind, known := backendKinds[b.Type]
	if !known {
		return "", "", false
	}
	return kind.place(b)
}

type localSchema struct {
	Path  hcl.Expression `hcl:"path"`
	Fsync hcl.Expression `hcl:"fsync,optional"`
}

func decodeLocal(d *decoder, b *Backend, body hcl.Body) {
	var s localSchema
	diags := gohcl.DecodeBody(body, nil, &s)
	d.diags = append(d.diags, diags...)
	p, ok := d.reqString(s.Path, "path")
	if ok && p == "" {
		d.errorf(s.Path.Range().Ptr(), "Invalid path value", "The local backend's path must not be empty.")
		ok = false
	}
	fsync, fok := d.eval(s.Fsync, cty.Bool, "fsync")
	if !ok || !fok || diags.HasErrors() {
		return
	}
	b.Local = &LocalBackend{Path: d.absPath(p), Fsync: !fsync.IsNull() && fsync.True()}
}
