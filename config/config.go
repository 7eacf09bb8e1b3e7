// Package config reads a syncer configuration file (HCL), evaluates its
// variables and functions, validates it and reports problems as HCL
// diagnostics with file, line and source range.
package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"syncer/backends"
)

// Config is a decoded, validated configuration.
type Config struct {
	Path string // absolute path of the config file
	Dir  string // its folder
	// Hash is the hex SHA-256 of everything that decides a plan's actions:
	// the state path, the backends (type, name, settings) and the syncs.
	// Limits are not part of it. It is deterministic.
	Hash     string
	State    State
	Limits   Limits
	Backends []*Backend           // in declaration order
	Syncs    []*Sync              // in declaration order
	Files    map[string]*hcl.File // the parser's files, for diagnostics
}

// State says where the SQLite state lives: a local file (Path), or an
// object in an s3 backend (Backend and Key), worked on in a local copy.
type State struct {
	Path string // absolute; "" when the state is remote

	Backend    *Backend      // remote: the s3 backend holding the state; nil when local
	Key        string        // remote: the state object's key under Backend's prefix
	Checkpoint time.Duration // remote: upload the state at least this often during apply
	LockTTL    time.Duration // remote: a lock not renewed for this long may be taken over
}

// Remote reports whether the state lives in a backend.
func (s State) Remote() bool { return s.Backend != nil }

// Defaults of the remote state block.
const (
	DefaultCheckpoint = 2 * time.Minute
	DefaultLockTTL    = 2 * time.Minute
	MinLockTTL        = 2 * time.Second // the store's clock counts whole seconds
)

// Where names the state for messages: its path, or backend and key.
func (s State) Where() string {
	if s.Remote() {
		return fmt.Sprintf("%s key %q", s.Backend.Addr(), s.Key)
	}
	return s.Path
}

// Limits bounds a run. Zero values mean "not set" as documented per field.
type Limits struct {
	Workers    int           // 0 = auto
	MaxWorkers int           // default 2
	Memory     int64         // bytes; 0 = unset
	Bandwidth  int64         // bytes per second; 0 = unlimited
	MaxDelete  int           // -1 = no cap
	Duration   time.Duration // 0 = none
	// RequestsPerSecond paces API calls per remote account (S3, Drive);
	// 0 = unlimited.
	RequestsPerSecond float64
	// MaxTransfer stops apply from taking new objects once this many bytes
	// were written; 0 = no limit.
	MaxTransfer int64
}

// Backend is one `backend "TYPE" "NAME"` block.
type Backend struct {
	Type, Name string
	DeclRange  hcl.Range
	// Options are the type's settings (e.g. *s3.Options), validated; nil
	// when the block has errors.
	Options backends.Options
}

// Addr returns the backend's reference address, e.g. "backend.local.src".
func (b *Backend) Addr() string { return "backend." + b.Type + "." + b.Name }

// DeletePolicy says which destination keys a sync may delete.
type DeletePolicy string

const (
	DeleteNone    DeletePolicy = "none"    // never delete
	DeleteManaged DeletePolicy = "managed" // only keys syncer wrote that left the source
	DeleteAll     DeletePolicy = "all"     // mirror: anything not in the source
)

// CompareMode says how a sync decides that a key changed.
type CompareMode string

const (
	CompareSize     CompareMode = "size"
	CompareModTime  CompareMode = "modtime"
	CompareChecksum CompareMode = "checksum"
)

// Sync is one `sync "NAME"` block.
type Sync struct {
	Name      string
	DeclRange hcl.Range
	From, To  *Backend
	Prefix    string   // key prefix on the source side; keys keep it
	Include   []string // doublestar globs over the whole key; empty = all
	Exclude   []string
	Delete    DeletePolicy
	Compare   CompareMode
	// Metadata is what the sync sets or drops on what it writes; nil: none.
	// Not part of Hash: a plan does not diff metadata.
	Metadata *backends.MetaEdit
	Filters  // min/max size and age, files_from (filters.go)
	// DeleteExcluded makes a deleting policy delete, at the destination,
	// what the filters leave out too.
	DeleteExcluded bool
	// Immutable: objects at the destination are never overwritten or
	// deleted; a changed source fails its object.
	Immutable bool
	// Backup, when set, receives each destination object's current version
	// before apply overwrites or deletes it; nil: none.
	Backup *Backup
}

