package local

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"syncer/backends"
)

// Options configures a local backend.
type Options struct {
	Name  string // the config name, used in String()
	Path  string // absolute root folder; need not exist yet
	Fsync bool   // fsync each file, and its folder after the rename, before Put returns
	// Logger gets a line for each entry List skips (symlinks, special files,
	// names that cannot be keys); nil discards them.
	Logger *slog.Logger
}

var _ backends.Options = (*Options)(nil)

// Attrs lists the attributes of a config's local block.
func (o *Options) Attrs() []backends.Attr {
	return []backends.Attr{
		{Name: "path", Kind: backends.AttrPath, Ptr: &o.Path, Required: true},
		{Name: "fsync", Kind: backends.AttrBool, Ptr: &o.Fsync},
	}
}

// Validate checks that Path is set and absolute, and cleans it.
func (o *Options) Validate() error {
	switch {
	case o.Path == "":
		return &backends.AttrError{Attr: "path", Summary: "Invalid path value", Detail: "The local backend's path must not be empty."}
	case !filepath.IsAbs(o.Path):
		return backends.Invalid("path", "path %q is not absolute.", o.Path)
	}
	o.Path = filepath.Clean(o.Path)
	return nil
}

// Place is the filesystem and the root with its symlinks resolved, so
// that two spellings of one folder are one place.
func (o *Options) Place() (space, path string) {
	return "local", filepath.ToSlash(RealPath(o.Path))
}

// String describes the options.
func (o Options) String() string {
	return fmt.Sprintf("local.Options{Name:%q Path:%q Fsync:%v}", o.Name, o.Path, o.Fsync)
}

// RealPath resolves the symlinks of the longest existing ancestor of p,
// so that two spellings of one folder compare equal; the rest is kept as
// it is.
func RealPath(p string) string {
	p = filepath.Clean(p)
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