// Match reports whether key passes the sync's prefix, include and exclude
// rules: it must start with Prefix; if Include is non-empty it must match one
// include glob; it must match no exclude glob. Globs match the whole key.
func (s *Sync) Match(key string) bool {
	if !strings.HasPrefix(key, s.Prefix) {
		return false
	}
	if len(s.Include) > 0 {
		ok := false
		for _, p := range s.Include {
			if doublestar.MatchUnvalidated(p, key) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, p := range s.Exclude {
		if doublestar.MatchUnvalidated(p, key) {
			return false
		}
	}
	return true
}

// LoadOptions carries the inputs that come from outside the file.
type LoadOptions struct {
	Vars map[string]string // -var NAME=VALUE, as if given before VarArgs
	// VarArgs are -var and -var-file in command-line order (later wins).
	VarArgs []VarArg
	// LookupEnv reads the environment for env() and SYNCER_VAR_*;
	// nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// VarEnvPrefix prefixes the environment variables that set config variables.
const VarEnvPrefix = "SYNCER_VAR_"

// MaxFileSize bounds a config file, and a file read by file().
const MaxFileSize = 4 << 20

// Load reads and decodes the config file at path. Diagnostics carry file,
// line and range. The Config is nil when diags has errors.
func Load(path string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	src, err := readFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read configuration",
			Detail:   err.Error(),
		}}
	}
	return Parse(path, src, opts)
}

// readFile reads a regular file of at most MaxFileSize bytes. It refuses
// anything else before reading (a device such as /dev/zero never ends; a
// FIFO would block the open) and stops one byte past the limit, so a file
// that grows after the Stat is refused too.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkFileInfo(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkFileInfo(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes (4 MiB), the most syncer reads", path, MaxFileSize)
	}
	return b, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

func checkFileInfo(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file but %s; syncer reads only regular files", path, fileKind(fi.Mode()))
	}
	if fi.Size() > MaxFileSize {
		return fmt.Errorf("%s is %d bytes, larger than %d bytes (4 MiB), the most syncer reads", path, fi.Size(), MaxFileSize)
	}
	return nil
}

// Parse is Load on in-memory source: filename names the file in diagnostics
// and its folder anchors relative paths.
func Parse(filename string, src []byte, opts LoadOptions) (*Config, hcl.Diagnostics) {
	abs, err := filepath.Abs(filename)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid configuration path",
			Detail:   err.Error(),
		}}
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	d := newDecoder(abs, opts)
	cfg := d.decode(filename, src)
	diags := scrub(d.diags)
	if diags.HasErrors() {
		return nil, diags
	}
	cfg.Hash = hashConfig(cfg)
	return cfg, diags
}

// WriteDiagnostics prints diags like Terraform: summary, "on FILE line N",
// and a source snippet, wrapped at 78 columns, without colour. Files missing
// from files (e.g. because Load returned a nil Config) are read from disk.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) error {
	all := make(map[string]*hcl.File, len(files))
	for name, f := range files {
		all[name] = f
	}
	parser := hclparse.NewParser()
	for _, diag := range diags {
		if diag.Subject == nil || diag.Subject.Filename == "" {
			continue
		}
		name := diag.Subject.Filename
		if _, ok := all[name]; ok {
			continue
		}
		all[name] = nil // print without a snippet unless it parses below
		if src, err := readFile(name); err == nil {
			// Parsed (errors or not) so the writer can name the enclosing block.
			if f, _ := parser.ParseHCL(src, name); f != nil {
				all[name] = f
			}
		}
	}
	for name, f := range all {
		if f == nil {
			delete(all, name)
		}
	}
	return hcl.NewDiagnosticTextWriter(w, all, 78, false).WriteDiagnostics(scrub(diags))
}

// scrub drops the expression and evaluation context from diagnostics so
// that printing them never shows variable values (which may be secrets).
func scrub(diags hcl.Diagnostics) hcl.Diagnostics {
	if len(diags) == 0 {
		return nil
	}
	out := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		c.Expression = nil
		c.EvalContext = nil
		out[i] = &c
	}
	return out
}
